"""Read and check the free-text word list (`flows/risk_terms.yaml`): every problem with its line.

The file has `version`, an optional default `window`, `concepts` (named word lists, names in capitals),
`exceptions` (idioms taken out before matching) and the rules under `high`, `moderate` and `low`. A rule is
a string of terms ("WISH DIE") or a mapping with its own window and, if the order matters, `in_order: true`
(`{words: "TAKE MY LIFE", window: 3, in_order: true}`).
The format is documented for administrators in docs/flow-format.md and in the file's own header.
"""

from __future__ import annotations

from typing import Any

from flows.risk import DEFAULT_WINDOW, LEVELS, Exception_, RiskTerms, Rule, is_concept
from flows.risk_model import RiskModel
from flows.risk_words import Pattern
from flows.yamlsource import LineList, LineMap, Problem, read_yaml

MAX_WINDOW = 30
TOP_KEYS = ("version", "window", "concepts", "exceptions", *LEVELS)


class _Report:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def warning(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message, "warning"))


def read_risk_terms(text: str, path: str, model: RiskModel | None = None) -> tuple[RiskTerms | None, list[Problem]]:
    data, problems = read_yaml(text, path)
    report = _Report(path)
    report.problems += problems
    if data is None:
        return None, report.problems
    if not isinstance(data, LineMap):
        report.error(1, "the word list must be a block with concepts, exceptions, high, moderate and low")
        return None, report.problems
    for key in data:
        if key not in TOP_KEYS:
            report.error(data.line_of(key), f"unknown key {key!r} (use {', '.join(TOP_KEYS)})")
    window = _window(data.get("window", DEFAULT_WINDOW), data.line_of("window"), report)
    concepts = _concepts(data.get("concepts"), data.line_of("concepts"), report)
    exceptions = _exceptions(data.get("exceptions"), data.line_of("exceptions"), concepts, report)
    rules = [rule for level in LEVELS if level in data
             for rule in _rules(data[level], str(level), data.line_of(level), window, concepts, report)]
    if not rules:
        report.error(1, "the word list has no rules: the free-text scan would never fire")
    used = {t for rule in rules for t in rule.terms} | {t for e in exceptions for t in e.terms}
    for name in concepts:
        if name not in used:
            report.warning(data["concepts"].line_of(name), f"the concept {name} is not used by any rule")
    if any(p.severity == "error" for p in report.problems):
        return None, report.problems
    terms = RiskTerms(tuple(rules), concepts, tuple(exceptions), model)
    _check_against_exceptions(terms, concepts, report)
    seen: dict[tuple[str, ...], Rule] = {}
    for rule in rules:
        key = tuple(sorted(rule.terms))
        if key in seen and seen[key].level != rule.level:
            report.warning(rule.line, f"{rule.written!r} is listed under both {seen[key].level} and {rule.level}")
        seen.setdefault(key, rule)
    if any(p.severity == "error" for p in report.problems):
        return None, report.problems
    return terms, report.problems


def _window(value: Any, line: int, report: _Report) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WINDOW:
        report.error(line, f"window must be a whole number of words from 0 to {MAX_WINDOW}, not {value!r}")
        return DEFAULT_WINDOW
    return value


def _concepts(data: Any, line: int, report: _Report) -> dict[str, tuple[str, ...]]:
    if data is None:
        return {}
    if not isinstance(data, LineMap):
        report.error(line, "concepts must be a block of NAME: [word, word, ...]")
        return {}
    concepts: dict[str, tuple[str, ...]] = {}
    for name, words in data.items():
        where = data.line_of(name)
        if not isinstance(name, str) or not is_concept(name):
            report.error(where, f"the concept name {name!r} must be written in capitals, e.g. WISH")
            continue
        if not isinstance(words, list) or not words:
            report.error(where, f"the concept {name} must be a list of one or more words")
            continue
        good = []
        for i, word in enumerate(words):
            at = words.line_of(i) if isinstance(words, LineList) else where
            if not isinstance(word, str) or Pattern.parse(word) is None:
                report.error(at, f"{word!r} in {name} is not one word (quote it; write phrases as rules)")
            else:
                good.append(word)
        if good and all(word.strip().startswith("-") for word in good):
            report.error(where, f"the concept {name} has only -words (words it must not match): add a word")
            continue
        concepts[name] = tuple(good)
    return concepts


def _terms(written: Any, line: int, what: str, concepts: dict[str, tuple[str, ...]],
           report: _Report) -> tuple[str, ...] | None:
    if not isinstance(written, str) or not written.split():
        report.error(line, f"{written!r} {what} is empty or not text (quote it)")
        return None
    terms = tuple(written.split())
    for term in terms:
        if is_concept(term):
            if term not in concepts:
                report.error(line, f"unknown concept {term} in {written!r} {what}")
                return None
        elif (pattern := Pattern.parse(term)) is None or pattern.kind == "not":
            report.error(line, f"{term!r} in {written!r} {what} is not a word (a -word belongs in a concept)")
            return None
    return terms


def _exceptions(data: Any, line: int, concepts: dict[str, tuple[str, ...]], report: _Report) -> list[Exception_]:
    if data is None:
        return []
    if not isinstance(data, LineList):
        report.error(line, "exceptions must be a list of idioms")
        return []
    found = []
    for i, item in enumerate(data):
        window, in_order = None, False
        if isinstance(item, LineMap):
            window, in_order = _options(item, DEFAULT_WINDOW, report)
            item = item.get("words")
        terms = _terms(item, data.line_of(i), "under exceptions", concepts, report)
        if terms is not None:
            found.append(Exception_(str(item).strip(), terms, data.line_of(i), window, in_order))
    return found


def _options(item: LineMap, window: int, report: _Report) -> tuple[int, bool]:
    """The window and in_order of a rule or exception written as a mapping."""
    unknown = set(item) - {"words", "window", "in_order"}
    if unknown:
        report.error(item.line, f"use words, window and in_order, not {', '.join(map(str, sorted(unknown)))}")
    own_window = _window(item.get("window", window), item.line_of("window"), report)
    in_order = item.get("in_order", False)
    if not isinstance(in_order, bool):
        report.error(item.line_of("in_order"), f"in_order must be true or false, not {in_order!r}")
        in_order = False
    return own_window, in_order


def _rules(data: Any, level: str, line: int, window: int, concepts: dict[str, tuple[str, ...]],
           report: _Report) -> list[Rule]:
    if not isinstance(data, LineList):
        report.error(line, f"{level} must be a list of rules")
        return []
    rules = []
    for i, item in enumerate(data):
        at = data.line_of(i)
        own_window, in_order = window, False
        if isinstance(item, LineMap):
            own_window, in_order = _options(item, window, report)
            item = item.get("words")
        terms = _terms(item, at, f"under {level}", concepts, report)
        if terms is not None:
            rules.append(Rule(str(item).strip(), level, terms, own_window, at, in_order))
    return rules


def _check_against_exceptions(terms: RiskTerms, concepts: dict[str, tuple[str, ...]], report: _Report) -> None:
    """A rule whose own words an exception takes out could never fire: that is a mistake in the list."""
    for rule in terms.rules:
        example = " ".join(next(w for w in concepts[t] if not w.startswith("-")) if is_concept(t) else t.strip("=*")
                           for t in rule.terms)
        if terms.exception_covers(example):
            report.error(rule.line, f"{rule.written!r} under {rule.level} is taken out by an exception "
                                    f"(read as {example!r}): it could never fire")
