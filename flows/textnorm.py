"""Text normalisation shared by answer parsing and the risk scan: case, accents and spacing ignored."""

from __future__ import annotations

import unicodedata

_DANISH_LETTERS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
EDGE_PUNCTUATION = " \t\r\n.,;:!?'\"“”‘’«»()[]-–—*_"


def fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form: "  Næsten  ALDRIG! " -> "naesten aldrig"."""
    text = text.casefold().translate(_DANISH_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split()).strip(EDGE_PUNCTUATION)


def loose(text: str) -> str:
    """An even looser form for people typing Danish on an English keyboard: "Nasten aldrig", "Indimellem"."""
    return fold(text).replace("ae", "a").replace("oe", "o").replace("aa", "a").replace(" ", "")
