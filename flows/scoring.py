"""Scores exactly as the instrument's manual says: reverse the named items, sum (less any `minus` items),
multiply, then band."""

from __future__ import annotations

from collections.abc import Mapping

from flows.model import Band, Flow, Score


def item_value(flow: Flow, score: Score, item: str, value: float) -> float:
    """The value an answer contributes: reversed items score (lowest + highest) - answer."""
    if item not in score.reverse:
        return value
    step = flow.step(item)
    bounds = step.value_range() if step is not None else None
    if bounds is None:  # the checker refuses such flows; stay total anyway
        return value
    low, high = bounds
    return low + high - value


def compute(flow: Flow, score: Score, answers: Mapping[str, float]) -> float | None:
    """The score, or None when an item is unanswered (a partial score is never reported)."""
    if any(item not in answers for item in score.all_items):
        return None
    total = sum(item_value(flow, score, item, answers[item]) for item in score.items)
    total -= sum(item_value(flow, score, item, answers[item]) for item in score.minus)
    return total * score.multiplier


def scored(flow: Flow, answers: Mapping[str, float]) -> dict[str, tuple[float, Band | None]]:
    """Every score of the flow that is complete, with its band."""
    result: dict[str, tuple[float, Band | None]] = {}
    for score in flow.scores:
        value = compute(flow, score, answers)
        if value is not None:
            result[score.id] = (value, score.band_for(value))
    return result
