"""Suicide-risk signals: risk levels, flow risk rules, and the free-text scan of everything a person writes.

The scan is administrators' data (`flows/risk_terms.yaml`, read by `flows/risk_file.py`) and explainable: a
rule is a few terms that must all occur within a window of words, in any order: "WISH DIE" fires on "jeg vil
bare dø", "I just want to die" and "dø, det vil jeg". A term is a concept (a named list of words, in capitals)
or a single word; `flows/risk_words.py` says how a word matches the ways people type it. Idioms listed as
exceptions ("keder mig ihjel", "dead tired") are taken out of the message before the rules look at it. The
most urgent level with a matching rule wins. Matching prefers a false alarm to a miss.

Pure: the word list is read at start and passed to the engine inside the `FlowLibrary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise, product
from math import prod

from flows.conditions import Condition
from flows.reading import Reading, read
from flows.risk_model import RiskModel
from flows.risk_words import Pattern, WordIndex, words_of

LEVELS = ("low", "moderate", "high")  # ordered: later is more urgent
SAFETY_CHECK = "safety_check"  # the flow offered after any risk signal
DEFAULT_WINDOW = 6  # at most this many words from the first to the last word of a rule's match
MAX_COMBINATIONS = 2_000  # bounds the work one rule may do on one very long message


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


def is_concept(term: str) -> bool:
    """Concept names are written in capitals, two letters or more (WISH, DIE); anything else is a word ("I")."""
    return len(term) >= 2 and term.isupper() and term.replace("_", "").isalnum()


@dataclass(frozen=True)
class Rule:
    """One line of the word list: its terms must all be found within `window` words of each other."""

    written: str
    level: str
    terms: tuple[str, ...]
    window: int = DEFAULT_WINDOW
    line: int = 0
    in_order: bool = False  # the terms in the order written ("TAKE MY LIFE", not "min chef tager livet")

    @classmethod
    def parse(cls, written: str, level: str, window: int = DEFAULT_WINDOW, line: int = 0,
              in_order: bool = False) -> Rule:
        return cls(written.strip(), level, tuple(written.split()), window, line, in_order)


@dataclass(frozen=True)
class Exception_:
    """An idiom that must not count ("keder mig ihjel"): its terms in a row are taken out of the message, or
    with a `window`, its terms in any order within that many words ("her ... på arbejdet")."""

    written: str
    terms: tuple[str, ...]
    line: int = 0
    window: int | None = None
    in_order: bool = False


@dataclass(frozen=True)
class TermMatch:
    phrase: str  # the rule as written in the word list
    level: str
    words: tuple[str, ...] = ()  # the words of the message that matched, in message order


@dataclass(frozen=True)
class RiskTerms:
    """The administrators' word list, compiled for scanning."""

    rules: tuple[Rule, ...] = ()
    concepts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exceptions: tuple[Exception_, ...] = ()
    model: RiskModel | None = field(default=None, compare=False)  # the second opinion (flows/risk_model.py)
    _index: WordIndex = field(init=False, compare=False, repr=False)
    _term_of_pattern: tuple[str, ...] = field(init=False, compare=False, repr=False)
    _ordered: tuple[tuple[Rule, frozenset[str]], ...] = field(init=False, compare=False, repr=False)
    _rules_with: dict[str, list[int]] = field(init=False, compare=False, repr=False)  # term -> rules using it
    _not_words: dict[str, frozenset[str]] = field(init=False, compare=False, repr=False)  # typed word -> concepts

    @classmethod
    def of(cls, phrases: Sequence[tuple[str, str]], concepts: Mapping[str, Sequence[str]] | None = None,
           exceptions: Sequence[str] = ()) -> RiskTerms:
        """A word list from plain (rule, level) pairs: for tests and small examples."""
        return cls(tuple(Rule.parse(text, level) for text, level in phrases),
                   {name: tuple(words) for name, words in (concepts or {}).items()},
                   tuple(Exception_(text, tuple(text.split())) for text in exceptions))

    def __post_init__(self) -> None:
        patterns: list[Pattern] = []
        owners: list[str] = []
        not_words: dict[str, set[str]] = {}
        for name, words in self.concepts.items():
            for word in words:
                pattern = Pattern.parse(word)
                if pattern is not None and pattern.kind == "not":
                    not_words.setdefault(pattern.key, set()).add(name)
                elif pattern is not None:
                    patterns.append(pattern)
                    owners.append(name)
        object.__setattr__(self, "_not_words", {word: frozenset(names) for word, names in not_words.items()})
        for term in {t for rule in self.rules for t in rule.terms} | {t for e in self.exceptions for t in e.terms}:
            pattern = None if is_concept(term) else Pattern.parse(term)
            if pattern is not None:
                patterns.append(pattern)
                owners.append(term)
        object.__setattr__(self, "_index", WordIndex(patterns))
        object.__setattr__(self, "_term_of_pattern", tuple(owners))
        # most urgent first; within a level, the longer (more specific) rule names the match
        ordered = sorted(self.rules, key=lambda r: (-rank(r.level), -len(r.terms)))
        object.__setattr__(self, "_ordered", tuple((rule, frozenset(rule.terms)) for rule in ordered))
        rules_with: dict[str, list[int]] = {}
        for i, rule in enumerate(ordered):
            for term in set(rule.terms):
                rules_with.setdefault(term, []).append(i)
        object.__setattr__(self, "_rules_with", rules_with)

    def terms_of(self, word: str) -> frozenset[str]:
        """The concepts and words of the list that a typed word counts as (a concept's `-word` excluded)."""
        found = frozenset(self._term_of_pattern[n] for n in self._index.matches(word))
        excluded = self._not_words.get(word)
        return found - excluded if excluded else found

    def scan(self, said: Reading | str) -> TermMatch | None:
        """The most urgent rule that matches the message, if any; else the model's low signal, if it fires."""
        words = read(said).risk_words
        found = [self.terms_of(w) for w in words]
        masked = self._without_exceptions(found) if any(found) else found
        hit = self._match(words, masked)
        if hit is None and self.model is not None:
            kept, concepts = _model_view(words, found, masked)
            probability = self.model.fires_on(kept, concepts, length=len(words))
            if probability is not None:
                return TermMatch(f"model {probability:.2f}", "low")
        return hit

    def scan_rules(self, said: Reading | str) -> TermMatch | None:
        """The most urgent rule that matches the message, if any (the word list alone)."""
        words = read(said).risk_words
        found = [self.terms_of(w) for w in words]
        if not any(found):  # an answer ("3", "ret ofte"): no word of the list at all
            return None
        return self._match(words, self._without_exceptions(found))

    def model_view(self, said: Reading | str) -> tuple[list[str], list[frozenset[str]]]:
        """What the model reads of a message: its words without those an exception takes out, and the concepts
        each of those words counts as (benchmarks/train_risk_model.py trains on exactly this)."""
        words = read(said).risk_words
        found = [self.terms_of(w) for w in words]
        return _model_view(words, found, self._without_exceptions(found) if any(found) else found)

    def _match(self, words: Sequence[str], found: list[frozenset[str]]) -> TermMatch | None:
        """The most urgent rule whose terms are found (exceptions already taken out) within its window."""
        if not any(found):
            return None
        positions: dict[str, list[int]] = {}
        for i, terms in enumerate(found):
            for term in terms:
                positions.setdefault(term, []).append(i)
        present = positions.keys()
        candidates = sorted({i for term in present for i in self._rules_with.get(term, ())})
        for i in candidates:
            rule, needed = self._ordered[i]
            if needed <= present:
                hit = _within_window(rule, positions)
                if hit is not None:
                    return TermMatch(rule.written, rule.level, tuple(words[i] for i in sorted(hit)))
        return None

    def exception_covers(self, text: str) -> bool:
        """True when an exception takes every word of `text` out (a rule written like an idiom never fires)."""
        words = words_of(text)
        return bool(words) and not any(self._without_exceptions([self.terms_of(w) for w in words]))

    def _without_exceptions(self, found: list[frozenset[str]]) -> list[frozenset[str]]:
        present = frozenset().union(*found)
        candidates = [e for e in self.exceptions if present.issuperset(e.terms)]
        if not candidates:
            return found
        masked = list(found)
        for exception in candidates:
            if exception.window is not None:
                for i in _windowed(exception, found):
                    masked[i] = frozenset()
                continue
            size = len(exception.terms)
            for start in range(len(found) - size + 1):
                if all(term in found[start + k] for k, term in enumerate(exception.terms)):
                    for k in range(size):
                        masked[start + k] = frozenset()
        return masked


def _model_view(words: Sequence[str], found: list[frozenset[str]],
                masked: list[frozenset[str]]) -> tuple[list[str], list[frozenset[str]]]:
    """The words an exception left, each with the concepts (not the plain words) of the list it counts as."""
    kept = [i for i in range(len(words)) if masked[i] or not found[i]]
    return [words[i] for i in kept], [frozenset(t for t in masked[i] if is_concept(t)) for i in kept]


def _nearest(options: list[int], anchor: int) -> list[int]:
    return sorted(options, key=lambda p: abs(p - anchor))[:3]


def _windowed(exception: Exception_, found: list[frozenset[str]]) -> set[int]:
    """Every word position taken by a match of a windowed exception."""
    positions: dict[str, list[int]] = {}
    for i, terms in enumerate(found):
        for term in terms:
            positions.setdefault(term, []).append(i)
    if not all(term in positions for term in exception.terms):
        return set()
    as_rule = Rule(exception.written, "low", exception.terms, exception.window or 0, in_order=exception.in_order)
    taken: set[int] = set()
    hit = _within_window(as_rule, positions)
    while hit is not None and not taken.issuperset(hit):
        taken.update(hit)
        for term, position in zip(exception.terms, hit, strict=True):  # look for another occurrence
            positions[term] = [p for p in positions[term] if p != position]
        if not all(positions.get(term) for term in exception.terms):
            break
        hit = _within_window(as_rule, positions)
    return taken


def _within_window(rule: Rule, positions: dict[str, list[int]]) -> tuple[int, ...] | None:
    """Distinct word positions, one per term, spanning at most `rule.window` words; None if there are none."""
    choices = [positions[term] for term in rule.terms]
    if len(choices) == 1:  # one term: any of its words
        return (choices[0][0],)
    first, rest = choices[0], choices[1:]
    for anchor in first:
        near = [[p for p in options if abs(p - anchor) <= rule.window] for options in rest]
        if not all(near):
            continue
        if prod(len(options) for options in near) > MAX_COMBINATIONS:  # a very long message: nearest words only
            near = [_nearest(options, anchor) for options in near]
        for combination in product(*near):
            chosen = (anchor, *combination)
            if len(set(chosen)) != len(chosen) or max(chosen) - min(chosen) > rule.window:
                continue
            if not rule.in_order or all(a < b for a, b in pairwise(chosen)):
                return chosen
    return None
