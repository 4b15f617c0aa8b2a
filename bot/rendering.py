"""Turn the engine's `Send` effects into the JSON payload stored in the outbox.

Phrases go through the gettext catalog of the person's language; numbers are formatted by babel in their
locale ("7,5" in Danish). Rendering happens before the outbox row is written, so a message is sent exactly
as it was decided, even after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from bot.clock import COPENHAGEN
from flows.effects import CoachHours, CrisisContacts, Literal, ParamValue, Part, Phrase, Send
from locales import LOCALES_DIR

DOMAIN = "messages"
_FLOW_PLACEHOLDER = re.compile(r"\{((?:score|band)\.[a-z0-9_]+)\}")


class MissingCatalogError(RuntimeError):
    """A language has no catalog: the bot would speak English msgids to a Danish participant."""


def compile_catalog(po: Path, lang: str) -> Translations:
    """The `.po` file compiled in memory, as `pybabel compile` would (fuzzy and empty entries left out).

    Compiling at start instead of committing `.mo` files means the catalog the bot speaks is always the one
    translators edited, whatever babel release wrote it."""
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


class Catalogs:
    """The gettext catalogs, one per language, compiled once at start."""

    def __init__(self, languages: tuple[str, ...] = ("da", "en"), locales_dir: Path = LOCALES_DIR) -> None:
        self._translations: dict[str, NullTranslations] = {}
        for lang in languages:
            po = locales_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
            if not po.is_file():
                raise MissingCatalogError(f"no catalog for {lang!r} at {po}")
            self._translations[lang] = compile_catalog(po, lang)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._translations)

    def has_translation(self, lang: str, msgid: str) -> bool:
        """Whether the catalog holds `msgid` at all (in English the text is the msgid, so gettext cannot tell)."""
        translations = self._translations.get(lang)
        return isinstance(translations, Translations) and bool(translations._catalog.get(msgid))

    def translations(self, lang: str) -> NullTranslations:
        """The catalog of `lang` (Danish for a language without one), for templates (bot/desk/templating.py)."""
        return self._translations.get(lang) or self._translations["da"]

    def gettext(self, lang: str, msgid: str) -> str:
        translations = self._translations.get(lang) or self._translations.get("da")
        return translations.gettext(msgid) if translations is not None else msgid


def format_number(value: float, lang: str) -> str:
    """A number as the person writes it: 20 not 20.0, 7,5 in Danish."""
    return _formatted(value, lang)


@lru_cache(maxsize=4096)
def _formatted(value: float, lang: str) -> str:
    """Kept per (value, language): every question numbers its choices, and Babel looks up the locale's number formats
    on each call (a tenth of rendering)."""
    if float(value).is_integer():
        return format_decimal(int(value), locale=lang)
    return format_decimal(value, locale=lang, decimal_quantization=False)


def format_moment(moment: datetime, lang: str, tz: tzinfo = COPENHAGEN) -> str:
    """A date and time as the person reads it, in Copenhagen time: "mandag den 23. november 2026 kl. 10.00"."""
    local = moment.astimezone(tz)
    day, clock = format_date(local, "full", locale=lang), format_time(local, "short", locale=lang)
    return f"{day} kl. {clock}" if lang == "da" else f"{day} at {clock}"


def _format_params(params: dict[str, ParamValue], lang: str) -> dict[str, str]:
    return {k: v if isinstance(v, str) else format_number(v, lang) for k, v in params.items()}


ContactLines = Callable[[str, str], list[str]]  # (risk level, language) -> the crisis contacts, in order
HoursLine = Callable[[str], str]  # language -> when coaches read messages (bot/office_hours.py)


def render_part(part: Part, lang: str, catalogs: Catalogs, contacts: ContactLines,
                hours: HoursLine | None = None) -> str:
    if isinstance(part, CrisisContacts):
        return "\n".join(contacts(part.level, lang))
    if isinstance(part, CoachHours):
        return "" if hours is None else hours(lang)
    params = _format_params(dict(part.params), lang) if part.params else {}
    if isinstance(part, Phrase):
        text = catalogs.gettext(lang, part.msgid)
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text  # a broken translation must not silence the bot; test_locales catches it
    assert isinstance(part, Literal)
    if "{" not in part.text:  # most: a question, a choice's label (a step renders about seven parts)
        return part.text
    return _FLOW_PLACEHOLDER.sub(lambda m: params.get(m[1], "–"), part.text)


def render_send(send: Send, lang: str, catalogs: Catalogs, contacts: ContactLines,
                hours: HoursLine | None = None) -> dict[str, Any]:
    """The outbox payload: text, plus the question's choices and identity for channels that use them."""
    payload: dict[str, Any] = {
        "lang": lang,
        "text": "\n".join(render_part(p, lang, catalogs, contacts, hours) for p in send.parts),
    }
    prompt = send.prompt
    if prompt is not None:
        payload["prompt"] = {
            "flow_id": prompt.flow_id,
            "flow_version": prompt.flow_version,
            "run_seq": prompt.run_seq,
            "step_id": prompt.step_id,
            "list_choices": prompt.list_choices,
            "choices": [{"answer": c.answer, "label": render_part(c.label, lang, catalogs, contacts)}
                        for c in prompt.choices],
        }
    return payload
