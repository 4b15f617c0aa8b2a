"""When coaches read messages, as a participant reads it: "Coaches læser beskeder mandag til fredag kl. 8-16."

The engine says only that the time goes here (`CoachHours`); the office hours are the deployment's
(`escalation.office_hours`), so each municipality's own, and a message outside them says it may take a while.
"""

from __future__ import annotations

from datetime import datetime, time

from babel.dates import get_day_names

from bot.deployment import Deployment
from bot.rendering import Catalogs
from flows import phrases


def _clock(moment: time, lang: str) -> str:
    if lang == "da":
        return str(moment.hour) if moment.minute == 0 else f"{moment.hour}.{moment.minute:02}"
    return f"{moment.hour}:{moment.minute:02}"


def _days(days: frozenset[int], lang: str, catalogs: Catalogs) -> str:
    names = get_day_names("wide", locale=lang)
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return catalogs.gettext(lang, phrases.OFFICE_DAYS).format(first=names[ordered[0]], last=names[ordered[-1]])
    return ", ".join(str(names[day]) for day in ordered)


def office_hours(deployment: Deployment, catalogs: Catalogs, lang: str) -> str:
    """"mandag til fredag kl. 8-16", "Monday to Friday, 8:00-16:00"."""
    return catalogs.gettext(lang, phrases.OFFICE_HOURS).format(
        days=_days(deployment.office_days, lang, catalogs), start=_clock(deployment.office_start, lang),
        end=_clock(deployment.office_end, lang))


def coach_hours_line(deployment: Deployment, catalogs: Catalogs, lang: str, now: datetime) -> str:
    """When coaches read messages; outside those hours, that it may be a while."""
    line = catalogs.gettext(lang, phrases.COACH_HOURS).format(hours=office_hours(deployment, catalogs, lang))
    if not deployment.in_office_hours(now):
        line += " " + catalogs.gettext(lang, phrases.COACH_HOURS_NOT_NOW)
    return line
