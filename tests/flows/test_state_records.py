"""`evolve`, the engine's copy of a state record with some fields changed, behaves as `dataclasses.replace`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from flows.state import Answer, Progress, Run, State, evolve

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_evolve_gives_what_replace_gives_and_leaves_the_original_alone() -> None:
    run = Run(1, "pss10", 2, "q1", T0, answers={"q1": Answer(2, "2")}, trail=("q1",))
    state = State(lang="da", run=run, progress=Progress(start="2026-01-05"))
    cases: list[tuple[Any, dict[str, Any]]] = [
        (run, {"step_id": "q2", "invalid_streak": 1}),
        (state, {"run": None}),
        (state, {"progress": Progress(), "lang": "en"}),
        (state.progress, {"stopped": True}),
    ]
    for record, changes in cases:
        before = repr(record)
        changed = evolve(record, **changes)
        assert changed == replace(record, **changes)
        assert type(changed) is type(record)
        assert repr(record) == before


def test_the_copy_is_as_frozen_as_the_original() -> None:
    state = evolve(State(lang="da"), lang="en")
    with pytest.raises(AttributeError):
        state.lang = "da"  # type: ignore[misc]


def test_an_unknown_field_is_refused_as_replace_refuses_it() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        evolve(State(lang="da"), colour="blue")
