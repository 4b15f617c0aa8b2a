"""The rows the outcome report is computed from (`bot/outcomes/`), as `Records.read_outcomes` hands them over: a
chunk of participants at a time, each with every row of theirs the query asks for.

Rows come back as stored, limited to the participants asked for; `bot/outcomes` decides every figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

MILESTONES = ("wave_started", "wave_run", "wave_done", "wave_missed", "module_done")
CHUNK = 1000  # participants a chunk: about 70,000 rows on benchmarks/report.py's data, some 15 MB while read


@dataclass(frozen=True)
class OutcomeQuery:
    """Which rows to read. `cohort` None: every participant; otherwise those enrolled with that cohort. `programme`
    None: every programme; otherwise those enrolled in it, and (`with_unrecorded`, for the deployment's default
    programme) those with no programme recorded: enrolled before programmes were, or never enrolled."""

    cohort: str | None = None
    scores: tuple[tuple[str, str], ...] = ()  # (flow id, score id) of the measurements, e.g. ("pss10", "total")
    runs: tuple[str, ...] = ()  # flows whose completed runs are counted (the TRE log, the check-in)
    events: tuple[str, ...] = ()  # schedule kinds whose sent rows are counted (the check-in)
    marks: tuple[str, ...] = MILESTONES
    chunk: int = CHUNK  # participants read at a time
    programme: str | None = None
    with_unrecorded: bool = False


class PersonRow(NamedTuple):
    participant_id: int
    cohort: str | None
    start_date: date | None  # None: the programme started on the day of enrolment
    enrolled_at: datetime


class MarkRow(NamedTuple):
    participant_id: int
    kind: str
    key: str
    detail: dict[str, Any]
    at: datetime


class ScoreRow(NamedTuple):
    participant_id: int
    run_seq: int
    flow_id: str
    score_id: str
    value: float


class RunRow(NamedTuple):
    """A completed run: the time of its scores (all written in the step that completed it)."""

    participant_id: int
    flow_id: str
    run_seq: int
    completed_at: datetime


class EventRow(NamedTuple):
    """A sent schedule row: when it was handled (its due time if it never was updated)."""

    participant_id: int
    kind: str
    sent_at: datetime


class EscalationRow(NamedTuple):
    participant_id: int
    level: str
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    deadline_at: datetime | None  # None once acknowledged
    tier: int  # above 0: re-escalated because nobody acknowledged before the deadline


@dataclass(frozen=True)
class OutcomeRows:
    """A chunk: some participants (in id order) and every row of theirs the query asks for, each table's rows by
    participant in the order they were stored (completed runs, sent events and escalations oldest first)."""

    people: list[PersonRow]
    marks: list[MarkRow]
    scores: list[ScoreRow]
    runs: list[RunRow]
    events: list[EventRow]
    escalations: list[EscalationRow]
