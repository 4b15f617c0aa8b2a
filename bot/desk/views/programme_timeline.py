"""The programme as a timeline (/admin/programme): every message it sends, day by day, Danish and English side by side.

The messages are not described from the programme file: they are what `programme preview` computes (bot/preview.py),
the real scheduler and conversation loop on a scratch database, once per language, for a participant who never
answers (so every reminder shows; a questionnaire shows its first question: the simulator goes further). The two
languages are paired message by message. A timeline takes most of a second, so the last few are kept in memory per
programme and start date (the start date matters: weekdays, the clock changes).
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta

from babel.dates import format_date
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.clock import COPENHAGEN
from bot.deployment import Coach
from bot.desk.context import Desk
from bot.desk.templating import date_locale
from bot.desk.views.admin import admin_only
from bot.preview import Line, next_monday, side_by_side, timeline
from flows.programme import Programme

LANGS = ("da", "en")  # the desk's languages, Danish first
KEPT = 8  # timelines kept in memory (programme x start date)
FARTHEST = timedelta(days=3 * 366)  # a start date further away than this is a typo


@dataclass(frozen=True)
class Day:
    number: int  # day 0 is the start date
    when: str  # the date in words, in the reader's language
    rows: tuple[tuple[Line | None, Line | None], ...]  # (Danish, English)


def start_from(value: str, today: date) -> tuple[date, bool]:
    """The start date asked for (YYYY-MM-DD), or next Monday; False when what was asked for is no usable date."""
    if not value:
        return next_monday(today), True
    try:
        asked = date.fromisoformat(value)
    except ValueError:
        return next_monday(today), False
    return (asked, True) if abs(asked - today) <= FARTHEST else (next_monday(today), False)


def by_day(pairs: list[tuple[Line | None, Line | None]], start: date, lang: str) -> list[Day]:
    days: dict[int, list[tuple[Line | None, Line | None]]] = {}
    for pair in pairs:
        line = pair[0] or pair[1]
        assert line is not None
        days.setdefault(line.day, []).append(pair)
    return [Day(n, format_date(start + timedelta(days=n), "full", locale=date_locale(lang)), tuple(rows))
            for n, rows in sorted(days.items())]


class Timelines:
    """The paired timelines last asked for, per programme and start date."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._kept: OrderedDict[tuple[int, date], list[tuple[Line | None, Line | None]]] = OrderedDict()
        self._lock = asyncio.Lock()  # one computation at a time: a second reader waits and gets the kept one

    async def of(self, programme: Programme, start: date) -> list[tuple[Line | None, Line | None]]:
        key = (id(programme), start)
        async with self._lock:
            if key not in self._kept:
                library = self.desk.loop.registry.library
                da, en = await asyncio.gather(*(
                    timeline(start, lang, programme=programme, library=library, deployment=self.desk.deployment,
                             catalogs=self.desk.catalogs) for lang in LANGS))
                self._kept[key] = side_by_side(da, en)
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            return self._kept[key]


def routes(desk: Desk) -> list[Route]:
    timelines = Timelines(desk)

    async def page(request: Request, coach: Coach) -> Response:
        today = desk.clock.now().astimezone(COPENHAGEN).date()
        start, understood = start_from(request.query_params.get("start", "").strip(), today)
        programme = desk.programme_asked(request)
        choices = {"choices": desk.programme_choices(request.state.lang), "chosen": programme.id if programme else ""}
        await desk.audit(request, "programme.timeline_viewed", "programme",
                         {"programme": programme.id if programme else None, "start": start.isoformat()})
        if programme is None:
            return desk.templates.render(request, "admin_programme.html", {"programme": None, "start": start,
                                                                           "understood": understood, **choices})
        pairs = await timelines.of(programme, start)
        kinds = Counter("urgent" if line.urgent else line.kind for line, _ in pairs if line is not None)
        context = {"programme": programme, "start": start, "understood": understood, **choices,
                   "days": by_day(pairs, start, request.state.lang), "count": len(pairs), "kinds": kinds,
                   "last_day": max((d.day for pair in pairs for d in pair if d is not None), default=0)}
        return desk.templates.render(request, "admin_programme.html", context)

    return [Route("/admin/programme", admin_only(desk, page))]
