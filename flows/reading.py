"""One message, read once at the engine's door: the text as written, and each form the engine's readers need.

A message used to be normalised again by every reader (the risk scan, the keyword matchers, the answer parser, the
yes/no parser, the rule for messages a coach must read), about six times. `flows.engine.advance` now makes one
`Reading` of it and hands that on; each form is worked out the first time a reader asks for it and kept, so a reader
that is never asked costs nothing and none is computed twice. Every reader still takes a plain string too (it is read
on the spot), for the bot's safety net, the benchmarks and the tests.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from flows.risk_words import words_of
from flows.textnorm import EDGE_PUNCTUATION, LETTER_WORD, fold, loosen

_NUMBER = re.compile(r"^[+-]?\d{1,9}(?:[.,]\d{1,9})?$")


_DECORATION = frozenset({"So", "Sk", "Mn", "Me", "Cf", "Zs"})  # emoji, their skin tones and joiners, a keycap's frame


def undecorated(text: str) -> str:
    """`text` without emoji or spaces around it: "2 😊" and the keycap "2️⃣" are a 2 as a person meant it."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]) in _DECORATION):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) in _DECORATION):
        end -= 1
    return text[start:end]


def parse_number(text: str) -> float | None:
    """A number typed on a phone: "7", "7.", "7,5", " 12 ", "7 😊"; None when it is not one."""
    candidate = undecorated(text).rstrip(".!)").strip()
    if not _NUMBER.match(candidate):
        return None
    return float(candidate.replace(",", "."))


@dataclass(frozen=True)
class Reading:
    """A message and its forms; equal when the text is."""

    raw: str

    @cached_property
    def folded(self) -> str:
        """Case, accents and spacing ignored (flows/textnorm.py `fold`): "  Næsten  ALDRIG! " -> "naesten aldrig"."""
        return fold(self.raw)

    @cached_property
    def loose(self) -> str:
        """Looser still, for Danish typed on an English keyboard (flows/textnorm.py `loose`)."""
        return loosen(self.folded)

    @cached_property
    def keyword_words(self) -> tuple[str, ...]:
        """The folded words as keywords are matched: "/help" split from what precedes it, edge punctuation off."""
        return tuple(w.strip(EDGE_PUNCTUATION) or w for w in self.folded.replace("/", " /").split())

    @cached_property
    def letter_words(self) -> tuple[str, ...]:
        """The folded words of letters only (digits, emoji and punctuation are not words): what a coach could read."""
        return tuple(LETTER_WORD.findall(self.folded))

    @cached_property
    def number(self) -> float | None:
        """The number the whole message is, if it is one (`parse_number`)."""
        return parse_number(self.raw)

    @cached_property
    def risk_words(self) -> tuple[str, ...]:
        """The words as the risk scan reads them (flows/risk_words.py `words_of`)."""
        return tuple(words_of(self.raw))

    @cached_property
    def spoken(self) -> str:
        """The message on one line in capitals, as it is quoted back ("FÆRDIG 3")."""
        return " ".join(self.raw.split()).upper()


def read(text: str | Reading) -> Reading:
    """The reading of `text` (itself when it is one already)."""
    return text if isinstance(text, Reading) else Reading(text)
