"""A coach's caseload as the desk lists it: what the my-participants table asks storage for, and what it gets.

The table pages through up to every participant (an administrator sees 10,000), so storage answers a page at a
time: the page's participants chosen and ordered in one statement (filters and the sort run in the database), then
each one's figures for that page in another (modules done, the latest scores, open alerts, unread messages, open
and overdue tasks), never a query per person. Names are sealed in the file, so a search by name is done by the
caller over `Caseloads.profile_names` and handed in as `among`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from storage.records import CoachTask

# How the table may be ordered: "attention" puts open alerts, overdue tasks and unread messages first.
SORTS = ("attention", "ref", "start", "modules", "alerts", "unread", "overdue", "score0", "score1")
# What it may be narrowed to: people with an open alert, an unread message, an overdue task; finished or not.
ONLY = ("", "alerts", "unread", "overdue", "finished", "active")


@dataclass(frozen=True)
class CaseloadQuery:
    coach_id: str | None  # whose participants (profiles.coach_id); None: everyone (an administrator)
    now: datetime  # a task due before this is overdue
    scores: tuple[tuple[str, str], ...] = ()  # (flow_id, score_id) of each score column, e.g. ("pss10", "total")
    finished_on_or_before: date | None = None  # a start date on or before this: the programme's weeks are over
    # the same per programme chosen at enrolment (programme id, date), for a deployment with several programmes of
    # different lengths; `finished_on_or_before` is then for everyone else (no programme recorded: the default's)
    finished_by_programme: tuple[tuple[str, date], ...] = ()
    search: str = ""  # part of a ref (any case) ...
    among: tuple[int, ...] | None = None  # ... or one of these participants (found by name or number); None: all
    only: str = ""  # one of ONLY
    sort: str = "attention"  # one of SORTS
    descending: bool = False
    offset: int = 0
    limit: int | None = 50  # None: every matching participant (the caller orders them itself, e.g. by name)


@dataclass(frozen=True)
class CaseloadRow:
    participant_id: int
    ref: str
    name: str
    start_date: date | None
    coach_id: str | None
    cohort: str | None
    modules_done: int
    scores: tuple[tuple[float, ...], ...]  # per query.scores: the latest value first, then the one before (0-2)
    open_alerts: int
    alert_level: str | None  # the open alert's level ("high", "moderate", "low")
    unread: int  # messages for a coach nobody has read
    open_tasks: int
    overdue_tasks: int  # open tasks whose due time has passed


@dataclass(frozen=True)
class CaseloadPage:
    rows: list[CaseloadRow]
    total: int  # how many participants match, over every page
    ids: tuple[int, ...] = field(default=())  # with limit=None and no rows asked for: every match, in order


@dataclass(frozen=True)
class TaskRow:
    """A coach task with whose it is (ref and name, for the tasks page)."""

    task: CoachTask
    ref: str
    name: str
