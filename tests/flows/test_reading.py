"""A message is read once at the engine's door: one `Reading`, whose forms every reader shares."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from flows import textnorm
from flows.engine import advance
from flows.inputs import StartFlow, Text
from flows.reading import Reading, read
from flows.state import State
from tests.flows.helpers import T0, full_library

LIB = full_library()


def test_the_forms_of_a_message() -> None:
    said = Reading("  Næsten  ALDRIG! /help 7 ")
    assert said.folded == "naesten aldrig! /help 7"
    assert said.keyword_words == ("naesten", "aldrig", "/help", "7")
    assert said.letter_words == ("naesten", "aldrig", "help")
    assert said.loose == "nastenaldrig!/help7"
    assert said.spoken == "NÆSTEN ALDRIG! /HELP 7"
    assert Reading(" 7,5 ").number == 7.5 and said.number is None
    assert Reading("I don't want to live").risk_words == ("i", "dont", "want", "to", "live")


def test_a_reading_is_read_once_and_equal_by_its_text() -> None:
    said = Reading("ja")
    assert read(said) is said and read("ja") == said


@pytest.mark.parametrize("message", ["Ret ofte tror jeg nok", "jeg ved ikke rigtig hvad jeg skal svare", "2 eller 3"])
def test_the_engine_folds_a_message_once(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    """The risk scan, both keyword matchers, the answer parser and the rule for the coach all read the one reading."""
    state = advance(LIB, State(), StartFlow("pss10"), T0).state
    folded: list[str] = []
    original = textnorm.fold

    def counting(text: str) -> str:
        folded.append(text)
        return original(text)

    for module in [m for name, m in sys.modules.items() if name == "flows" or name.startswith("flows.")]:
        found: Callable[[str], str] | None = getattr(module, "fold", None)
        if found is original:
            monkeypatch.setattr(module, "fold", counting)
    assert advance(LIB, state, Text(message), T0).messages
    assert folded.count(message) == 1
