"""Suicide-risk signals: risk levels, flow risk rules, and the free-text word list.

Pure: the word list is read by `load_risk_terms` (used by the checker and at start) and then passed to the
engine inside the `FlowLibrary`. Matching prefers a false alarm to a miss: case, accents and punctuation
are ignored, and a phrase also matches at the start of a longer word ("selvmord" in "selvmordstanker").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flows.conditions import Condition
from flows.textnorm import fold
from flows.yamlsource import LineList, LineMap, Problem, read_yaml

LEVELS = ("low", "moderate", "high")  # ordered: later is more urgent
SAFETY_CHECK = "safety_check"  # the flow offered after any risk signal
MAX_SCAN_CHARS = 20_000  # longer messages are scanned up to here (a phone cannot send more anyway)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def rank(level: str | None) -> int:
    """0 for no risk, then 1, 2, 3 for low, moderate, high."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def highest(levels: list[str]) -> str | None:
    return max(levels, key=rank, default=None)


@dataclass(frozen=True)
class RiskRule:
    """In a flow file: when `condition` holds after an answer, the run signals `level`."""

    condition: Condition
    level: str


def normalize(text: str) -> str:
    """Lower-case, accent-free words separated by single spaces: "Selvmords-tanker!" -> "selvmords tanker"."""
    return " ".join(_NON_WORD.sub(" ", fold(text[:MAX_SCAN_CHARS])).split())


@dataclass(frozen=True)
class TermMatch:
    phrase: str  # as written in the word list
    level: str


@dataclass(frozen=True)
class RiskTerms:
    """The administrators' word list, compiled: one pattern per level, most urgent level first."""

    phrases: tuple[tuple[str, str], ...] = ()  # (phrase as written, level)
    _patterns: tuple[tuple[str, re.Pattern[str], dict[str, str]], ...] = field(
        default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        patterns = []
        for level in reversed(LEVELS):
            by_key = {normalize(p): p for p, lvl in self.phrases if lvl == level and normalize(p)}
            if by_key:
                alternatives = "|".join(re.escape(k) for k in sorted(by_key, key=len, reverse=True))
                patterns.append((level, re.compile(rf"(?<![a-z0-9])(?:{alternatives})"), by_key))
        object.__setattr__(self, "_patterns", tuple(patterns))

    def scan(self, text: str) -> TermMatch | None:
        """The most urgent phrase found in `text`, if any."""
        normalized = normalize(text)
        for level, pattern, by_key in self._patterns:
            found = pattern.search(normalized)
            if found is not None:
                return TermMatch(by_key[found.group(0)], level)
        return None


def read_risk_terms(text: str, path: str) -> tuple[RiskTerms | None, list[Problem]]:
    data, problems = read_yaml(text, path)
    if data is None:
        return None, problems
    if not isinstance(data, LineMap):
        return None, [*problems, Problem(path, 1, "the word list must be a block with high, moderate and low")]
    phrases: list[tuple[str, str]] = []
    for key in data:
        if key == "version":
            continue
        if key not in LEVELS:
            problems.append(Problem(path, data.line_of(key), f"unknown key {key!r} (use version, high, moderate, low)"))
            continue
        items = data[key]
        if not isinstance(items, LineList):
            problems.append(Problem(path, data.line_of(key), f"{key} must be a list of phrases"))
            continue
        for i, item in enumerate(items):
            if not isinstance(item, str) or not normalize(item):
                problems.append(Problem(path, items.line_of(i), f"{item!r} under {key} is not a phrase (quote it)"))
            else:
                phrases.append((item, str(key)))
    if not phrases:
        problems.append(Problem(path, 1, "the word list has no phrases: the free-text scan would never fire"))
    seen: dict[str, str] = {}
    for phrase, level in phrases:
        key = normalize(phrase)
        if key in seen and seen[key] != level:
            problems.append(Problem(path, data.line, f"{phrase!r} is listed under both {seen[key]} and {level}",
                                    "warning"))
        seen.setdefault(key, level)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return RiskTerms(tuple(phrases)), problems
