"""The shipped word list on the patterns added in round 4 (flows/risk_terms.yaml, version 4): each pattern with a
few phrasings of its own, in Danish (with and without æ/ø/å) and English, and the everyday sentences that look
like them and must stay quiet. The rules alone are scanned (`scan_rules`): the model's second opinion must not be
what makes these pass. None of these sentences is a row of the evaluation files in benchmarks/risk_eval/."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.risk import rank
from flows.risk_loader import load_risk_terms

ROOT = Path(__file__).resolve().parents[2]
TERMS, _ = load_risk_terms(ROOT / "flows" / "risk_terms.yaml")

# (what the pattern is, the lowest level it must reach, phrasings)
FOUND = [
    ("wouldn't mind dying", "low", ["jeg ville ikke have noget imod at dø", "har ikk noget imod at doe egentlig",
                                     "i wouldnt mind dying in my sleep"]),
    ("a heart that stops", "low", ["ville ikke have noget imod hvis hjertet gik i staa i nat",
                                   "wouldn't mind if my heart gave up tonight"]),
    ("lying in a grave", "low", ["jeg vil bare ligge paa kirkegaarden ved siden af min mor",
                                 "i want to lie in the cemetery next to my dad"]),
    ("dreaming of death", "low", ["jeg dagdrømmer om at være død", "i keep daydreaming about dying"]),
    ("eyes that never open again", "low", ["vil lukke øjnene og aldrig åbne dem igen",
                                           "id like to close my eyes and never open them"]),
    ("not reaching an age", "low", ["haaber ikke jeg naar at blive 60", "hope i dont make it to christmas"]),
    ("death as a rest", "low", ["døden lyder som en hvile", "death sounds peaceful tbh"]),
    ("a wish for an accident", "low", ["haaber lidt at lynet rammer mig", "sometimes i hope i get hit by lightning",
                                       "hvis en bus ramte mig ville det være fint", "if a truck hit me i'd be ok"]),
    ("told the doctor a lie about living", "low", ["sagde til lægen at jeg ville leve, men jeg løj",
                                                   "told the psychologist i want to live but that's not true"]),
    ("life is not for me", "low", ["livet er bare ikke noget for mig", "life just isnt for me"]),
    ("dead weight, a waste of space", "low", ["jeg er dødvægt for alle", "i'm just dead weight to everyone",
                                              "jeg er et spild af luft", "i am a waste of oxygen"]),
    ("dragging everyone down", "low", ["jeg trækker hele familien ned", "i'm holding my family back"]),
    ("worth more dead", "low", ["jeg er mere værd død", "i'm worth more dead"]),
    ("can't, repeated", "low", ["jeg kan ikke. jeg kan ikke mere", "kan ikke mere kan ikke", "i cant i cant"]),
    ("no fight left", "low", ["jeg orker ikke at kæmpe mer", "no fight left in me at all", "so tired of fighting"]),
    ("a thread about to snap", "low", ["jeg hænger i en tynd tråd", "the thread is about to snap for me"]),
    ("no light in the tunnel", "low", ["kan ikke se noget lys i tunnelen",
                                       "there's no light at the end of the tunnel"]),
    ("out of reasons", "low", ["jeg er løbet tør for grunde", "ran out of reasons"]),
    ("drowning and nobody can help", "low", ["jeg drukner og ingen ser det", "drowning and no one notices"]),
    ("lost all hope", "low", ["jeg har mistet håbet", "i've lost hope"]),
    ("a pit with no way up", "low", ["jeg er i et sort hul uden stige op", "in a hole with no way out"]),
    ("goodbye: don't call, don't look for me", "high", ["farvel, i behøver ikke ringe",
                                                        "bye, no need to reply",
                                                        "lad vaere med at lede efter mig",
                                                        "please don't look for me"]),
    ("saying goodbye, taking leave", "high", ["jeg siger farvel til jer", "jeg tager afsked nu"]),
    ("where I'm going", "high", ["der hvor jeg skal hen har jeg ikke brug for noget",
                                 "where im going i wont need my phone"]),
    ("thanks for trying", "moderate", ["tak fordi I prøvede", "thanks for trying with me"]),
    ("the last night", "high", ["i nat er min sidste nat", "today is my last day on earth"]),
    ("my funeral", "high", ["har valgt musikken til min begravelse", "i've planned my funeral"]),
    ("counted and ready", "high", ["har regnet ud hvor mange og de er klar", "worked out how many and theyre ready"]),
    ("a lethal dose", "high", ["hvad er en dødelig dosis panodil", "what's a lethal dose of sertraline"]),
    ("how high a bridge must be", "high", ["hvor høj skal en bro være for at man dør",
                                           "how high does a building have to be to die"]),
    ("dying of one's medicine", "high", ["kan man doe af mine sovepiller", "can you die from 40 paracetamol"]),
    ("medicine used for something else", "high", ["mine piller kunne bruges til noget andet",
                                                  "my meds could do it"]),
    ("a note for them", "high", ["har skrevet en seddel til dem", "left a note for them upstairs"]),
    ("so they can find me", "high", ["nøglen ligger hos naboen så de kan finde mig",
                                     "gave the key to my sister so she can find me"]),
    ("a bag full of pills", "high", ["har en pose fuld af piller", "got a bag full of pills"]),
    ("a hook that would hold me", "high", ["krogen i loftet kan holde mig", "the beam would hold me"]),
    ("decided, and a time", "high", ["det bliver i weekenden, jeg har besluttet mig",
                                     "its happening tonight, decided"]),
    ("it happens tonight", "high", ["det sker i nat", "inat sker det", "it happens tonight"]),
    ("before someone comes home", "high", ["jeg gør det før min kæreste kommer hjem",
                                          "i'll do it before the kids get home"]),
    ("a number of pills taken", "high", ["har taget 40 piller", "just took 30 tablets"]),
    ("if nobody answers", "high", ["hvis ingen svarer i aften gør jeg det", "if no one answers soon i'm doing it"]),
    ("not coming back from the water", "high", ["går ned til vandet og kommer ikke tilbage",
                                                "going to the sea and not coming back"]),
    ("a blade out again", "low", ["har taget barberbladet frem", "got the blades out again",
                                  "relapsed, 3 years clean", "skar mig igen efter et år clean"]),
    ("self-punishment", "low", ["river mig i håret som straf", "pulling my hair as punishment"]),
    ("long sleeves, hidden wounds", "low", ["lange ærmer så ingen ser det", "hiding the scars",
                                            "long sleeves so no one notices"]),
    ("what I did to my arms", "low", ["se hvad jeg har gjort ved min arm", "look what i did to my arms"]),
    ("needing pain", "low", ["trang til at mærke smerte", "i need to feel pain again"]),
    ("taking my life, words apart", "moderate", ["jeg tager bare mit liv", "ta mit liv"]),
    ("envy of the dead", "low", ["jeg misunder dem der er døde", "i envy the dead"]),
    ("welcoming death", "low", ["death would be welcome", "jeg ville byde døden velkommen"]),
    ("disappointed to still be here", "low", ["skuffet over at jeg stadig er i live", "disappointed i'm still alive"]),
    ("escaping existence", "low", ["bare slippe for at leve", "not have to wake up ever"]),
    ("trapped, no escape", "low", ["fanget uden udvej", "feel trapped with no way out"]),
    ("nothing will change", "low", ["nothing will ever change for me", "intet vil nogensinde forandre sig"]),
    ("the bridge calls me", "high", ["broen kalder på mig hver dag", "the railway bridge keeps calling me"]),
    ("medicine that would do it", "high", ["de piller ville kunne gøre det", "those tablets would do it"]),
    ("look after my child for me", "moderate", ["pas godt på min søn for mig", "look after my daughter for me"]),
]

QUIET = [
    "fik en overdosis kaffe i morges", "overdosed on chocolate at the party",  # overdose of a treat
    "killing myself to finish this report",  # overwork
    "at the end of my rope with the kids today",
    "så en dokumentar om selvmord på dr2", "listened to a podcast about suicide", "selvmord blandt ældre",
    "i filmen sprang hun ud fra broen", "in the book he jumped from a roof",  # someone else, in a story
    "vinterbadning: sprang i fra badebroen", "jumped off the jetty for a dip",  # winter bathing
    "lever af pizza for tiden", "living on coffee this week",
    "købte reb til at hænge vasketøj op", "bought rope for the hammock",
    "min mor fik for mange piller ved en fejl", "grandma got too many pills at the home",
    "vi skrev testamente sammen med advokaten", "wrote our wills together",
    "jeg er her ikke næste uge", "i won't be here on monday",
    "sidste besked inden weekenden", "last message before the weekend",
    "i'm going to end it with my girlfriend", "i could sleep forever",
    "slog mig selv i hovedet over det", "nej, ingen selvmordstanker", "not suicidal, just tired",
    "har ingen tanker om at skade mig selv", "no thoughts of hurting myself", "never had thoughts of harming myself",
    "min chef skræmte livet af mig", "that scared the life out of me",
    "har regnet ud hvor mange timer jeg skal bruge", "gider ikke kæmpe mere med kommunen",
    "thanks for trying to call", "i'll do it myself if nobody answers", "thank god my mum came to get me",
    "min sidste dag på jobbet", "sidste aften på ferien", "tonight is my last night at the hotel",
    "when you read this email, call me", "har skrevet en seddel om indkøb", "vi valgte salmer til fars begravelse",
    "projektet hænger i en tynd tråd", "er helt død i hovedet", "benene var helt døde",
    "har betalt regningerne og opsagt avisen", "kan du passe katten i weekenden",
    "chefen tager livet af mig med de møder", "arbejdet er ved at tage livet af mig",  # an idiom
    "sagde farvel til mine kolleger i dag", "said goodbye to the team",
    "i'd love a good night's sleep", "gav min gamle cykel væk", "gave away my old toys",
    "can you look after my son for me on friday", "pas på børnene for mig mens jeg er til lægen",
    "i don't have suicidal thoughts", "I haven't thought about suicide",
    "chefen ville slå mig ihjel hvis jeg kom for sent", "han skrev et afskedsbrev til sin chef",
]


@pytest.mark.parametrize(("pattern", "level", "message"),
                         [(pattern, level, message) for pattern, level, messages in FOUND for message in messages])
def test_each_round_4_pattern_fires_in_its_own_phrasings(pattern: str, level: str, message: str) -> None:
    assert TERMS is not None
    found = TERMS.scan_rules(message)
    assert found is not None, (pattern, message)
    assert rank(found.level) >= rank(level), (pattern, message, found)


@pytest.mark.parametrize("message", QUIET)
def test_everyday_sentences_that_look_like_them_stay_quiet(message: str) -> None:
    assert TERMS is not None
    assert TERMS.scan_rules(message) is None, (message, TERMS.scan_rules(message))
