"""How the free-text scan matches: the word rules (forms, phone spellings, typos), concepts within a window,
order, exceptions, and the checker's messages for a broken word list. Small word lists written here, so each
behaviour is shown on its own; the shipped list is measured by benchmarks/risk_recall.py."""

from __future__ import annotations

import pytest

from flows.risk import RiskTerms, Rule
from flows.risk_file import read_risk_terms
from flows.risk_words import canonical, one_edit_apart, words_of

WISH_DIE = RiskTerms.of([("WISH DIE", "low")], {"WISH": ["vil", "=want"], "DIE": ["dø", "=die"]})


@pytest.mark.parametrize("text", ["jeg vil bare dø", "jeg vil bare doe", "vil bare do", "JEG VIL DØ!!",
                                  "dø, det vil jeg", "I just want to die", "i want to die"])
def test_a_concept_rule_fires_in_any_order_and_spelling(text: str) -> None:
    assert WISH_DIE.scan(text) is not None, text


@pytest.mark.parametrize("text", ["jeg vil dømme ham", "I want to diet", "dø", "jeg vil gerne have en kop kaffe og så "
                                  "snakke om min mormor der skulle dø"])
def test_whole_words_and_the_window_keep_it_quiet(text: str) -> None:
    assert WISH_DIE.scan(text) is None, text


def test_word_forms_typos_and_patterns() -> None:
    terms = RiskTerms.of([("leve", "low"), ("selvmord*", "moderate"), ("*selvmord*", "moderate"),
                          ("=dør", "low"), ("killing", "moderate")])
    assert terms.scan("jeg lever") is not None  # a Danish form of the word
    assert terms.scan("slevmordstanker") is not None and terms.scan("ungdomsselvmord") is not None
    assert terms.scan("jeg dør") is not None and terms.scan("døren er lukket") is None  # =word: no other forms
    assert terms.scan("killng") is not None  # one letter missing in a long word


def test_a_minus_word_keeps_a_look_alike_out_of_a_concept() -> None:
    terms = RiskTerms.of([("WISH DIE", "low")], {"WISH": ["vil", "=want"], "DIE": ["dø", "=die", "-do", "-doing"]})
    assert terms.scan("jeg vil dø") is not None and terms.scan("I want to die") is not None
    assert terms.scan("I want to do the exercise") is None and terms.scan("I want to keep doing it") is None
    assert "DIE" in terms.terms_of("doe") and "DIE" not in terms.terms_of("do")  # only the word as typed


def test_canonical_spelling() -> None:
    assert canonical("Vågne") == canonical("vaagne") == canonical("vagne")
    assert canonical("ikkkke") == "ikke" and canonical("off") != canonical("of")
    assert words_of("I don't, w/o me") == ["i", "dont", "without", "me"]
    assert one_edit_apart("selvmord", "slevmord") and not one_edit_apart("selvmord", "sevlmrod")


def test_order_exceptions_and_the_most_urgent_rule() -> None:
    terms = RiskTerms(
        (Rule.parse("TAKE MY LIFE", "moderate", window=3, in_order=True), Rule.parse("LIFE SOON", "high")),
        {"TAKE": ("tage", "=tager"), "MY": ("=mit", "=min"), "LIFE": ("liv", "livet"), "SOON": ("=nat",)},
        ())
    assert terms.scan("jeg vil tage mit liv") is not None
    assert terms.scan("min chef tager livet af mig") is None  # MY before TAKE: not in the written order
    found = terms.scan("tage mit liv i nat")
    assert found is not None and found.level == "high"
    idioms = RiskTerms.of([("keder ihjel", "moderate"), ("slå ihjel", "moderate")], exceptions=["keder mig ihjel"])
    assert idioms.scan("jeg keder mig ihjel") is None
    assert idioms.scan("jeg keder mig ihjel og vil slå mig ihjel") is not None  # the rest is still scanned


def test_the_checker_names_every_mistake_with_its_line() -> None:
    text = """version: 2
concepts:
  WISH: [vil, "a phrase"]
  lower: [x]
  UNUSED: [y]
exceptions:
  - jeg vil
high:
  - WISH NOPE
  - ""
  - {words: "jeg vil", window: 99}
  - {words: "vil", sometimes: true}
  - WISH -do
"""
    terms, problems = read_risk_terms(text, "terms.yaml")
    assert terms is None
    messages = [str(p) for p in problems]
    expected = [
        ("terms.yaml:3:", "'a phrase' in WISH is not one word"),
        ("terms.yaml:4:", "must be written in capitals"),
        ("terms.yaml:9:", "unknown concept NOPE"),
        ("terms.yaml:10:", "is empty"),
        ("terms.yaml:11:", "window must be a whole number"),
        ("terms.yaml:12:", "not sometimes"),
        ("terms.yaml:13:", "a -word belongs in a concept"),
        ("terms.yaml:5:", "UNUSED is not used"),
    ]
    for where, what in expected:
        assert any(m.startswith(where) and what in m for m in messages), (where, what, messages)


def test_a_rule_an_exception_would_swallow_is_an_error() -> None:
    text = "version: 2\nexceptions:\n  - keder mig ihjel\nmoderate:\n  - keder mig ihjel\n  - slå ihjel\n"
    terms, problems = read_risk_terms(text, "terms.yaml")
    assert terms is None
    assert any(str(p).startswith("terms.yaml:5:") and "could never fire" in str(p) for p in problems)
