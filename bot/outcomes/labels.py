"""The report's words in Danish and English. The report is read by the municipality, not sent to participants,
so its words live here rather than in the participants' gettext catalogs."""

from __future__ import annotations

from bot.outcomes.spec import LIFE_SATISFACTION, PSS10, WHO5, Measure
from bot.outcomes.trial_labels import TRIAL_TEXTS

TEXTS: dict[str, tuple[str, str]] = {  # key: (Danish, English)
    "title": ("Resultatrapport for stressforløbet", "Outcome report for the stress programme"),
    "made": ("Lavet {when}", "Made {when}"),
    "cohort": ("Kohorte: {cohort}", "Cohort: {cohort}"),
    "all_cohorts": ("Kohorte: alle", "Cohort: all"),
    "programme": ("Forløb: {title} ({programme})", "Programme: {title} ({programme})"),
    "starts": ("Startdato: {start} til {end}", "Start date: {start} to {end}"),
    "any_start": ("Startdato: alle", "Start date: all"),
    "open_end": ("…", "…"),
    "who_counts": (
        "Hvert tal siger, hvilke deltagere det omfatter (n) og hvor mange der mangler. Før/efter-tal er parvise: "
        "kun deltagere, der har svaret ved begge målinger. Ingen data fjernes i stilhed.",
        "Each figure says which participants it includes (n) and how many are missing. Before/after figures are "
        "paired: only participants who answered at both measurements. No data is dropped silently.",
    ),
    # sections
    "s.headline": ("Før og efter", "Before and after"),
    "s.participants": ("Deltagere", "Participants"),
    "s.waves": ("Målinger", "Measurements"),
    "s.pss10": ("Stress (PSS-10)", "Stress (PSS-10)"),
    "s.who5": ("Trivsel (WHO-5)", "Well-being (WHO-5)"),
    "s.life_satisfaction": ("Livstilfredshed", "Life satisfaction"),
    "s.adherence": ("Deltagelse", "Adherence"),
    "s.weeks": ("Deltagelse uge for uge", "Adherence week by week"),
    "s.safety": ("Sikkerhed (risikoeskaleringer)", "Safety (risk escalations)"),
    "s.charts": ("Grafer", "Charts"),
    "s.definitions": ("Definitioner", "Definitions"),
    # table heads
    "h.figure": ("Tal", "Figure"),
    "h.value": ("Værdi", "Value"),
    "h.n": ("n", "n"),
    "h.missing": ("Mangler", "Missing"),
    "h.includes": ("Omfatter", "Includes"),
    "h.measure": ("Mål", "Measure"),
    "h.before_after": ("Før → efter, gennemsnit (±SD)", "Before → after, mean (±SD)"),
    "h.change": ("Ændring af gennemsnittet", "Change of the mean"),
    "h.reference": ("Reference", "Reference"),
    "n_missing": ("n = {n}, mangler {missing}", "n = {n}, missing {missing}"),
    # measures and waves
    "m.pss10": ("PSS-10", "PSS-10"),
    "m.who5": ("WHO-5 (procent)", "WHO-5 (percent)"),
    "m.life_satisfaction": ("Livstilfredshed (0-10)", "Life satisfaction (0-10)"),
    "w.baseline": ("baseline", "baseline"),
    "w.week4": ("uge 4", "week 4"),
    "w.end": ("forløbets afslutning", "end of the programme"),
    "w.month6": ("6 måneder", "6 months"),
    "ref.pss10": ("Betalingsmål 2: fald på 30 %", "Payment target 2: a 30 % fall"),
    "ref.who5": ("Landsgennemsnit 68", "National average 68"),
    "ref.life_satisfaction": ("Betalingsmål 3: 65 % stiger", "Payment target 3: 65 % rise"),
    "vs.per_person": ("gennemsnit af hver deltagers ændring: {value}", "mean of each participant's change: {value}"),
    "vs.rose": ("steg: {value}", "rose: {value}"),
    "vs.counted": ("{target}; n = {n} af {size}; {missing}", "{target}; n = {n} of {size}; {missing}"),
    "vs.missing": ("mangler: {why}", "missing: {why}"),
    "vs.none_missing": ("ingen mangler", "none missing"),
    "why.without": ("{count} uden {wave}", "{count} without {wave}"),
    "why.zero": ("{count} med 0 ved {wave}", "{count} with 0 at {wave}"),
    # participants
    "f.enrolled": ("Tilmeldt", "Enrolled"),
    "f.screened": ("Screenet (PSS-10 besvaret ved baseline)", "Screened (baseline PSS-10 answered)"),
    "f.entry_criterion": (
        "Opfylder adgangskriteriet (PSS-10 ≥ {cutoff})",
        "Meeting the entry criterion (PSS-10 ≥ {cutoff})",
    ),
    "f.below_criterion": (
        "Under adgangskriteriet (PSS-10 < {cutoff})",
        "Below the entry criterion (PSS-10 < {cutoff})",
    ),
    "f.with_baseline": ("Med baseline (hele målingen besvaret)", "With baseline (the whole measurement answered)"),
    "f.wave.answered": ("{wave}: besvaret", "{wave}: answered"),
    "f.wave.partly": ("{wave}: delvist besvaret, lukket som mistet", "{wave}: partly answered, closed as missed"),
    "f.wave.missed": ("{wave}: mistet, intet besvaret", "{wave}: missed, nothing answered"),
    "f.wave.open": ("{wave}: i gang", "{wave}: in progress"),
    "f.wave.not_yet": ("{wave}: ikke startet endnu", "{wave}: not started yet"),
    "f.missed_total": (
        "Mistede målinger i alt (også delvist besvarede)",
        "Missed measurements in all (partly answered too)",
    ),
    # scores
    "f.wave_mean": ("{measure} ved {wave}: gennemsnit", "{measure} at {wave}: mean"),
    "f.wave_sd": ("{measure} ved {wave}: spredning (SD)", "{measure} at {wave}: standard deviation"),
    "f.before_mean": ("{pair}: før, gennemsnit", "{pair}: before, mean"),
    "f.before_sd": ("{pair}: før, SD", "{pair}: before, SD"),
    "f.after_mean": ("{pair}: efter, gennemsnit", "{pair}: after, mean"),
    "f.after_sd": ("{pair}: efter, SD", "{pair}: after, SD"),
    "f.change_mean": ("{pair}: ændring i point, gennemsnit", "{pair}: change in points, mean"),
    "f.percent_change_mean": (
        "{pair}: gennemsnitlig procentvis ændring pr. deltager (betalingsmål 2 forventer -30 %)",
        "{pair}: mean percentage change per participant (payment target 2 expects -30 %)",
    ),
    "f.percent_change_of_mean": ("{pair}: ændring af gennemsnittet i procent", "{pair}: percentage change of the mean"),
    "f.mcic": (
        "{pair}: fald på mindst 11 point eller 28 % (mindste klinisk vigtige ændring)",
        "{pair}: fall of at least 11 points or 28 % (minimal clinically important change)",
    ),
    "f.mcic_count": ("{pair}: antal med et sådant fald", "{pair}: number with such a fall"),
    "f.improved": ("{pair}: forbedret mindst 10 point", "{pair}: improved by 10 points or more"),
    "f.improved_count": ("{pair}: antal forbedret mindst 10 point", "{pair}: number improved by 10 points or more"),
    "f.rose": ("{pair}: steget (betalingsmål 3 forventer 65 %)", "{pair}: rose (payment target 3 expects 65 %)"),
    "f.rose_count": ("{pair}: antal steget", "{pair}: number who rose"),
    "f.same": ("{pair}: uændret", "{pair}: unchanged"),
    "f.fell": ("{pair}: faldet", "{pair}: fell"),
    "pair": ("{measure} {before} → {after}", "{measure} {before} → {after}"),
    # adherence
    "f.modules_mean": (
        "Moduler markeret færdige pr. deltager, gennemsnit",
        "Modules marked done per participant, mean",
    ),
    "f.modules_median": (
        "Moduler markeret færdige pr. deltager, median",
        "Modules marked done per participant, median",
    ),
    "f.all_modules": ("Alle moduler markeret færdige", "Every module marked done"),
    "f.no_module": ("Intet modul markeret færdigt", "No module marked done"),
    "f.module": ("Modul {number} markeret færdigt", "Module {number} marked done"),
    "f.tre_rate_mean": ("TRE-sessioner pr. uge pr. deltager, gennemsnit", "TRE sessions a week per participant, mean"),
    "f.tre_rate_median": ("TRE-sessioner pr. uge pr. deltager, median", "TRE sessions a week per participant, median"),
    "f.tre_any": ("Mindst én TRE-session logget", "At least one TRE session logged"),
    "f.tre_in_programme": ("TRE-sessioner i forløbets uger", "TRE sessions in the programme's weeks"),
    "f.tre_total": ("TRE-sessioner i alt, også efter forløbet", "TRE sessions in all, also after the programme"),
    "f.waves_answered": (
        "Påmindelser besvaret: målinger besvaret helt",
        "Reminders answered: measurements answered in full",
    ),
    "f.checkins_sent": ("Ugentlige check-ins sendt", "Weekly check-ins sent"),
    "f.checkins_answered": ("Påmindelser besvaret: check-ins besvaret", "Reminders answered: check-ins answered"),
    "f.checkins_answered_count": ("Check-ins besvaret", "Check-ins answered"),
    "f.week_tre": ("Uge {week}: TRE-sessioner pr. deltager", "Week {week}: TRE sessions per participant"),
    "f.week_checkins": ("Uge {week}: check-ins besvaret", "Week {week}: check-ins answered"),
    # safety
    "f.escalations": ("Eskaleringer, niveau {level}", "Escalations, level {level}"),
    "f.acknowledged": ("Kvitteret af en coach", "Acknowledged by a coach"),
    "f.unacknowledged": ("Ikke kvitteret endnu", "Not acknowledged yet"),
    "f.ack_median": ("Tid til kvittering, median (minutter)", "Time to acknowledgement, median (minutes)"),
    "f.ack_longest": ("Tid til kvittering, længste (minutter)", "Time to acknowledgement, longest (minutes)"),
    "f.breached": ("Frist overskredet", "Deadline breached"),
    "f.open_now": ("Ikke lukket endnu", "Not closed yet"),
    "level.high": ("høj", "high"),
    "level.moderate": ("moderat", "moderate"),
    "level.low": ("lav", "low"),
    # who each figure includes
    "i.all": ("alle deltagere i rapporten", "every participant in the report"),
    "i.screened": ("deltagere med PSS-10 ved baseline", "participants with a baseline PSS-10"),
    "i.wave": ("deltagere med {measure} ved {wave}", "participants with {measure} at {wave}"),
    "i.paired": (
        "parvise: med {measure} ved både {before} og {after} (mangler: {no_before} uden {before}, {no_after} uden "
        "{after})",
        "paired: {measure} at both {before} and {after} (missing: {no_before} without {before}, {no_after} without "
        "{after})",
    ),
    "i.paired_nonzero": (
        "parvise: med {measure} ved både {before} og {after}, over 0 ved {before} (mangler: {no_before} uden "
        "{before}, {no_after} uden {after}, {zero} med 0 ved {before}: en procent af 0 findes ikke)",
        "paired: {measure} at both {before} and {after}, above 0 at {before} (missing: {no_before} without {before}, "
        "{no_after} without {after}, {zero} with 0 at {before}: there is no percentage of 0)",
    ),
    "i.closed_waves": (
        "målinger, der er lukket (besvaret eller mistet)",
        "measurements that have closed (answered or missed)",
    ),
    "i.sent_checkins": (
        "check-ins sendt; besvaret = udfyldt før den næste blev sendt",
        "check-ins sent; answered = completed before the next one was sent",
    ),
    "i.week_in": (
        "deltagere mindst 7 dage inde i forløbet ({too_early} er ikke)",
        "participants at least 7 days into the programme ({too_early} are not)",
    ),
    "i.released": ("deltagere, hvis modul er udsendt", "participants whose module has been released"),
    "i.week_begun": ("deltagere, hvis uge er begyndt", "participants whose week has begun"),
    "i.week_sent": ("check-ins sendt i ugen", "check-ins sent in the week"),
    "i.escalations": ("eskaleringer for deltagerne i rapporten", "escalations of the report's participants"),
    "i.acknowledged": ("kvitterede eskaleringer", "acknowledged escalations"),
    # charts
    "c.distribution": (
        "{measure}: fordeling før og efter ({pair}, n = {n})",
        "{measure}: distribution before and after ({pair}, n = {n})",
    ),
    "c.change": (
        "{measure}: ændring pr. deltager ({pair}, n = {n})",
        "{measure}: change per participant ({pair}, n = {n})",
    ),
    "c.change_quantiles": (
        "{measure}: ændring, sorteret ({pair}, n = {n}; hver søjle er en kvantil)",
        "{measure}: change, sorted ({pair}, n = {n}; each bar is a quantile)",
    ),
    "c.participants": ("deltagere", "participants"),
    "c.points": ("point", "points"),
    "c.before": ("Før", "Before"),
    "c.after": ("Efter", "After"),
    "c.tre_weeks": ("TRE-sessioner pr. deltager, uge for uge", "TRE sessions per participant, week by week"),
    "c.checkin_weeks": ("Check-ins besvaret (%), uge for uge", "Check-ins answered (%), week by week"),
    "c.modules": (
        "Moduler markeret færdige (% af dem, der har fået modulet)",
        "Modules marked done (% of those who got the module)",
    ),
    "c.week": ("uge {week}", "week {week}"),
    "c.module": ("modul {number}", "module {number}"),
    "c.mcic_line": ("-11 point", "-11 points"),
    "c.improve_line": ("+10 point", "+10 points"),
    "c.no_data": ("Ingen data endnu (n = 0): {pairs}", "No data yet (n = 0): {pairs}"),
    # definitions, shown at the end of the text and HTML reports (docs/outcomes.md has the full version)
    "d.paired": (
        "Parvise tal omfatter kun deltagere med en værdi ved både før- og eftermålingen, så før- og "
        "eftergennemsnittet er over de samme personer.",
        "Paired figures include only participants with a value at both the before and the after measurement, so the "
        "before and after means are over the same people.",
    ),
    "d.sd": (
        "SD er stikprøvens standardafvigelse (n - 1); med færre end to værdier vises en streg.",
        "SD is the sample standard deviation (n - 1); with fewer than two values it shows as a dash.",
    ),
    "d.percent": (
        "Gennemsnitlig procentvis ændring: gennemsnittet af hver deltagers (efter - før) / før. Ændring af "
        "gennemsnittet: (gennemsnit efter - gennemsnit før) / gennemsnit før.",
        "Mean percentage change: the mean of each participant's (after - before) / before. Change of the mean: "
        "(mean after - mean before) / mean before.",
    ),
    "d.mcic": (
        "Mindste klinisk vigtige ændring for PSS-10: et fald på mindst 11 point eller mindst 28 % af "
        "baseline (Eskildsen m.fl. 2015). WHO-5: en forbedring på mindst 10 point.",
        "Minimal clinically important change for PSS-10: a fall of at least 11 points or at least 28 % of baseline "
        "(Eskildsen et al. 2015). WHO-5: an improvement of at least 10 points.",
    ),
    "d.waves": (
        "En måling er besvaret, når alle dens spørgeskemaer er besvaret; ellers lukkes den som mistet, når "
        "svarfristen er udløbet.",
        "A measurement is answered when all its questionnaires are; otherwise it closes as missed when its time "
        "to answer has run out.",
    ),
    "d.reminders": (
        "Påmindelser besvaret er to tal: målinger besvaret helt, af de målinger der er lukket; og ugentlige "
        "check-ins udfyldt, før den næste blev sendt, af de check-ins botten sendte.",
        "Reminders answered is two figures: measurements answered in full, of the measurements that have closed; "
        "and weekly check-ins completed before the next one was sent, of the check-ins the bot sent.",
    ),
    "d.tre": (
        "En TRE-session er en udfyldt TRE-log. Sessioner pr. uge: sessioner i forløbets uger delt med antal "
        "dage i forløbet indtil rapportens dato / 7 (højst forløbets længde).",
        "A TRE session is a completed TRE log. Sessions a week: sessions in the programme's weeks divided by the "
        "days in the programme up to the report's date / 7 (at most the programme's length).",
    ),
    "d.start": (
        "Startdato er profilens startdato, ellers tilmeldingsdagen. Uge 1 er startdatoen og de seks dage "
        "efter, i programmets tidszone.",
        "The start date is the profile's start date, or else the day of enrolment. Week 1 is the start date and "
        "the six days after it, in the programme's time zone.",
    ),
    "d.safety": (
        "Frist overskredet: ingen kvitterede før fristen, så botten udvidede kredsen, eller eskaleringen er "
        "stadig ikke kvitteret efter fristen. Tid til kvittering regnes fra eskaleringen blev åbnet.",
        "Deadline breached: nobody acknowledged before the deadline, so the bot widened the circle, or the "
        "escalation is still unacknowledged past its deadline. Time to acknowledgement counts from its opening.",
    ),
    **TRIAL_TEXTS,  # the arms' comparison and the return to work (bot/outcomes/trial_labels.py)
}
DEFINITIONS = ("d.paired", "d.sd", "d.percent", "d.mcic", "d.waves", "d.reminders", "d.tre", "d.start", "d.safety",
               "d.trial")


class Words:
    def __init__(self, lang: str) -> None:
        self.index = 0 if lang == "da" else 1

    def __call__(self, key: str, **params: object) -> str:
        text = TEXTS[key][self.index]
        return text.format(**params) if params else text

    def measure(self, measure: Measure) -> str:
        return self(f"m.{measure.flow_id}") if measure in (PSS10, WHO5, LIFE_SATISFACTION) else measure.flow_id

    def wave(self, wave: str) -> str:
        key = f"w.{wave}"
        return self(key) if key in TEXTS else wave

    def level(self, level: str) -> str:
        key = f"level.{level}"
        return self(key) if key in TEXTS else level

    def pair(self, measure: Measure, before: str, after: str) -> str:
        return self("pair", measure=self.measure(measure), before=self.wave(before), after=self.wave(after))
