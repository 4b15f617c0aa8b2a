"""Response figures for the clinical lead: how fast alerts are acknowledged (per level and per coach: median and
90th percentile), how many alerts a week, and how many reached the backup (tier 2) or the clinical lead (tier 3).

Read off the escalations table: time to acknowledge is acknowledged_at - opened_at (closing an open alert
acknowledges it too); `tier` is who had been told (0 the coach on duty, 1 + the backup, 2 + the clinical lead; the
lead reads them as tiers 1-3). An administrator sees every alert; a coach the alerts of their own participants and
those they acknowledged themselves.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.clock import COPENHAGEN
from bot.desk.context import Desk
from bot.escalation import level_name
from storage.records import Escalation

LEVELS = ("high", "moderate", "low")
WEEKS_SHOWN = 26


@dataclass(frozen=True)
class Speed:
    """Minutes from an alert's opening to its acknowledgement, over a group of alerts."""

    label: str
    alerts: int
    acknowledged: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Reach:
    alerts: int
    backup: int  # reached tier 2: the backup was told
    lead: int  # reached tier 3: the clinical lead was told


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it (a value that occurred,
    never one interpolated between two alerts)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def speed(label: str, escalations: Sequence[Escalation]) -> Speed:
    minutes = [(e.acknowledged_at - e.opened_at).total_seconds() / 60 for e in escalations
               if e.acknowledged_at is not None]
    return Speed(label, len(escalations), len(minutes), statistics.median(minutes) if minutes else None,
                 percentile(minutes, 0.9))


def by_level(escalations: Sequence[Escalation], names: dict[str, str]) -> list[Speed]:
    return [speed(names[level], [e for e in escalations if e.level == level]) for level in LEVELS]


def by_coach(escalations: Sequence[Escalation]) -> list[Speed]:
    """Per coach who acknowledged: their own acknowledgements only."""
    groups: dict[str, list[Escalation]] = defaultdict(list)
    for e in escalations:
        if e.acknowledged_by is not None:
            groups[e.acknowledged_by].append(e)
    return [speed(coach, groups[coach]) for coach in sorted(groups)]


def week_of(e: Escalation) -> date:
    """The Monday (Copenhagen) of the week the alert was opened."""
    day = e.opened_at.astimezone(COPENHAGEN).date()
    return day - timedelta(days=day.weekday())


def per_week(escalations: Iterable[Escalation]) -> list[tuple[date, dict[str, int], int]]:
    """Newest week first: the week's Monday, alerts by level, and the week's total."""
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for e in escalations:
        counts[week_of(e)][e.level] += 1
    return [(week, dict(counts[week]), sum(counts[week].values()))
            for week in sorted(counts, reverse=True)[:WEEKS_SHOWN]]


def reach(escalations: Sequence[Escalation]) -> Reach:
    return Reach(len(escalations), sum(e.tier >= 1 for e in escalations), sum(e.tier >= 2 for e in escalations))


async def visible(desk: Desk, coach_id: str) -> list[Escalation]:
    everything = await desk.storage.escalations()
    if desk.deployment.coaches[coach_id].is_admin:
        return everything
    mine = set(await desk.storage.participant_ids(coach_id))
    return [e for e in everything if e.participant_id in mine or e.acknowledged_by == coach_id]


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request) -> Response:
        coach = desk.coach(request)
        shown = await visible(desk, coach.id)
        lang = request.state.lang
        names = {level: level_name(desk.catalogs, lang, level) for level in LEVELS}
        coaches = {c.id: c.name for c in desk.deployment.coaches.values()}
        await desk.audit(request, "figures.viewed", "escalations", {"count": len(shown)})
        context = {"levels": by_level(shown, names), "coaches": by_coach(shown), "coach_names": coaches,
                   "weeks": [(datetime.combine(week, time(12), COPENHAGEN), counts, total)
                             for week, counts, total in per_week(shown)],
                   "level_ids": LEVELS, "level_names": names, "reach": reach(shown),
                   "everyone": coach.is_admin}
        return desk.templates.render(request, "figures.html", context)

    return [Route("/figures", page)]
