"""Reads for the outcome report (`bot/outcomes/`): the stored rows its figures are computed from, a chunk of
participants at a time.

SQLAlchemy Core statements against storage/sql/schema.py's tables, run on a sync `Connection` in one read
transaction by `read_outcomes` (`Records.read_outcomes`), so every figure comes from the same snapshot (SQLite: one
`BEGIN` around every chunk; PostgreSQL: a `REPEATABLE READ, READ ONLY` transaction). Nothing here computes a figure:
rows come back as stored, limited to the participants asked for, and `bot/outcomes` decides everything in one place.
Aggregation that saves moving rows (a completed run is one row, not one per score) is done in SQL; names, addresses,
free text and escalation triggers are never read.

Streamed, not loaded: each table the report reads is one statement ordered by participant id, read through a
streaming cursor (a server-side cursor on PostgreSQL); the participants come `OutcomeQuery.chunk` at a time, each
chunk with every table's rows up to its last participant. A municipality's report reads about 700,000 rows at 10,000
participants, 7 million at 100,000: kept all at once they took 26 KB a participant (2.6 GB at 100,000); a chunk's
rows are dropped once its participants are counted. The ordering is a sort of the scanned table, not a walk of its
`participant_id` index: see `_participant_of`.

The read runs on a plain sync connection in a worker thread, not through aiosqlite: aiosqlite hands rows across
threads one by one (on benchmarks/report.py's data the read takes a fifth longer that way), and computing the
figures off the event loop keeps a running bot responsive. So `read_outcomes` hands the chunks to a function that
consumes them in that thread, inside the transaction.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from sys import intern
from typing import Any, TypeVar

from sqlalchemy import (
    URL,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    create_engine,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.errors import Unsupported
from storage.report_rows import (
    EscalationRow,
    EventRow,
    MarkRow,
    OutcomeQuery,
    OutcomeRows,
    PersonRow,
    RunRow,
    ScoreRow,
)
from storage.sql import schema as s

SENT = "sent"
DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}  # the sync driver of each backend
T = TypeVar("T")


async def read_outcomes(engine: AsyncEngine, query: OutcomeQuery, consume: Callable[[Iterator[OutcomeRows]], T]) -> T:
    """Every row the report needs from the database of `engine` (SQLite or PostgreSQL), in chunks of
    participants, handed to `consume` in a worker thread inside one read transaction; returns what it returns.
    `consume` must be done with the chunks when it returns: the transaction ends then."""
    backend = engine.url.get_backend_name()
    if backend not in DRIVERS:
        raise Unsupported(f"the outcome report reads SQLite or PostgreSQL, not {backend}")
    return await asyncio.to_thread(_read, engine.url.set(drivername=DRIVERS[backend]), query, consume)


def _read(url: URL, query: OutcomeQuery, consume: Callable[[Iterator[OutcomeRows]], T]) -> T:
    engine = create_engine(url, poolclass=NullPool, hide_parameters=True)  # no health data in an error
    try:
        with engine.connect() as conn, snapshot(conn) as reading:
            return consume(outcome_chunks(reading, query))
    finally:
        engine.dispose()


@contextmanager
def snapshot(conn: Connection) -> Iterator[Connection]:
    """One read transaction: every statement in it sees the database as it was at its first read."""
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        if not isinstance(driver, sqlite3.Connection):
            raise TypeError("the outcome report reads SQLite through the sqlite3 driver")
        driver.isolation_level = None  # the driver begins nothing before a SELECT: BEGIN here, one snapshot
        conn.exec_driver_sql("PRAGMA temp_store=FILE")  # the sorts by participant spill to a file, not to memory
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.exec_driver_sql("ROLLBACK")
        return
    # PostgreSQL's default, READ COMMITTED, takes a new snapshot for every statement.
    reading = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    transaction = reading.begin()
    try:
        yield reading
    finally:
        transaction.rollback()


def outcome_chunks(conn: Connection, query: OutcomeQuery) -> Iterator[OutcomeRows]:
    """The participants `query.chunk` at a time, each chunk with their rows. Every table is one statement read
    by participant, taken as far as the chunk's last participant."""
    reader = _Reader(conn, query)
    people = conn.execute(reader.people().execution_options(yield_per=query.chunk))
    tables = [_Stream(conn, statement, make) for statement, make in reader.tables()]
    for partition in people.partitions():
        chunk = [PersonRow(*row) for row in partition]
        last = chunk[-1].participant_id
        marks, scores, runs, events, escalations = (table.until(last) for table in tables)
        yield OutcomeRows(chunk, marks, scores, runs, events, escalations)


FETCH = 10_000  # rows a table's cursor fetches at a time
Stored = Sequence[Any]  # a row as the driver hands it over
Made = Callable[[list[Stored]], list[Any]]  # makes a chunk's records of a table's rows


class _Stream:
    """One table's rows, ordered by participant id, handed out up to a participant at a time."""

    def __init__(self, conn: Connection, statement: Select[Any] | None, make: Made) -> None:
        self._make = make
        self._batches = iter(()) if statement is None else (
            conn.execute(statement.execution_options(yield_per=FETCH)).partitions())
        self._batch: Sequence[Stored] = []
        self._next = 0  # the first row of `_batch` not handed out

    def until(self, last: int) -> list[Any]:
        """The rows of the participants up to `last` (id) not handed out yet."""
        taken: list[Stored] = []
        while True:
            if self._next == len(self._batch):
                self._batch, self._next = next(self._batches, []), 0
                if not self._batch:
                    break
            end = bisect_right(self._batch, last, lo=self._next, key=_participant)
            taken.extend(self._batch[self._next:end])
            self._next = end
            if end < len(self._batch):
                break
        return self._make(taken)


_p, _pr, _mk, _sc, _sch, _e = s.participants, s.profiles, s.programme_marks, s.scores, s.schedule, s.escalations
_utc = datetime.fromisoformat  # stored as fixed-width ISO-8601 UTC text with "+00:00": an aware UTC datetime
_participant = itemgetter(0)  # every statement's first column


def _same(value: Any) -> Any:
    return value


class _Reader:
    """The report's statements for one connection and query, each with what makes its rows' records."""

    def __init__(self, conn: Connection, query: OutcomeQuery) -> None:
        self.query = query
        sqlite = conn.dialect.name == "sqlite"
        # On SQLite a timestamp is read as its stored text and parsed in bulk by `_utc`, not by one type-processor
        # call per row; elsewhere the column's own type gives a datetime.
        self.time: Callable[[ColumnElement[Any]], ColumnElement[Any]] = _text if sqlite else _same
        self.parse: Callable[[Any], datetime] = _utc if sqlite else _same

    def tables(self) -> list[tuple[Select[Any] | None, Made]]:
        """Milestones, scores, completed runs, sent events and escalations, in that order."""
        return [self.milestones(), self.measure_scores(), self.completed_runs(), self.sent_events(), self.escalations()]

    def _of_cohort(self, statement: Select[Any], table: Table) -> Select[Any]:
        """Only the rows of the cohort's (and the programme's) participants, when the query names one: found through
        the `participant_id` index, where the database finds that quicker than a scan (a cohort is often a small
        part of everyone), and still sorted by `_participant_of`."""
        if self.query.cohort is not None:
            in_cohort = select(_pr.c.participant_id).where(_pr.c.cohort == self.query.cohort)
            statement = statement.where(table.c.participant_id.in_(in_cohort))
        chosen = self.query.programme
        if chosen is not None and self.query.with_unrecorded:  # everyone but those recorded in another programme
            elsewhere = select(_pr.c.participant_id).where(_pr.c.programme.is_not(None), _pr.c.programme != chosen)
            statement = statement.where(table.c.participant_id.not_in(elsewhere))
        elif chosen is not None:
            statement = statement.where(table.c.participant_id.in_(
                select(_pr.c.participant_id).where(_pr.c.programme == chosen)))
        return statement

    def people(self) -> Select[Any]:
        """Every participant (with their profile's cohort and start date, when enrolled), in id order."""
        query = (
            select(_p.c.id, _pr.c.cohort, _pr.c.start_date, _p.c.created_at)
            .join_from(_p, _pr, _pr.c.participant_id == _p.c.id, isouter=True)
            .order_by(_p.c.id)
        )
        if self.query.cohort is not None:
            query = query.where(_pr.c.cohort == self.query.cohort)
        chosen = self.query.programme
        if chosen is not None:
            recorded = _pr.c.programme == chosen
            query = query.where(or_(recorded, _pr.c.programme.is_(None)) if self.query.with_unrecorded else recorded)
        return query

    def milestones(self) -> tuple[Select[Any] | None, Made]:
        """Programme milestones of the query's kinds, by participant in the order they were stored."""
        parse = self.parse

        def make(rows: list[Stored]) -> list[MarkRow]:
            detail_of = _details()
            return [MarkRow(pid, intern(kind), intern(key), detail_of(detail), parse(at))
                    for pid, kind, key, detail, at in rows]  # a few kinds and keys, many rows

        if not self.query.marks:
            return None, make
        query = (
            select(_participant_of(_mk), _mk.c.kind, _mk.c.key, _mk.c.detail, self.time(_mk.c.at))
            .where(_mk.c.kind.in_(self.query.marks))
            .order_by(_participant_of(_mk), _mk.c.id)
        )
        return self._of_cohort(query, _mk), make

    def measure_scores(self) -> tuple[Select[Any] | None, Made]:
        """The scores with the query's (flow id, score id), by participant in the order they were stored."""
        pairs = set(self.query.scores)

        def make(rows: list[Stored]) -> list[ScoreRow]:
            return [ScoreRow(*row) for row in rows if (row[2], row[3]) in pairs]

        if not pairs:
            return None, make
        query = (
            select(_participant_of(_sc), _sc.c.run_seq, _sc.c.flow_id, _sc.c.score_id, _sc.c.value)
            .where(_sc.c.flow_id.in_({flow for flow, _ in pairs}), _sc.c.score_id.in_({score for _, score in pairs}))
            .order_by(_participant_of(_sc), _sc.c.id)
        )
        return self._of_cohort(query, _sc), make

    def completed_runs(self) -> tuple[Select[Any] | None, Made]:
        """One row per completed run of the query's flows (a run has scores once it is completed), by participant
        oldest first."""
        parse = self.parse

        def make(rows: list[Stored]) -> list[RunRow]:
            return [RunRow(pid, intern(flow), seq, parse(at)) for pid, flow, seq, at in rows]

        if not self.query.runs:
            return None, make
        completed_at = func.min(self.time(_sc.c.completed_at))
        query = (
            select(_participant_of(_sc), _sc.c.flow_id, _sc.c.run_seq, completed_at)
            .where(_sc.c.flow_id.in_(self.query.runs))
            .group_by(_participant_of(_sc), _sc.c.flow_id, _sc.c.run_seq)
            .order_by(_participant_of(_sc), completed_at, _sc.c.flow_id, _sc.c.run_seq)
        )
        return self._of_cohort(query, _sc), make

    def sent_events(self) -> tuple[Select[Any] | None, Made]:
        """Schedule rows of the query's kinds that ended as sent, with when they were handled, by participant
        oldest first."""
        parse = self.parse

        def make(rows: list[Stored]) -> list[EventRow]:
            return [EventRow(pid, intern(kind), parse(at)) for pid, kind, at in rows]

        if not self.query.events:
            return None, make
        sent_at = func.coalesce(self.time(_sch.c.updated_at), self.time(_sch.c.due_at))
        query = (
            select(_participant_of(_sch), _sch.c.kind, sent_at)
            .where(_sch.c.kind.in_(self.query.events), _sch.c.status == SENT)
            .order_by(_participant_of(_sch), sent_at, _sch.c.id)
        )
        return self._of_cohort(query, _sch), make

    def escalations(self) -> tuple[Select[Any] | None, Made]:
        """Every escalation's level, status and times (never its triggers' text), by participant oldest first."""

        def make(rows: list[Stored]) -> list[EscalationRow]:
            return [EscalationRow(*row) for row in rows]

        query = select(
            _participant_of(_e), _e.c.level, _e.c.status, _e.c.opened_at, _e.c.acknowledged_at, _e.c.deadline_at,
            _e.c.tier,
        ).order_by(_participant_of(_e), _e.c.opened_at, _e.c.id)
        return self._of_cohort(query, _e), make


def _participant_of(table: Table) -> ColumnElement[int]:
    """A table's participant id as an expression, which no index hands over in order: so the database scans the
    table and sorts its rows by participant (SQLite in a temporary file) rather than walking the `participant_id`
    index. A running bot writes everyone's rows as they come, so that walk visits a page for nearly every row: on
    benchmarks/report.py's 100,000 participants with their rows rewritten in time order, it made reading the
    scores three times as slow."""
    return table.c.participant_id + literal_column("0", Integer)


def _text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A timestamp column as its stored text."""
    return type_coerce(column, String)


def _details() -> Callable[[str | dict[str, Any]], dict[str, Any]]:
    """Milestones' JSON details, each text parsed once (most are empty, and a wave's runs repeat from one
    participant to the next): the dictionaries are shared, to be read only. A JSON column's driver may have
    parsed them already."""
    parsed: dict[str, dict[str, Any]] = {}

    def detail(value: str | dict[str, Any]) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        found = parsed.get(value)
        if found is None:
            found = parsed[value] = json.loads(value)
        return found

    return detail


def enrolled_cohorts(conn: Connection) -> list[str]:
    """The cohorts participants were enrolled in, sorted (for a helpful error on a mistyped --cohort)."""
    query = select(s.profiles.c.cohort).where(s.profiles.c.cohort.is_not(None)).distinct()
    return sorted(str(c) for c in conn.execute(query).scalars())
