"""Text normalisation shared by answer parsing and the risk scan: case, accents and spacing ignored."""

from __future__ import annotations

import re
import unicodedata

_DANISH_LETTERS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
EDGE_PUNCTUATION = " \t\r\n.,;:!?'\"“”‘’«»()[]-–—*_"
LETTER_WORD = re.compile(r"[^\W\d_]+")  # letters of any script; digits, emoji and punctuation are not words


def fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form: "  Næsten  ALDRIG! " -> "naesten aldrig"."""
    text = text.casefold().translate(_DANISH_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split()).strip(EDGE_PUNCTUATION)


def loose(text: str) -> str:
    """An even looser form for people typing Danish on an English keyboard: "Nasten aldrig", "Indimellem"."""
    return loosen(fold(text))


def loosen(folded: str) -> str:
    """`loose` of a text already folded."""
    return folded.replace("ae", "a").replace("oe", "o").replace("aa", "a").replace(" ", "")
