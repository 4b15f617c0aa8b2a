"""Reads for the outcome report (`bot/outcomes/`): the stored rows its figures are computed from.

SQLAlchemy Core against `storage.schema`'s tables, as functions of a sync `Connection`, all run in one read
transaction by `read_outcomes` on the `SqliteStorage`'s database, so every figure comes from the same snapshot.
Nothing here computes a figure: rows come back as stored, limited to the participants asked for, and
`bot/outcomes` decides everything in one place. Aggregation that saves moving rows (a completed run is one row,
not one per score) is done in SQL; names, addresses, free text and escalation triggers are never read.

The read runs on a plain pysqlite connection in a worker thread, not through aiosqlite: a municipality's report
reads about 700,000 rows, which aiosqlite hands across threads one by one (on benchmarks/report.py's data the
read takes a fifth longer that way), and building the records off the event loop keeps a running bot responsive.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from sys import intern
from typing import Any, NamedTuple

from sqlalchemy import URL, ColumnElement, Connection, Select, String, create_engine, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage import schema as s

SENT = "sent"
MILESTONES = ("wave_started", "wave_run", "wave_done", "wave_missed", "module_done")


@dataclass(frozen=True)
class OutcomeQuery:
    """Which rows to read. `cohort` None: every participant; otherwise those enrolled with that cohort."""

    cohort: str | None = None
    scores: tuple[tuple[str, str], ...] = ()  # (flow id, score id) of the measurements, e.g. ("pss10", "total")
    runs: tuple[str, ...] = ()  # flows whose completed runs are counted (the TRE log, the check-in)
    events: tuple[str, ...] = ()  # schedule kinds whose sent rows are counted (the check-in)
    marks: tuple[str, ...] = MILESTONES


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
    people: list[PersonRow]
    marks: list[MarkRow]
    scores: list[ScoreRow]
    runs: list[RunRow]
    events: list[EventRow]
    escalations: list[EscalationRow]


async def read_outcomes(engine: AsyncEngine, query: OutcomeQuery) -> OutcomeRows:
    """Every row the report needs, read in one transaction from the database of `engine` (the `SqliteStorage`'s),
    off the event loop."""
    if engine.url.get_backend_name() != "sqlite":  # a server (PostgreSQL): one snapshot, on the storage's pool
        async with engine.connect() as conn:
            snapshot = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with snapshot.begin():
                return await snapshot.run_sync(read_outcome_rows, query)
    return await asyncio.to_thread(_read_sqlite, engine.url.set(drivername="sqlite"), query)


def _read_sqlite(url: URL, query: OutcomeQuery) -> OutcomeRows:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            if not isinstance(driver, sqlite3.Connection):
                raise TypeError("the outcome report reads SQLite through the sqlite3 driver")
            driver.isolation_level = None  # the driver begins nothing before a SELECT: BEGIN here, one snapshot
            conn.exec_driver_sql("BEGIN")
            try:
                return read_outcome_rows(conn, query)
            finally:
                conn.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()


def read_outcome_rows(conn: Connection, query: OutcomeQuery) -> OutcomeRows:
    return OutcomeRows(
        people=people(conn, query.cohort),
        marks=milestones(conn, query.cohort, query.marks),
        scores=measure_scores(conn, query.cohort, query.scores),
        runs=completed_runs(conn, query.cohort, query.runs),
        events=sent_events(conn, query.cohort, query.events),
        escalations=escalations(conn, query.cohort),
    )


_p, _pr, _mk, _sc, _sch, _e = s.participants, s.profiles, s.programme_marks, s.scores, s.schedule, s.escalations
_utc = datetime.fromisoformat  # stored as fixed-width ISO-8601 UTC text with "+00:00": an aware UTC datetime


def _text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A timestamp column as its stored text: parsed by `_utc` in bulk, not one type-processor call per row."""
    return type_coerce(column, String)


def _in_cohort(statement: Select[Any], participant_id: Any, cohort: str | None) -> Select[Any]:
    if cohort is None:
        return statement
    return statement.where(participant_id.in_(select(_pr.c.participant_id).where(_pr.c.cohort == cohort)))


def people(conn: Connection, cohort: str | None) -> list[PersonRow]:
    """Every participant (with their profile's cohort and start date, when enrolled), in id order."""
    query = (
        select(_p.c.id, _pr.c.cohort, _pr.c.start_date, _p.c.created_at)
        .join_from(_p, _pr, _pr.c.participant_id == _p.c.id, isouter=True)
        .order_by(_p.c.id)
    )
    return [PersonRow(*row) for row in conn.execute(_in_cohort(query, _p.c.id, cohort)).all()]


def milestones(conn: Connection, cohort: str | None, kinds: Sequence[str]) -> list[MarkRow]:
    """Programme milestones of these kinds, in the order they were stored."""
    if not kinds:
        return []
    query = (
        select(_mk.c.participant_id, _mk.c.kind, _mk.c.key, _mk.c.detail, _text(_mk.c.at))
        .where(_mk.c.kind.in_(kinds))
        .order_by(_mk.c.id)
    )
    loads = json.loads
    rows = conn.execute(_in_cohort(query, _mk.c.participant_id, cohort)).all()
    return [MarkRow(pid, intern(kind), intern(key), {} if detail == "{}" else loads(detail), _utc(at))
            for pid, kind, key, detail, at in rows]  # most details are empty; a few kinds and keys, many rows


def measure_scores(conn: Connection, cohort: str | None, wanted: Sequence[tuple[str, str]]) -> list[ScoreRow]:
    """The scores with these (flow id, score id), in the order they were stored."""
    if not wanted:
        return []
    pairs = set(wanted)
    query = (
        select(_sc.c.participant_id, _sc.c.run_seq, _sc.c.flow_id, _sc.c.score_id, _sc.c.value)
        .where(_sc.c.flow_id.in_({flow for flow, _ in pairs}), _sc.c.score_id.in_({score for _, score in pairs}))
        .order_by(_sc.c.id)
    )
    rows = conn.execute(_in_cohort(query, _sc.c.participant_id, cohort)).all()
    return [ScoreRow(*row) for row in rows if (row[2], row[3]) in pairs]


def completed_runs(conn: Connection, cohort: str | None, flows: Sequence[str]) -> list[RunRow]:
    """One row per completed run of these flows (a run has scores once it is completed), oldest first."""
    if not flows:
        return []
    query = (
        select(_sc.c.participant_id, _sc.c.flow_id, _sc.c.run_seq, func.min(_text(_sc.c.completed_at)))
        .where(_sc.c.flow_id.in_(flows))
        .group_by(_sc.c.participant_id, _sc.c.flow_id, _sc.c.run_seq)
    )
    rows = conn.execute(_in_cohort(query, _sc.c.participant_id, cohort)).all()
    return sorted((RunRow(pid, intern(flow), seq, _utc(at)) for pid, flow, seq, at in rows),
                  key=lambda r: r.completed_at)


def sent_events(conn: Connection, cohort: str | None, kinds: Sequence[str]) -> list[EventRow]:
    """Schedule rows of these kinds that ended as sent, with when they were handled."""
    if not kinds:
        return []
    sent_at = func.coalesce(_text(_sch.c.updated_at), _text(_sch.c.due_at))
    query = select(_sch.c.participant_id, _sch.c.kind, sent_at).where(_sch.c.kind.in_(kinds), _sch.c.status == SENT)
    rows = conn.execute(_in_cohort(query, _sch.c.participant_id, cohort)).all()
    return sorted((EventRow(pid, intern(kind), _utc(at)) for pid, kind, at in rows), key=lambda e: e.sent_at)


def escalations(conn: Connection, cohort: str | None) -> list[EscalationRow]:
    """Every escalation's level, status and times (never its triggers' text), oldest first."""
    query = select(
        _e.c.participant_id, _e.c.level, _e.c.status, _e.c.opened_at, _e.c.acknowledged_at, _e.c.deadline_at,
        _e.c.tier,
    ).order_by(_e.c.opened_at, _e.c.id)
    return [EscalationRow(*row) for row in conn.execute(_in_cohort(query, _e.c.participant_id, cohort)).all()]


async def cohorts(engine: AsyncEngine) -> list[str]:
    """The cohorts participants were enrolled in, sorted (for a helpful error on a mistyped --cohort)."""
    query = select(s.profiles.c.cohort).where(s.profiles.c.cohort.is_not(None)).distinct()
    async with engine.connect() as conn:
        return sorted(str(c) for c in (await conn.execute(query)).scalars())
