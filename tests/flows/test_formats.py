"""Format versions: stored state and flow files say their format; an older one is migrated step by step, a newer one
is refused with one clear line."""

from __future__ import annotations

from typing import Any

import pytest

from flows import formats, state
from flows.formats import FormatError, migrate
from flows.inputs import StartFlow
from flows.loader import load_flow_text
from flows.state import STATE_FORMAT, State, StateFormatError
from flows.yamlsource import LineMap
from tests.flows.helpers import Driver, shipped_library

LIB = shipped_library()
FLOW = """\
id: tiny
version: 1
languages: [da]
title: Lille
steps:
  - id: q1
    type: yesno
    text: Har du det godt?
"""


def stored_mid_questionnaire() -> dict[str, Any]:
    driver = Driver(LIB)
    driver.feed(StartFlow("pss10"))
    driver.say("2")
    return driver.state.to_json()


def test_the_state_is_written_with_its_format() -> None:
    assert State().to_json()["format"] == STATE_FORMAT == 2


def test_format_2_knows_whether_the_terms_were_shown_and_format_1_is_taken_to_have_shown_them() -> None:
    """A state of format 1 waiting for terms: their text was sent (what format 1 assumed), so a "ja" answers them."""
    old = {"format": 1, "lang": "da", "consent_needed": "terms-1"}
    assert State.from_json(old).consent_shown == "terms-1"
    assert State.from_json({"format": 1, "lang": "da"}).consent_shown is None
    assert State.from_json(State(consent_needed="t-2").to_json()).consent_shown is None  # format 2: as written


def test_an_old_state_without_a_format_loads() -> None:
    stored = stored_mid_questionnaire()
    without = {k: v for k, v in stored.items() if k != "format"}
    assert State.from_json(without) == State.from_json(stored)
    assert State.from_json({}) == State()


@pytest.mark.parametrize("found", [STATE_FORMAT + 1, 99])
def test_a_state_of_a_newer_format_is_refused(found: int) -> None:
    with pytest.raises(StateFormatError, match=f"in format {found}, newer than this bot reads"):
        State.from_json({**stored_mid_questionnaire(), "format": found})


@pytest.mark.parametrize("found", [0, -1, "1", None, True, 1.5])
def test_a_state_whose_format_is_no_format_number_is_refused(found: object) -> None:
    with pytest.raises(StateFormatError, match="not a format number"):
        State.from_json({"format": found})


def test_a_stored_state_is_migrated_one_step_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if format 3 had renamed `lang` to `language` (step 1) and back (step 2): each step runs once, in order."""
    steps: list[int] = []

    def rename(old: str, new: str, step: int) -> Any:
        def migration(data: dict[str, Any]) -> dict[str, Any]:
            steps.append(step)
            return {**{k: v for k, v in data.items() if k != old}, new: data[old]}
        return migration

    monkeypatch.setattr(state, "STATE_FORMAT", 3)
    monkeypatch.setattr(state, "STATE_MIGRATIONS", {1: rename("lang", "language", 1), 2: rename("language", "lang", 2)})
    assert State.from_json({"format": 1, "lang": "en"}).lang == "en" and steps == [1, 2]
    assert State.from_json({"format": 2, "language": "en"}).lang == "en" and steps == [1, 2, 2]
    assert State.from_json({"format": 3, "lang": "en"}).to_json()["format"] == 3 and steps == [1, 2, 2]


def test_a_missing_migration_step_is_an_error() -> None:
    with pytest.raises(FormatError, match="no migration from format 2 to 3"):
        migrate({}, 1, 3, {1: dict}, "the thing")


def test_a_flow_file_without_a_format_or_with_the_current_one_loads() -> None:
    assert load_flow_text(FLOW, "tiny.yaml")[0] is not None
    flow, problems = load_flow_text("format: 1\n" + FLOW, "tiny.yaml")
    assert flow is not None and problems == []


@pytest.mark.parametrize(("written", "says"), [
    ("format: 2", "the flow file is in format 2, newer than this bot reads (up to format 1)"),
    ("format: one", "the flow file has format 'one', which is not a format number"),
])
def test_a_flow_file_of_an_unknown_format_is_refused_with_one_clear_line(written: str, says: str) -> None:
    flow, problems = load_flow_text(FLOW + "colour: blue\n" + written + "\n", "tiny.yaml")  # no word of the colour
    assert flow is None
    assert [(p.line, p.severity) for p in problems] == [(10, "error")] and says in problems[0].message
    assert "\n" not in str(problems[0])


def test_an_older_flow_file_is_migrated_before_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if format 2 had renamed `titel` to `title`: a format-1 file (or one without `format:`) is migrated."""
    def titel_to_title(top: LineMap) -> LineMap:
        top["title"] = top.pop("titel")
        return top

    monkeypatch.setattr(formats, "FLOW_FORMAT", 2)
    monkeypatch.setattr(formats, "FLOW_MIGRATIONS", {1: titel_to_title})
    old = FLOW.replace("title: Lille", "titel: Lille")
    for text in (old, "format: 1\n" + old):
        flow, problems = load_flow_text(text, "tiny.yaml")
        assert flow is not None and flow.title.get("da") == "Lille", problems
    assert load_flow_text("format: 2\n" + FLOW, "tiny.yaml")[0] is not None


def test_a_started_run_survives_the_round_trip_through_the_current_format() -> None:
    stored = stored_mid_questionnaire()
    restored = State.from_json(stored)
    assert restored.run is not None and restored.run.answers and restored.to_json() == stored
