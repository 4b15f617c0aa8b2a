"""Reading one YAML file's parsed values into model values, noting every problem with its line as it goes.

Shared by the flow loader (flows/loader.py) and the programme loader (flows/programme_loader.py): the checks of
shape and type that every file the administrators write needs, worded the same way in both.
"""

from __future__ import annotations

import re
from typing import Any

from flows.model import LocalText
from flows.yamlsource import LineList, LineMap, Problem

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_LANG = re.compile(r"^[a-z]{2}$")


def describe(value: Any) -> str:
    """A value as an administrator would recognise it in an error message."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value: put the text in quotes)"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a block of keys"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class FileReader:
    """Reads one file's parsed YAML into model values, noting problems as it goes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ()
        self.unreadable: set[str] = set()

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message, "warning"))

    def keys(self, block: LineMap, allowed: set[str], where: str) -> None:
        for key in block:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.error(block.line_of(key), f"unknown key {key!r} in {where} (allowed: {hint})")

    def mapping(self, value: Any, line: int, what: str) -> LineMap | None:
        if isinstance(value, LineMap):
            return value
        self.error(line, f"{what} must be a block of keys, not {describe(value)}")
        return None

    def sequence(self, value: Any, line: int, what: str) -> LineList | None:
        if isinstance(value, LineList):
            return value
        self.error(line, f"{what} must be a list, not {describe(value)}")
        return None

    def identifier(self, block: LineMap, key: str, what: str) -> str | None:
        value = block.get(key)
        if value is None:
            self.error(block.line, f"{what} has no {key!r}")
            return None
        if not isinstance(value, str) or not _ID.match(value):
            self.error(block.line_of(key),
                       f"{what} {key} {describe(value)} must be lower-case letters, digits and _ (e.g. q1)")
            return None
        return value

    def number(self, block: LineMap, key: str, what: str, whole: bool = False) -> float | None:
        value = block.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            kind = "a whole number" if whole else "a number"
            self.error(block.line_of(key), f"{key} of {what} must be {kind}, not {describe(value)}")
            return None
        return float(value)

    def text(self, block: LineMap, key: str, what: str, required: bool = True) -> LocalText | None:
        value = block.get(key)
        line = block.line_of(key)
        if value is None:
            if required:
                self.error(block.line, f"{what} has no {key!r}")
            return None
        if isinstance(value, str) and len(self.languages) == 1:
            return LocalText({self.languages[0]: value})
        texts = self.mapping(value, line, f"{key} of {what}")
        if texts is None:
            return None
        result: dict[str, str] = {}
        for lang, item in texts.items():
            if not isinstance(item, str) or not item.strip():
                self.error(texts.line_of(lang), f"{key} of {what} in {lang!r} must be a text, not {describe(item)}")
                continue
            if lang not in self.languages:
                self.error(texts.line_of(lang),
                           f"{key} of {what} is in {lang!r}, which is not in languages {list(self.languages)}")
                continue
            result[str(lang)] = item.strip()
        for lang in self.languages:
            if lang not in texts:
                self.error(texts.line, f"{key} of {what} has no text in {lang!r}")
        return LocalText(result) if result else None


def read_languages(r: FileReader, top: LineMap) -> tuple[str, ...]:
    raw = top.get("languages")
    if raw is None:
        r.error(top.line, "the flow has no 'languages' (e.g. [da, en])")
        return ("da",)
    langs = r.sequence(raw, top.line_of("languages"), "languages")
    if langs is None:
        return ("da",)
    good = tuple(str(x) for x in langs if isinstance(x, str) and _LANG.match(x))
    if len(good) != len(langs) or not good:
        r.error(top.line_of("languages"), "languages must be two-letter codes such as [da, en]")
    if len(set(good)) != len(good):
        r.error(top.line_of("languages"), "a language is listed twice")
    return good or ("da",)
