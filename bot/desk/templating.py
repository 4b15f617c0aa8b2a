"""Jinja2 for the desk: autoescaped templates, the bot's gettext catalogs, Danish dates and numbers (babel).

Each request renders in its coach's language: `_()` and `{% trans %}` read that language's catalog (the same
catalogs the bot speaks from, so a Danish page has no English words: tests/test_locales.py checks the templates'
strings like the code's). Dates are shown in Copenhagen time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_date, format_datetime, format_time
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.clock import COPENHAGEN
from bot.rendering import Catalogs, format_number

LANGUAGES = ("da", "en")


def date_locale(lang: str) -> str:
    """The locale dates and times are written in: the desk's English is British English, day first and 24 hours
    ("06/12/2026, 14:05"): a Dane reads "12/6/26, 2:05 PM" as 12 June."""
    return "en_GB" if lang == "en" else lang


def moment(value: datetime | None, lang: str, style: str = "short") -> str:
    """"06.12.2026 14.05" in Danish, "06/12/2026, 14:05" in English; "–" for nothing."""
    if value is None:
        return "–"
    local = value.astimezone(COPENHAGEN)
    if style == "date":
        return format_date(local, "short", locale=date_locale(lang))
    if style == "time":
        return format_time(local, "short", locale=date_locale(lang))
    return format_datetime(local, "short", locale=date_locale(lang))


class Templates:
    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs
        self.env = Environment(loader=PackageLoader("bot.desk", "templates"), autoescape=select_autoescape(),
                               extensions=["jinja2.ext.i18n"], undefined=StrictUndefined, enable_async=False)
        self.env.policies["ext.i18n.trimmed"] = True

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200,
               headers: dict[str, str] | None = None) -> HTMLResponse:
        lang = getattr(request.state, "lang", "da")
        translations = self.catalogs.translations(lang)
        session = getattr(request.state, "session", None)
        values = {
            "request": request, "lang": lang, "session": session,
            "csrf": session.csrf if session is not None else "",
            "coach": getattr(request.state, "coach", None),
            "_": translations.gettext, "gettext": translations.gettext, "ngettext": translations.ngettext,
            "moment": lambda value, style="short": moment(value, lang, style),
            "number": lambda value: "–" if value is None else format_number(round(float(value), 1), lang),
            **(context or {}),
        }
        html = self.env.get_template(name).render(values)
        return HTMLResponse(html, status_code=status, headers=headers)
