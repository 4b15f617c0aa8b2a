"""Branch conditions: a tiny, safe comparison language for `if:` in flow files.

"q2 == 1", "score.total >= 17 and q3 < 2 or q9 > 0". `and` binds tighter than `or`; no parentheses,
no arithmetic, nothing evaluated by Python. Parsed once by the loader, evaluated by the engine.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_COMPARISON = re.compile(
    r"^\s*(?P<ref>(?:score\.)?[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<num>-?\d+(?:\.\d+)?)\s*$"
)


class ConditionError(ValueError):
    """The condition text cannot be parsed; the message says what was expected."""


@dataclass(frozen=True)
class Comparison:
    ref: str  # a step id, or "score.<id>"
    op: str
    value: float

    @property
    def is_score(self) -> bool:
        return self.ref.startswith("score.")

    @property
    def name(self) -> str:
        return self.ref.removeprefix("score.")


@dataclass(frozen=True)
class Condition:
    """Disjunction of conjunctions: any(all(c for c in group) for group in groups)."""

    groups: tuple[tuple[Comparison, ...], ...]
    text: str

    def comparisons(self) -> list[Comparison]:
        return [c for group in self.groups for c in group]

    def holds(self, lookup: Callable[[Comparison], float | None]) -> bool:
        """True when some `and` group holds; a comparison whose value is unknown is false."""
        return any(all(_compare(c, lookup(c)) for c in group) for group in self.groups)


def _compare(c: Comparison, actual: float | None) -> bool:
    return actual is not None and _OPS[c.op](actual, c.value)


def parse_condition(text: str) -> Condition:
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("a condition must be a text such as \"q2 == 1\"")
    groups: list[tuple[Comparison, ...]] = []
    for alternative in re.split(r"\s+or\s+", text.strip()):
        parts: list[Comparison] = []
        for part in re.split(r"\s+and\s+", alternative):
            m = _COMPARISON.match(part)
            if m is None:
                raise ConditionError(
                    f"cannot read {part.strip()!r}: write ANSWER_OR_score.ID OPERATOR NUMBER, e.g. \"q2 >= 1\""
                )
            parts.append(Comparison(m["ref"], m["op"], float(m["num"])))
        groups.append(tuple(parts))
    return Condition(tuple(groups), text.strip())
