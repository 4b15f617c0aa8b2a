"""The engine never raises on any text, and always answers: 10,500 seeded random messages in every kind of state.

The messages mix ASCII, Danish letters, digits of other scripts (Arabic-Indic, Ethiopic, superscripts, fullwidth,
circled), emoji, control characters, very long words and the keywords people type, so they reach every reader: the
risk scan, the keyword matchers ("FÆRDIG ፩" once raised inside the engine), the answer parsers and the rule for
messages a coach must read. Each is sent as a message and, every fifth, as a programme button too.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from flows.effects import ShowHistory
from flows.engine import Outcome, advance
from flows.inputs import Command, Due, Input, RequireConsent, StartFlow, Text
from flows.model import FlowLibrary
from flows.parsing import match_programme_keyword
from flows.state import State
from tests.flows.helpers import T0, full_library

MESSAGES = 10_500
SEED = 20261123
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳፩፪፫፬¹²³⁴⁰０１２３४५६①②⑳𝟙𝟚"
LETTERS = "abcdefghijklmnopqrstuvwxyzæøåÆØÅABCXYZéü"
EMOJI = ["😀", "👍", "🙏", "❤️", "🇩🇰", "👨‍👩‍👧", "🤷🏽‍♀️"]
CONTROL = "\x00\x07\t\n\r\x1b\x7f\u200b\u200d\u202e\ufeff\u2028"
PUNCTUATION = " .,;:!?/-'\"()*_"
KEYWORDS = ["FÆRDIG", "færdig", "modul", "PAUSE", "TRE", "MINE", "TIDER", "START", "STOP", "SPROG", "HJÆLP", "ja",
            "nej", "KONTAKT", "TILBAGE", "FORTSÆT", "Ret ofte", "done", "/help", "3", "dø"]
LIB = full_library()
LIB_WITH_TERMS = full_library(consent=True)
NOW = T0 + timedelta(minutes=5)


def random_message(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.25:
            parts.append(rng.choice(KEYWORDS))
        elif roll < 0.5:
            parts.append("".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 4))))
        elif roll < 0.66:
            parts.append("".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 12))))
        elif roll < 0.74:
            parts.append(rng.choice(EMOJI))
        elif roll < 0.82:
            parts.append(rng.choice(CONTROL))
        elif roll < 0.84:
            parts.append(rng.choice(LETTERS) * rng.randint(200, 3000))  # a very long word
        else:
            parts.append(rng.choice(PUNCTUATION))
    return ("" if rng.random() < 0.3 else " ").join(parts)


def after(library: FlowLibrary, *inputs: Input) -> State:
    state = State()
    for inp in inputs:
        state = advance(library, state, inp, T0).state
    return state


def states() -> dict[str, tuple[FlowLibrary, State]]:
    """Every kind of state a message can arrive in."""
    mid = after(LIB, StartFlow("pss10"), Text("2"))
    module = Due("m1", "module", T0, {"module": 1, "start": "2026-11-23", "planned": T0.isoformat()})
    found = {
        "idle": (LIB, State()),
        "mid-questionnaire": (LIB, mid),
        "free-text question": (LIB, after(LIB, StartFlow("tre_log"))),
        "at the terms": (LIB_WITH_TERMS, after(LIB_WITH_TERMS, RequireConsent(), StartFlow("pss10"))),
        "offered the safety check": (LIB, after(LIB, StartFlow("pss10"), Text("2"), Text("jeg vil dø"))),
        "in the safety check": (LIB, after(LIB, StartFlow("pss10"), Text("jeg vil dø"), Text("ja"))),
        "paused, asked to go on": (LIB, after(LIB, StartFlow("pss10"), Text("kan du ringe til mig i morgen"))),
        "programme buttons shown": (LIB, after(LIB, module)),
    }
    terms, offered, check = (found[k][1] for k in ("at the terms", "offered the safety check", "in the safety check"))
    paused, buttons = found["paused, asked to go on"][1], found["programme buttons shown"][1]
    assert terms.consent_needed is not None and offered.offering_check and paused.resume_offered is not None
    assert check.run is not None and check.run.flow_id == "safety_check" and buttons.progress.released == (1,)
    return found


def answered(outcome: Outcome) -> bool:
    """A message back, or the TRE history the loop renders from storage (MINE)."""
    return bool(outcome.messages) or any(isinstance(e, ShowHistory) for e in outcome.effects)


def test_the_generator_reaches_the_digits_that_once_raised() -> None:
    rng = random.Random(SEED)
    messages = [random_message(rng) for _ in range(MESSAGES)]
    assert any("፩" in m or "①" in m for m in messages) and any(len(m) > 1000 for m in messages)
    assert match_programme_keyword("FÆRDIG ፩") is None and match_programme_keyword("2 ፩") is None


@pytest.mark.parametrize("message", ["FÆRDIG ፩", "2 ፩", "፩ FÆRDIG", "FÆRDIG ٣", "PAUSE ①", "færdig ²"])
def test_digits_of_other_scripts_are_never_an_error(message: str) -> None:
    for library, state in states().values():
        assert answered(advance(library, state, Text(message), NOW)), message
        assert answered(advance(library, state, Command(message), NOW)), message


def test_no_text_makes_the_engine_raise_or_stay_silent() -> None:
    rng = random.Random(SEED)
    kinds = list(states().items())
    for n in range(MESSAGES):
        name, (library, state) = kinds[n % len(kinds)]
        message = random_message(rng)
        for inp in (Text(message), Command(message)) if n % 5 == 0 else (Text(message),):
            outcome = advance(library, state, inp, NOW)
            assert answered(outcome), (name, inp)
            assert State.from_json(outcome.state.to_json()) == outcome.state, (name, inp)
