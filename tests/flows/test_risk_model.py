"""The model's second opinion: the pure-Python scorer agrees with scikit-learn, and nobody answering a
question or saying how they are gets a risk alert for it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.loader import MODEL_FILE, load_risk_model, load_risk_terms

ROOT = Path(__file__).resolve().parents[2]
MODEL, MODEL_PROBLEMS = load_risk_model(ROOT / "flows" / MODEL_FILE)
TERMS, _ = load_risk_terms(ROOT / "flows" / "risk_terms.yaml")


def answer_labels() -> list[str]:
    """Every answer a participant can give by typing its words, in both languages (not the safety check's
    own questions, which are about exactly these thoughts)."""
    labels: set[str] = set()
    for path in sorted((ROOT / "flows" / "definitions").glob("*.yaml")):
        if path.stem == "safety_check":
            continue
        stack = [yaml.safe_load(path.read_text(encoding="utf-8"))]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for key, value in item.items():
                    if key == "label" and isinstance(value, dict):
                        labels.update(str(v) for v in value.values())
                    else:
                        stack.append(value)
            elif isinstance(item, list):
                stack += item
    return sorted(labels)


def test_the_shipped_model_scores_as_scikit_learn_did() -> None:
    assert MODEL is not None, MODEL_PROBLEMS
    assert MODEL.checks
    for text, expected in MODEL.checks:
        assert MODEL.probability(text) == pytest.approx(expected, abs=1e-3), text


@pytest.mark.parametrize("label", answer_labels())
def test_no_answer_label_is_a_risk_signal(label: str) -> None:
    assert TERMS is not None
    assert TERMS.scan(label) is None, (label, TERMS.scan(label))


def test_short_messages_are_left_to_the_word_list() -> None:
    assert MODEL is not None and MODEL.min_words >= 3
    assert MODEL.fires("orker ikke") is None


def test_a_broken_model_file_leaves_the_word_list_working(tmp_path: Path) -> None:
    (tmp_path / "risk_terms.yaml").write_text("version: 2\nmoderate:\n  - selvmord*\n", encoding="utf-8")
    (tmp_path / MODEL_FILE).write_text("{not json", encoding="utf-8")
    terms, problems = load_risk_terms(tmp_path / "risk_terms.yaml")
    assert terms is not None and terms.model is None and terms.scan("selvmordstanker") is not None
    assert [p.severity for p in problems] == ["warning"]
