"""One text in several languages: the value every flow, programme and terms text is read into.

A module of its own so that the programme model (flows/programme.py) and the flow model (flows/model.py) can both use
it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LocalText:
    """One text in several languages: {"da": ..., "en": ...}."""

    by_lang: Mapping[str, str]

    def get(self, lang: str, fallback: str = "da") -> str:
        if lang in self.by_lang:
            return self.by_lang[lang]
        if fallback in self.by_lang:
            return self.by_lang[fallback]
        return next(iter(self.by_lang.values()), "")
