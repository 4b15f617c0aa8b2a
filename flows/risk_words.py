"""How a word in a risk rule matches a word a person typed: forms, phone spellings and one-letter typos.

People write "jeg vil bare doe", "selvmordstanker", "slevmord", "vaagner" and "don't" on a phone. The word
list is written once, in ordinary spelling; this module makes each of its words match the ways it is typed:

- **canonical spelling**: case and accents ignored, æ/ø/å written as ae/oe/aa or as bare a/o, and a letter
  typed three times or more the same as twice ("vågne" = "vaagne" = "vagne"; "ikkkke" = "ikke");
- **word forms**: the Danish and English Snowball stemmers ("lever", "levede" and "leve"; "dying" and "die");
- **one-letter typos** in words of seven letters or more (a letter missing, added, changed or two swapped), and
  a letter missing or added in words of five ("inen" for "ingen", "vågene" for "vågne");
- **pattern words**: `word*` any word starting with it ("selvmord*" in "selvmordstanker"), `*word*` any word
  containing it ("ungdomsselvmord"), `=word` that word and no other form ("=dør": not "døren"; typos are
  still forgiven), and in a concept `-word`: never this word exactly as typed, whatever else of the concept it
  looks like (DIE's "dø" is "do" without ø, so DIE says `-do`: the English "do" is not "dø").

Pure and deterministic; a `WordIndex` keeps a cache of the words it has seen, which only saves time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from flows.textnorm import fold

MAX_SCAN_CHARS = 20_000  # longer messages are scanned up to here (a phone cannot send more anyway)
TYPO_MIN_LENGTH = 7  # shorter words differ by one letter from too many real words ("sleeping"/"stepping")
DROPPED_LETTER_MIN_LENGTH = 5  # from 5 letters a letter missing or added is forgiven ("inen"); not "har" for "harm"
_APOSTROPHES = re.compile(r"[’'`´ʼ]")
_WORD = re.compile(r"[^\W_]+")
_WITHOUT = re.compile(r"\bw/o\b")
_REPEATS = re.compile(r"(.)\1\1+")
_DANISH = snowballstemmer.stemmer("danish")
_ENGLISH = snowballstemmer.stemmer("english")
_CACHE_LIMIT = 50_000


def canonical(word: str) -> str:
    """The spelling-blind form: "Vågne" -> "vagne", "ikkkke" -> "ikke".

    æ/ø/å and their ASCII spellings ae/oe/aa become a/o/a; a letter typed three times or more counts twice
    ("ikkkke"), and a doubled letter stays: "off" is not "of", "look" is not "lok"."""
    folded = fold(word).replace("ae", "a").replace("oe", "o").replace("aa", "a")
    return _REPEATS.sub(r"\1\1", folded)


def words_of(text: str) -> list[str]:
    """The words of a message, lower case, with apostrophes closed up ("don't" -> "dont", "I'm" -> "im") and
    the chat shorthand "w/o" written out."""
    return _WORD.findall(_APOSTROPHES.sub("", _WITHOUT.sub(" without ", text[:MAX_SCAN_CHARS].casefold())))


@lru_cache(maxsize=_CACHE_LIMIT)
def forms(word: str) -> frozenset[str]:
    """The canonical keys under which a word is known: itself and its Danish and English stems.

    Cached: a pure function of the word, and the stemmers are the slow part of loading the list."""
    lowered = word.casefold()
    return frozenset({canonical(lowered), canonical(_DANISH.stemWord(lowered)), canonical(_ENGLISH.stemWord(lowered))})


def one_edit_apart(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one inserted, deleted, changed or swapped letter."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1:]


def _deletions(key: str) -> set[str]:
    return {key[:i] + key[i + 1:] for i in range(len(key))}


@dataclass(frozen=True)
class Pattern:
    """One word of the word list as written, and how it matches."""

    written: str
    kind: str  # "forms", "exact", "prefix", "contains" or "not" (`-word`: never this typed word)
    key: str  # canonical spelling of the word without its * or =

    @classmethod
    def parse(cls, written: str) -> Pattern | None:
        """None when `written` holds no letters (an empty pattern)."""
        word = written.strip().casefold()
        kind = "forms"
        if word.startswith("-") and len(word) > 1:
            parts = words_of(word[1:])
            return cls(written.strip(), "not", parts[0]) if len(parts) == 1 else None
        if word.startswith("=") and len(word) > 1:
            kind, word = "exact", word[1:]
        elif word.startswith("*") and word.endswith("*") and len(word) > 2:
            kind, word = "contains", word[1:-1]
        elif word.endswith("*") and len(word) > 1:
            kind, word = "prefix", word[:-1]
        parts = words_of(word)
        if len(parts) != 1:
            return None
        return cls(written.strip(), kind, canonical(parts[0]))


class WordIndex:
    """Finds, for a typed word, every pattern (by number) that it matches."""

    def __init__(self, patterns: list[Pattern]) -> None:
        self._patterns = patterns
        self._by_form: dict[str, set[int]] = {}
        self._by_typo: dict[str, set[int]] = {}
        self._by_dropped_letter: dict[str, set[int]] = {}
        self._by_added_letter: dict[str, set[int]] = {}
        self._exact: dict[str, set[int]] = {}
        self._contains: list[tuple[int, str]] = []  # `*word*`: checked word by word
        self._prefixes: list[tuple[int, str]] = []  # `word*`: checked word by word as written ...
        self._prefix_typos: dict[int, dict[str, set[int]]] = {}  # ... and, long ones, by length: one typo forgiven
        for number, pattern in enumerate(patterns):
            if pattern.kind == "not":  # not a way to match: flows/risk.py takes these words out of a concept
                continue
            if pattern.kind == "exact":
                self._exact.setdefault(pattern.key, set()).add(number)
                keys = frozenset({pattern.key})
            elif pattern.kind == "forms":
                keys = forms(pattern.written)
                for key in keys:
                    self._by_form.setdefault(key, set()).add(number)
            elif pattern.kind == "contains":
                self._contains.append((number, pattern.key))
                continue
            else:
                self._prefixes.append((number, pattern.key))
                if len(pattern.key) >= TYPO_MIN_LENGTH:  # symmetric deletion finds the candidates (`_loose_typos`)
                    by_variant = self._prefix_typos.setdefault(len(pattern.key), {})
                    for variant in {pattern.key, *_deletions(pattern.key)}:
                        by_variant.setdefault(variant, set()).add(number)
                continue
            for key in keys:  # the typos: one edit in long words, one letter missing or added in shorter ones
                if len(key) >= TYPO_MIN_LENGTH:
                    for variant in {key, *_deletions(key)}:
                        self._by_typo.setdefault(variant, set()).add(number)
                elif len(key) >= DROPPED_LETTER_MIN_LENGTH:
                    for variant in _deletions(key):
                        self._by_dropped_letter.setdefault(variant, set()).add(number)
                    self._by_added_letter.setdefault(key, set()).add(number)
        self._cache: dict[str, frozenset[int]] = {}

    def matches(self, word: str) -> frozenset[int]:
        found = self._cache.get(word)
        if found is None:
            found = self._look_up(word)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _look_up(self, word: str) -> frozenset[int]:
        key = canonical(word)
        found: set[int] = set(self._exact.get(key, ())) | self._by_form.get(key, set())
        as_written = bool(found)  # a word of the list as written is not also a typo of another ("sleeping")
        for form in forms(word):
            found |= self._by_form.get(form, set())
        found.update(number for number, part in self._contains if part in key)
        found.update(number for number, prefix in self._prefixes if key.startswith(prefix))
        found |= self._loose_typos(key)
        if as_written:
            return frozenset(found)
        found |= self._by_dropped_letter.get(key, set())
        if len(key) == DROPPED_LETTER_MIN_LENGTH + 1:  # "vagene" for "vagne": one letter too many
            for variant in _deletions(key):
                found |= self._by_added_letter.get(variant, set())
        if len(key) >= TYPO_MIN_LENGTH - 1:  # "kilng" is one letter short of "killing"
            for variant in {key, *_deletions(key)}:
                for number in self._by_typo.get(variant, ()):
                    if self._typo_of(key, number):
                        found.add(number)
        return frozenset(found)

    def _loose_typos(self, key: str) -> set[int]:
        """`word*` patterns of seven letters or more that the typed word starts with, one typo forgiven: its first
        letters (one fewer, as many or one more) are one edit from the pattern's word."""
        found: set[int] = set()
        for length, by_variant in self._prefix_typos.items():
            if len(key) < length - 1:
                continue
            for start in {key[:length - 1], key[:length], key[:length + 1]}:
                for variant in {start, *_deletions(start)}:
                    for number in by_variant.get(variant, ()):
                        if number not in found and one_edit_apart(start, self._patterns[number].key):
                            found.add(number)
        return found

    def _typo_of(self, key: str, number: int) -> bool:
        """Symmetric deletion finds candidates; confirm that one edit really turns one into the other."""
        pattern = self._patterns[number]
        keys = (pattern.key,) if pattern.kind == "exact" else forms(pattern.written)
        return any(one_edit_apart(key, form) for form in keys if len(form) >= TYPO_MIN_LENGTH)
