"""The rule for which messages a coach must read (flows/for_coach.py; docs/safety-content.md section 7), example by
example, and the engine's `Heard` effects that carry the decision to the shell."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from flows.effects import Heard
from flows.engine import advance
from flows.for_coach import must_read, must_read_on_pause
from flows.inputs import StartFlow, Text
from flows.model import Choice, LocalText, Step, StepType
from flows.questionnaire import unsure
from flows.reading import read
from flows.risk_loader import load_risk_terms
from flows.state import State
from tests.flows.helpers import T0, shipped_library

TERMS, _ = load_risk_terms(Path(__file__).resolve().parents[2] / "flows" / "risk_terms.yaml")
assert TERMS is not None
LIB = replace(shipped_library(), risk_terms=TERMS)
PSS_Q1 = LIB.get("pss10", 2).steps[1]  # type: ignore[union-attr]
YES_NO = LIB.get("safety_check", 1).step("q1")  # type: ignore[union-attr]
SCALE = LIB.get("checkin", 2).step("wellbeing")  # type: ignore[union-attr]


def test_the_questions_are_what_the_examples_assume() -> None:
    assert PSS_Q1.id == "q1" and PSS_Q1.choices and YES_NO is not None and SCALE is not None


@pytest.mark.parametrize(("text", "coach"), [
    # no words: a slip, an emoji, a number
    ("7", False), ("2,5", False), ("😀", False), ("...", False), ("🙁 🙁", False), ("", False),
    # one word is a try
    ("fem", False), ("skidt", False), ("hmm", False),
    # a try at an answer: a label with a typo, a hedge, an answer named in a few words
    ("ret oftte", False), ("Naesten aldrig", False), ("ved ikke", False), ("det ved jeg ikke", False),
    ("2 tror jeg", False), ("næsten aldrig vel", False), ("fairly oftne", False), ("I don't know", False),
    # words about the person's situation or a request: the coach reads them
    ("rigtig skidt", True), ("hjælp mig", True), ("jeg forstår ikke spørgsmålet", True),
    ("jeg har det rigtig skidt, kan I ringe til mig på 12345678", True),
    ("Ret ofte, men det er fordi min chef råber ad mig hver dag", True),  # more than five words: a sentence
    ("I can't go on like this", True),
])
def test_in_a_choice_question(text: str, coach: bool) -> None:
    assert must_read(text, PSS_Q1) is coach


@pytest.mark.parametrize(("step", "text", "coach"), [
    (YES_NO, "nej det har jeg ikke", False),  # all hedges and the question's words
    (YES_NO, "nej, men jeg er bange for at miste mit arbejde", True),
    (SCALE, "meget dårligt", False),  # the scale's own label
    (SCALE, "rigtig skidt uge", True),
    (SCALE, "6 tror jeg", False),
])
def test_in_a_yes_no_or_scale_question(step: Step, text: str, coach: bool) -> None:
    assert must_read(text, step) is coach


def test_a_free_text_question_refuses_only_what_is_too_long_and_that_goes_to_the_coach() -> None:
    words = LIB.get("checkin", 2).step("words")  # type: ignore[union-attr]
    assert words is not None
    assert must_read("En lang uge. " * 60, words) and not must_read("", words)


@pytest.mark.parametrize(("text", "coach"), [
    ("hej", False), ("tak", False), ("ok", False), ("godnat", False), ("hej igen", False),
    ("thanks, good night", False), ("7", False), ("👍", False), ("Hej, jeg er tilbage", False),
    ("jeg har det fint", False), ("I'm back", False), ("jeg har det ikke godt", True), ("I am not fine", True),
    ("hvornår er næste møde?", True), ("jeg kan ikke sove", True), ("skidt", True), ("I cannot sleep", True),
])
def test_outside_a_question_almost_any_words(text: str, coach: bool) -> None:
    assert must_read(text, None) is coach


@pytest.mark.parametrize(("text", "coach"), [
    ("😭😭😭", True), ("💔", True), ("😞 😞", True), ("🥺", True), ("😡", True), ("😰…", True),
    ("👍", False), ("👍🏽", False), ("🙏", False), ("❤️", False), ("😊", False), ("🙂 🙂", False), ("👋", False),
    ("...", False), ("!!", False), ("7", False), ("ok 😭", True), ("tak 💔", True), ("ok 👍", False),
])
def test_outside_a_question_a_feeling_in_emoji_is_for_the_coach_and_a_thumbs_up_is_not(text: str, coach: bool) -> None:
    """Crying faces said more than most sentences, and went nowhere (the bot answered "no questionnaire open")."""
    assert must_read(text, None) is coach


@pytest.mark.parametrize(("text", "coach"), [
    ("hej igen", False), ("ret oftte", False), ("skidt", False), ("7", False),
    ("jeg har det rigtig skidt", True), ("hvornår ses vi?", True),
])
def test_on_pause_words_reach_the_coach_but_a_try_at_the_question_left_does_not(text: str, coach: bool) -> None:
    assert must_read_on_pause(text, PSS_Q1) is coach


def heard(state: State, text: str) -> tuple[State, list[Heard]]:
    outcome = advance(LIB, state, Text(text), T0)
    return outcome.state, [e for e in outcome.effects if isinstance(e, Heard)]


def test_the_engine_says_what_became_of_each_message() -> None:
    state = advance(LIB, State(), StartFlow("pss10"), T0).state
    state, said = heard(state, "2")
    assert said == [Heard("answer", {"flow_id": "pss10", "item_id": "q1"})]
    state, said = heard(state, "fem")
    assert said == [Heard("not_understood", {"flow_id": "pss10", "item_id": "q2", "reason": "not_a_choice"})]
    state, said = heard(state, "kan du ringe til mig i morgen")
    assert said == [Heard("for_coach", {"flow_id": "pss10", "item_id": "q2"}, for_coach=True)]
    assert state.run is not None and state.run.paused and state.resume_offered == state.run.seq
    state, said = heard(state, "ja")
    assert said == [Heard("go_on", {"answer": "yes"})] and state.run is not None and not state.run.paused
    state, said = heard(state, "PAUSE")
    assert said == [Heard("keyword", {"keyword": "pause"})]
    _, said = heard(state, "jeg tænker på selvmord")
    assert said[0] == Heard("risk", {"level": "moderate"}) and not any(h.for_coach for h in said)


def test_dont_know_is_helped_to_an_answer_only_where_there_are_answers_to_choose_from() -> None:
    """"Svært at sige" to a yes or no of the safety check is for the coach, as before: only a choice or a scale gets
    "choose the closest"."""
    choice = Step("q", StepType.CHOICE, LocalText({"da": "?"}), choices=(Choice(0, LocalText({"da": "Aldrig"})),))
    yes_no = Step("y", StepType.YESNO, LocalText({"da": "?"}))
    assert unsure(choice, read("Ved ikke")) and unsure(choice, read("svært at sige"))
    assert not unsure(yes_no, read("svært at sige")) and must_read("svært at sige", yes_no)
