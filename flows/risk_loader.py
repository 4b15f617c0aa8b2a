"""Reading the word list, its model and the flows' answer labels from disk (the engine never reads files: it is
handed the compiled `RiskTerms` at start)."""

from __future__ import annotations

import json
from pathlib import Path

from flows.risk import RiskTerms
from flows.risk_file import read_risk_terms
from flows.risk_model import RiskModel
from flows.yamlsource import Problem

MODEL_FILE = "risk_model.json"


def answer_labels(folder: Path, skip: tuple[str, ...] = ("safety_check",)) -> list[str]:
    """Every answer label of the flow files in `folder`, in every language: what a participant may type back.
    (The safety check is left out by default: its options answer questions about exactly these thoughts.)"""
    import yaml

    labels: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        if path.stem in skip:
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


def load_risk_terms(path: Path) -> tuple[RiskTerms | None, list[Problem]]:
    """The word list, with the model beside it (risk_model.json) as its second opinion when there is one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), 0, f"cannot read the word list: {exc}")]
    model, problems = load_risk_model(path.with_name(MODEL_FILE))
    terms, more = read_risk_terms(text, str(path), model)
    return terms, [*problems, *more]


def load_risk_model(path: Path) -> tuple[RiskModel | None, list[Problem]]:
    """None without problems when there is no model file: the word list works on its own."""
    if not path.exists():
        return None, []
    try:
        return RiskModel.from_json(json.loads(path.read_text(encoding="utf-8"))), []
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
        return None, [Problem(str(path), 0, f"the risk model cannot be read ({type(exc).__name__}); the word list "
                                            "works without it", "warning")]
