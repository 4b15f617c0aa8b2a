"""The model's second opinion: the pure-Python scorer agrees with scikit-learn, it reads what the word list's
exceptions leave, and nobody answering a question or saying how they are gets a risk alert for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.risk_loader import MODEL_FILE, answer_labels, load_risk_model, load_risk_terms

ROOT = Path(__file__).resolve().parents[2]
MODEL, MODEL_PROBLEMS = load_risk_model(ROOT / "flows" / MODEL_FILE)
TERMS, _ = load_risk_terms(ROOT / "flows" / "risk_terms.yaml")


def test_the_shipped_model_scores_as_scikit_learn_did() -> None:
    assert MODEL is not None, MODEL_PROBLEMS
    assert TERMS is not None and TERMS.model is not None
    assert MODEL.checks
    for text, expected in MODEL.checks:
        assert MODEL.probability_of(*TERMS.model_view(text)) == pytest.approx(expected, abs=1e-3), text


def test_the_model_reads_the_concepts_and_not_the_idioms() -> None:
    assert TERMS is not None
    words, concepts = TERMS.model_view("I don't want to exist, hope i don't wake up before 9")
    assert "wake" not in words and "before" not in words  # "wake up before 9": an exception takes them out
    assert {"NOT", "LIVE"} <= set().union(*concepts)  # "don't ... exist": the concepts the model sees
    assert TERMS.model_view("ret ofte") == (["ret", "ofte"], [frozenset(), frozenset()])


def test_an_older_model_file_is_refused_and_the_word_list_works(tmp_path: Path) -> None:
    (tmp_path / "risk_terms.yaml").write_text("version: 2\nmoderate:\n  - selvmord*\n", encoding="utf-8")
    (tmp_path / MODEL_FILE).write_text('{"char": {}, "word": {}, "intercept": 0, "threshold": 0.8, "min_words": 3}',
                                       encoding="utf-8")
    terms, problems = load_risk_terms(tmp_path / "risk_terms.yaml")
    assert terms is not None and terms.model is None and terms.scan("selvmordstanker") is not None
    assert [p.severity for p in problems] == ["warning"]


@pytest.mark.parametrize("label", answer_labels(ROOT / "flows" / "definitions"))
def test_no_answer_label_is_a_risk_signal(label: str) -> None:
    assert TERMS is not None
    assert TERMS.scan(label) is None, (label, TERMS.scan(label))


def test_short_messages_are_left_to_the_word_list() -> None:
    assert MODEL is not None and MODEL.min_words >= 3
    assert MODEL.fires_on(["orker", "ikke"]) is None


def test_a_broken_model_file_leaves_the_word_list_working(tmp_path: Path) -> None:
    (tmp_path / "risk_terms.yaml").write_text("version: 2\nmoderate:\n  - selvmord*\n", encoding="utf-8")
    (tmp_path / MODEL_FILE).write_text("{not json", encoding="utf-8")
    terms, problems = load_risk_terms(tmp_path / "risk_terms.yaml")
    assert terms is not None and terms.model is None and terms.scan("selvmordstanker") is not None
    assert [p.severity for p in problems] == ["warning"]
