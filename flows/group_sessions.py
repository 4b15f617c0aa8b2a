"""Recurring group sessions a programme declares for a cohort (issue 15, seed 001: a group course in weeks 1-4, two
three-hour sessions a week, up to 15 people), read from the programme file's `group_sessions:` section.

    group_sessions:
      - id: group_course
        kind: group                # an appointment kind (flows/phrases.py APPOINTMENT_KINDS); group if left out
        weeks: 1-4                 # or [1, 2, 3, 4], or 2: weeks of the cohort's course, week 1 = its first 7 days
        weekdays: [mon, thu]
        time: "09:00"              # local time, in quotes
        minutes: 180
        place: Gentofte Rådhus, mødelokale 2    # a place, a video link (https://...), or both
        max_size: 15               # more members than this: the administrator is told, nobody is split off

A cohort's week 1 begins on the earliest start date of its members in the programme; each session is one
appointment for the whole cohort, booked by the shell (bot/group_sessions.py) with its reminders. `occurrences`
gives every session's date and time with a key that names it for good ("w1-mon"), so booking again finds what was
booked, even after a coach moved or cancelled it.

The model and the calendar; flows/group_sessions_file.py reads the section (flows/programme_loader.py only calls
it, so that file stays about the programme's messages). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # flows/programme.py WEEKDAYS (which imports this)


@dataclass(frozen=True)
class GroupSession:
    """One recurring session of a cohort: on these weekdays of these weeks, at this local time."""

    id: str
    kind: str
    weeks: tuple[int, ...]  # 1-based weeks of the cohort's course
    weekdays: tuple[int, ...]  # 0 = Monday
    at: time
    minutes: int
    place: str
    video: str
    max_size: int | None  # None: no limit
    line: int = 0


@dataclass(frozen=True)
class Occurrence:
    key: str  # "w1-mon": which session of the series, for good
    day: date  # local
    starts_at: datetime  # UTC


def occurrences(session: GroupSession, first_day: date, timezone: str) -> list[Occurrence]:
    """Every session of the series for a cohort whose week 1 begins on `first_day`, in time order. Local wall-clock
    time in `timezone`, so a session stays at 09:00 across daylight saving."""
    zone, found = ZoneInfo(timezone), []
    for week in session.weeks:
        for offset in range(7):
            day = first_day + timedelta(days=7 * (week - 1) + offset)
            if day.weekday() in session.weekdays:
                starts = datetime.combine(day, session.at, zone).astimezone(UTC)
                found.append(Occurrence(f"w{week}-{DAY_NAMES[day.weekday()]}", day, starts))
    return sorted(found, key=lambda o: o.starts_at)
