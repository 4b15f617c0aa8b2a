"""What is being asked: `asking(state)` is the question the next message answers, and the prompt of the last question
the engine sent carries the same key, so a channel can tell a press on the current question from one on an old one."""

from __future__ import annotations

import random
from datetime import timedelta

from flows.asking import PROGRAMME_BUTTONS, PROGRAMME_PROMPT, SAFETY_OFFER, Asked, QuestionKey, asking, terms_key
from flows.engine import Outcome, advance
from flows.inputs import Command, Due, Input, ReleaseHold, RequireConsent, Resume, StartFlow, Text, TimerFired
from flows.model import FlowLibrary
from flows.state import State
from tests.flows.helpers import T0, full_library

LIB = full_library()
LIB_WITH_TERMS = full_library(consent=True)
SAID = ["0", "1", "2", "3", "4", "ja", "nej", "Ret ofte", "HJÆLP", "TILBAGE", "PAUSE", "FORTSÆT", "sprog en", "STOP",
        "KONTAKT", "FÆRDIG 1", "TRE", "MINE", "PAUSE 7", "START", "jeg vil dø", "jeg har det rigtig skidt", "hej",
        "kan du ringe til mig i morgen", "senere", "7,5", "", "x" * 600]
FLOWS = ["pss10", "who5", "checkin", "exercise_plan", "tre_log", "life_satisfaction"]
EVENTS = [("module", {"module": 1}), ("nudge", {"module": 1}), ("exercise", {}), ("wave_open", {"wave": "baseline"}),
          ("wave_remind", {"wave": "baseline", "n": 1}), ("checkin", {"n": 1}), ("tre_summary", {"logged": 1})]


def last_question(outcome: Outcome) -> QuestionKey | None:
    """The key of the last prompt sent, other than the programme's buttons (valid whatever is asked)."""
    prompts = [m.prompt for m in outcome.messages if m.prompt is not None and m.prompt.step_id != PROGRAMME_PROMPT]
    return QuestionKey(prompts[-1].run_seq, prompts[-1].step_id) if prompts else None


def test_nothing_is_asked_without_a_run_the_terms_or_the_offer() -> None:
    assert asking(State()) is None


def test_the_terms_come_first_then_the_offer_of_the_safety_check_then_the_question() -> None:
    state = advance(LIB, State(), StartFlow("pss10"), T0).state
    assert state.run is not None and asking(state) == QuestionKey(state.run.seq, "q1")
    offered = advance(LIB, state, Text("jeg vil dø"), T0).state
    assert asking(offered) == SAFETY_OFFER and asking(offered) == QuestionKey(0, "offer", Asked.SAFETY_OFFER)
    needs_terms = advance(LIB_WITH_TERMS, offered, RequireConsent(), T0).state
    assert asking(needs_terms) == terms_key("v1")


def test_a_paused_question_is_still_the_one_asked() -> None:
    state = advance(LIB, State(), StartFlow("pss10"), T0).state
    state = advance(LIB, state, Text("PAUSE"), T0).state
    assert state.run is not None and state.run.paused and asking(state) == QuestionKey(state.run.seq, "q1")


def test_the_programme_buttons_carry_their_own_key() -> None:
    due = Due("m1", "module", T0, {"module": 1, "start": "2026-11-23", "planned": T0.isoformat()})
    outcome = advance(LIB, State(), due, T0)
    prompts = [m.prompt for m in outcome.messages if m.prompt is not None]
    assert [(p.run_seq, p.step_id) for p in prompts] == [(PROGRAMME_BUTTONS.run_seq, PROGRAMME_BUTTONS.step_id)]
    assert asking(outcome.state) is None


def random_input(rng: random.Random, now_iso: str) -> Input:
    roll = rng.random()
    if roll < 0.6:
        return Text(rng.choice(SAID))
    if roll < 0.7:
        return StartFlow(rng.choice(FLOWS))
    if roll < 0.85:
        kind, data = rng.choice(EVENTS)
        return Due("k", kind, T0, {**data, "start": "2026-11-16", "planned": now_iso})
    return rng.choice([Command("FÆRDIG 1"), Command("TRE"), Resume(), ReleaseHold(), TimerFired("expire:1")])


def test_the_last_question_the_engine_asked_is_the_one_asking_names() -> None:
    """Over seeded random conversations. (A `StartFlow` of the safety check from outside, while the terms or the offer
    are open, is left out: the engine then asks the check's first question while the terms or the offer still come
    first, which `asking` reports faithfully.)"""
    rng = random.Random(20261123)
    checked = 0
    for _ in range(60):
        library: FlowLibrary = rng.choice([LIB, LIB, LIB_WITH_TERMS])
        state = advance(library, State(), RequireConsent(), T0).state
        now = T0 + timedelta(hours=rng.randint(0, 400))
        for _ in range(30):
            inp = random_input(rng, now.isoformat())
            outcome = advance(library, state, inp, now)
            asked = last_question(outcome)
            if asked is not None:
                current = asking(outcome.state)
                assert current is not None and (current.run_seq, current.step_id) == (asked.run_seq, asked.step_id), (
                    inp, asked, current)
                checked += 1
            state = outcome.state
            now += timedelta(minutes=rng.choice([0, 1, 5, 60, 60 * 30]))
    assert checked > 500
