"""The words of the arms' comparison and the return to work (bot/outcomes/trial.py), in Danish and English;
merged into the report's `TEXTS` (bot/outcomes/labels.py)."""

from __future__ import annotations

TRIAL_TEXTS: dict[str, tuple[str, str]] = {
    "s.work": ("Tilbage i arbejde (betalingsmål 1)", "Return to work (payment target 1)"),
    "s.trial": ("Indsats mod kontrolgruppe (lodtrækning)", "Programme against control (randomised)"),
    "arm.programme": ("indsatsgruppen", "the programme arm"),
    "arm.control": ("kontrolgruppen", "the control arm"),
    "arm.unallocated": ("deltagere uden lodtrækning", "participants not randomised"),
    "ret.partly": ("helt eller delvist raskmeldt", "partly or fully back"),
    "ret.fully": ("fuldt raskmeldt", "fully back"),
    "f.arm.allocated": ("Tildelt {arm}", "Allocated to {arm}"),
    "f.arm.reached": ("{arm}: nået 6 måneder", "{arm}: reached 6 months"),
    "f.arm.answered": ("{arm}: svaret ved 6 måneder", "{arm}: answered at 6 months"),
    "f.arm.missing": ("{arm}: mangler ved 6 måneder", "{arm}: missing at 6 months"),
    "f.ret.count": ("{arm}: {kind} inden 6 måneder (antal)", "{arm}: {kind} within 6 months (count)"),
    "f.ret.median": ("{arm}: dage fra start til {kind}, median af dem der kom tilbage",
                     "{arm}: days from start until {kind}, median of those who returned"),
    "f.ret.mean": ("{arm}: dage fra start til {kind}, gennemsnit (højst 6 måneder)",
                   "{arm}: days from start until {kind}, mean (at most 6 months)"),
    "f.ci.low": ("{figure}, 95 %-konfidensinterval, nedre", "{figure}, 95 % confidence interval, lower"),
    "f.ci.high": ("{figure}, 95 %-konfidensinterval, øvre", "{figure}, 95 % confidence interval, upper"),
    "f.target1": ("Betalingsmål 1: dage hurtigere helt eller delvist raskmeldt end kontrolgruppen (forventet 14)",
                  "Payment target 1: days sooner partly or fully back than the control arm (expected 14)"),
    "f.arm.pss": ("{arm}: PSS-10, gennemsnitlig procentvis ændring pr. deltager, baseline → 6 måneder",
                  "{arm}: PSS-10, mean percentage change per participant, baseline → 6 months"),
    "f.target2": ("Betalingsmål 2: PSS-10-ændring, indsats minus kontrol, procentpoint (forventet fald 30 %)",
                  "Payment target 2: PSS-10 change, programme minus control, percentage points (expected fall "
                  "30 %)"),
    "f.arm.life": ("{arm}: andel med højere livstilfredshed, baseline → 6 måneder",
                   "{arm}: share whose life satisfaction rose, baseline → 6 months"),
    "f.target3": ("Betalingsmål 3: andel med højere livstilfredshed, indsats minus kontrol, procentpoint "
                  "(forventet 65 %)",
                  "Payment target 3: share whose life satisfaction rose, programme minus control, percentage "
                  "points (expected 65 %)"),
    "i.arm": ("alle i {arm}", "everyone in {arm}"),
    "i.arm_reached": ("{arm}, der har nået 6 måneder", "{arm} who reached 6 months"),
    "i.ret": ("{arm}, hvor det vides: kommet tilbage, eller svaret ved 6 måneder uden at være det; "
              "{not_yet} har ikke nået 6 måneder, {missing} mangler",
              "{arm} where it is known: back, or answered at 6 months without being back; {not_yet} not at "
              "6 months yet, {missing} missing"),
    "i.ret_count": ("{arm}, der er kommet tilbage inden 6 måneder", "{arm} who came back within 6 months"),
    "i.both_arms_ret": ("begge grupper, hvor det vides (se ovenfor)", "both arms, where it is known (see above)"),
    "i.arm_pss": ("{arm} med PSS-10 ved baseline og 6 måneder ({zero} med baseline 0 udeladt)",
                  "{arm} with PSS-10 at baseline and 6 months ({zero} with a baseline of 0 left out)"),
    "i.both_arms_pss": ("begge grupper med PSS-10 ved baseline og 6 måneder",
                        "both arms with PSS-10 at baseline and 6 months"),
    "i.arm_life": ("{arm} med livstilfredshed ved baseline og 6 måneder",
                   "{arm} with life satisfaction at baseline and 6 months"),
    "i.both_arms_life": ("begge grupper med livstilfredshed ved baseline og 6 måneder",
                         "both arms with life satisfaction at baseline and 6 months"),
    "d.trial": (
        "Lodtrækning: i en kohorte med lodtrækning trækkes hver deltager ved tilmeldingen til indsatsen eller "
        "kontrolgruppen (blokke af 4 og 6). Kontrolgruppen får kun målingerne (og sikkerhedsberedskabet). Betalingsmål "
        "1: kontrolgruppens gennemsnitlige dag for hel eller delvis raskmelding minus indsatsgruppens; den, der ikke "
        "er raskmeldt ved 6 måneder, tæller med 6 måneder. Intervaller: Welch (gennemsnit), Wilson og Newcombe "
        "(andele).",
        "Randomisation: in a randomised cohort each participant is allocated at enrolment to the programme or the "
        "control arm (blocks of 4 and 6). The control arm gets only the measurements (and the safety path). Payment "
        "target 1: the control arm's mean day of partial or full return minus the programme arm's; those not back at "
        "6 months count as 6 months. Intervals: Welch (means), Wilson and Newcombe (shares).",
    ),
}
