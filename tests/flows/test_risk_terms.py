"""The free-text scan against the example table in docs/safety-content.md (the table is the specification)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.risk import RiskTerms
from flows.risk_loader import load_risk_terms, read_risk_terms

ROOT = Path(__file__).resolve().parents[2]
TERMS, PROBLEMS = load_risk_terms(ROOT / "flows" / "risk_terms.yaml")
ROW = re.compile(r"^\| *(\d+) *\| *(.+?) *\| *(none|low|moderate|high) *\|")


def examples() -> list[tuple[str, str | None]]:
    rows = []
    for line in (ROOT / "docs" / "safety-content.md").read_text(encoding="utf-8").splitlines():
        found = ROW.match(line)
        if found:
            rows.append((found[2], None if found[3] == "none" else found[3]))
    return rows


def test_the_shipped_word_list_loads_without_errors() -> None:
    assert TERMS is not None, [str(p) for p in PROBLEMS]
    assert len(examples()) >= 60


@pytest.mark.parametrize(("message", "level"), examples())
def test_documented_examples(message: str, level: str | None) -> None:
    assert TERMS is not None
    found = TERMS.scan(message)
    assert (found.level if found else None) == level, (message, found)


def test_matching_ignores_case_accents_punctuation_and_spacing() -> None:
    terms = RiskTerms.of((("slå mig selv ihjel", "moderate"), ("kill myself", "moderate")))
    for text in ["SLÅ MIG SELV IHJEL", "slaa mig  selv ihjel!", "...kill-myself...", "I'll KILL myself."]:
        assert terms.scan(text) is not None, text
    assert terms.scan("skill myself up") is None  # whole words, not the end of another word


def test_the_most_urgent_phrase_wins() -> None:
    terms = RiskTerms.of((("selvmord", "moderate"), ("i nat", "high"), ("død", "low")))
    found = terms.scan("død, selvmord i nat")
    assert found is not None and found.level == "high"


def test_a_broken_word_list_is_reported_with_lines() -> None:
    terms, problems = read_risk_terms("version: 1\nhigh:\n  - yes\n  - ''\nurgent:\n  - x\n", "terms.yaml")
    assert terms is None
    messages = [str(p) for p in problems]
    assert any(m.startswith("terms.yaml:3:") for m in messages)  # `yes` is a boolean in YAML: quote it
    assert any(m.startswith("terms.yaml:4:") for m in messages)
    assert any(m.startswith("terms.yaml:5:") and "unknown key 'urgent'" in m for m in messages)
