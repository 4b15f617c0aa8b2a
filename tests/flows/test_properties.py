"""Property tests: no input string, in any state, makes the engine raise or stay silent."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from flows.effects import ShowHistory
from flows.engine import advance
from flows.inputs import StartFlow, Text
from flows.state import State
from tests.flows.helpers import T0, shipped_library

LIB = shipped_library()
KEYWORDISH = st.sampled_from(["HJÆLP", "TILBAGE", "PAUSE", "FORTSÆT", "SPROG", "STOP", "2", "Ret ofte", "ja", "", "10"])
MESSAGE = st.one_of(st.text(max_size=300), KEYWORDISH, st.text(alphabet="0123456789 ,.-", max_size=6))


@settings(max_examples=300, deadline=None)
@given(flow_id=st.sampled_from(LIB.ids()), messages=st.lists(MESSAGE, max_size=25))
def test_any_messages_get_an_answer_and_never_raise(flow_id: str, messages: list[str]) -> None:
    outcome = advance(LIB, State(), StartFlow(flow_id), T0)
    state = outcome.state
    for text in messages:
        outcome = advance(LIB, State.from_json(state.to_json()), Text(text), T0)
        assert outcome.messages, f"silence after {text!r}"
        state = outcome.state
        assert State.from_json(state.to_json()) == state


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=3000))
@example(text="HISTORY")  # answered with the TRE log, which the shell reads and always sends (flows/tre.history)
def test_text_without_a_run_is_answered(text: str) -> None:
    outcome = advance(LIB, State(), Text(text), T0)
    assert outcome.messages or any(isinstance(e, ShowHistory) and not e.weekly for e in outcome.effects)
