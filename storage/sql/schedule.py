"""The schedule's SQL: planning (an upsert), claiming due rows under a lease, and the statements a step's
schedule changes run (storage/sql/steps.py). The rules are in storage/sql/schedule_rows.py.

The upsert (``INSERT ... ON CONFLICT DO UPDATE``) is not portable Core: it is built per dialect from
`_replan_on_conflict`, on PostgreSQL over rows read from one JSON parameter (``json_to_recordset``, as SQL text).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Dialect, bindparam, func, literal_column, null, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from storage.errors import StorageClosed, UnknownParticipantError, unknown_participant
from storage.records import ScheduledRecord, ScheduleRow, ScheduleStatus
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.claims import RACE_RETRIES, claim_schedule, locking, lost_race
from storage.sql.codecs import UTCDateTime, dump_list, require_utc, utc_text
from storage.sql.engine import log
from storage.sql.schedule_rows import (
    REPLACED,
    REPLANNABLE,
    SCHEDULE_ROW_COLUMNS,
    PlannedRows,
    schedule_from_row,
    schedule_rows,
)

_p, _sch, _tk, _mk = s.participants, s.schedule, s.coach_tasks, s.programme_marks
_KNOWN_PARTICIPANTS = select(_p.c.id).where(_p.c.id.in_(bindparam("pids", expanding=True)))
_THEIR_PENDING = (_sch.c.participant_id == bindparam("pid"), _sch.c.status == ScheduleStatus.PENDING.value)
_NEXT_PENDING_DUE = select(func.coalesce(
    select(func.min(_sch.c.due_at)).where(*_THEIR_PENDING, _sch.c.due_at > bindparam("after", type_=UTCDateTime))
    .scalar_subquery(),
    select(func.min(_sch.c.due_at)).where(*_THEIR_PENDING).scalar_subquery(),
    type_=UTCDateTime))
_KNOWN_AMONG = text("SELECT id FROM participants WHERE id = ANY(CAST(:pids AS INTEGER[]))")  # PostgreSQL's
SCHEDULE_STATES = select(_sch.c.id, _sch.c.participant_id, _sch.c.key, _sch.c.kind, _sch.c.status).where(
    _sch.c.id.in_(bindparam("ids", expanding=True))
)
COMPLETE_SCHEDULE = (  # `outcome_changes`, guarded by `outcome_applies` (checked by the plan as well)
    update(_sch)
    .where(_sch.c.id == bindparam("b_id"), _sch.c.status == s.SCHEDULE_PENDING)
    .values(
        status=bindparam("b_status"),
        reason=bindparam("b_reason"),
        claimed_until=None,
        updated_at=bindparam("b_at"),
        due_at=func.coalesce(bindparam("b_due", type_=UTCDateTime), _sch.c.due_at),  # a deferral's new time
    )
)
CANCEL_SCHEDULE = (  # `cancels` and `cancel_changes`, one kind per parameter set
    update(_sch)
    .where(
        _sch.c.participant_id == bindparam("b_pid"),
        _sch.c.kind == bindparam("b_kind"),
        _sch.c.status == s.SCHEDULE_PENDING,
    )
    .values(status=ScheduleStatus.CANCELLED.value, reason=REPLACED, updated_at=bindparam("b_at"))
)
CANCEL_SCHEDULE_KEY = (  # the same, for a step's `cancel_schedule_keys` (a withdrawn timer), one key per parameter set
    update(_sch)
    .where(
        _sch.c.participant_id == bindparam("b_pid"),
        _sch.c.key == bindparam("b_key"),
        _sch.c.status == s.SCHEDULE_PENDING,
    )
    .values(status=ScheduleStatus.CANCELLED.value, reason=REPLACED, updated_at=bindparam("b_at"))
)

# Claim in one statement, so no one else can take the same rows in between. The scan runs on the partial index of
# pending rows in due order (the status is a literal for that); rows under a live lease are passed over.
_CLAIMABLE = (
    select(_sch.c.id)
    .where(
        _sch.c.status == s.SCHEDULE_PENDING,
        _sch.c.due_at <= bindparam("now"),
        or_(_sch.c.claimed_until.is_(None), _sch.c.claimed_until <= bindparam("now")),
    )
    .order_by(_sch.c.due_at, _sch.c.id)
    .limit(bindparam("limit"))
)
SCHEDULE_ROW = tuple(_sch.c[name] for name in SCHEDULE_ROW_COLUMNS)  # what `schedule_from_row` reads
CLAIM_SCHEDULE = (
    update(_sch).where(_sch.c.id.in_(_CLAIMABLE)).values(claimed_until=bindparam("lease")).returning(*SCHEDULE_ROW)
)
APART_ROWS = 1_000  # from this many rows a plan on a server database is written apart from the writer
# A planned row's columns, in the upsert's parameter order; an event's (`PlannedRows.events`) are the same but the
# participant, with their types in `_PLAN_RECORDSET`'s JSON (the data as its JSON text, cast to JSONB in the INSERT;
# the times as ISO-8601 text)
_PLANNED = ("participant_id", "key", "kind", "due_at", "data", "created_at")
_EVENT = (("key", "VARCHAR"), ("kind", "VARCHAR"), ("due_at", "TIMESTAMPTZ"), ("data", "TEXT"),
          ("created_at", "TIMESTAMPTZ"))
_TIMES = frozenset(name for name, sql_type in _EVENT if sql_type == "TIMESTAMPTZ")  # sent as text


def _replan_on_conflict(statement: Any) -> Any:
    """`replan_changes` as an upsert of `statement` (an INSERT of planned rows): insert a new key; re-plan a pending
    or cancelled row; leave a sent or skipped one alone (the DO UPDATE's WHERE is false, so the row counts as
    unchanged)."""
    planned = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[_sch.c.participant_id, _sch.c.key],
        set_={
            "kind": planned.kind,
            "due_at": planned.due_at,
            "data": planned.data,
            "status": s.SCHEDULE_PENDING,
            "reason": literal_column("''"),
            "claimed_until": null(),
            "updated_at": planned.created_at,
        },
        where=_sch.c.status.in_([literal_column(f"'{status}'") for status in sorted(REPLANNABLE)]),
    )


def _plan_one_row_statement() -> Any:
    """SQLite: one planned row, for the driver's executemany. Constants are literals: an executemany can neither
    expand a list parameter nor afford parameters it does not need."""
    parameters: dict[str, Any] = {name: bindparam(name) for name in _PLANNED}
    return _replan_on_conflict(
        sqlite.insert(_sch).values(**parameters, status=s.SCHEDULE_PENDING, reason=literal_column("''")))


def _plan_recordset_statement() -> Any:
    """PostgreSQL: all the planned rows in one statement. The distinct events go as one JSON array
    (``json_to_recordset``, each parsed and its data cast to JSONB once, in a subquery), the rows as two integer arrays
    written as text: each row's participant and the number of its event (``unnest ... WITH ORDINALITY`` keeps the
    rows' order, so the ids rise in the order planned).

    Why this shape (benchmarks/schedule.py --postgres, 100,000 participants' programmes, 800,000 rows): an
    executemany sends and executes one statement per row, 30 s; one array parameter per column took 27 s (the
    driver writes arrays out element by element in Python); one JSON object per row, 20-26 s, of which the server
    spent about a quarter parsing JSON that repeats the same few thousand events, and the client as much again
    building a dictionary per row to encode."""
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in _EVENT)
    names = ", ".join(name for name, _ in _EVENT)
    # OFFSET 0 keeps the events a subquery of their own, so each is cast once, not once per row after the join
    events = (f"SELECT key, kind, due_at, CAST(data AS JSONB) AS data, created_at, _n FROM ROWS FROM "
              f"(json_to_recordset(CAST(:events AS JSON)) AS ({columns})) WITH ORDINALITY AS listed({names}, _n) "
              f"OFFSET 0")
    source = text(f"ROWS FROM (unnest(CAST(:pids AS INTEGER[]), CAST(:picks AS INTEGER[]))) "
                  f"WITH ORDINALITY AS planned(participant_id, pick, _ord) "
                  f"JOIN ({events}) AS event ON event._n = planned.pick")
    values: list[Any] = [literal_column("planned.participant_id"),
                         *(literal_column(f"event.{name}") for name, _ in _EVENT)]
    chosen = select(*values, s.SCHEDULE_PENDING, literal_column("''")).select_from(source).order_by(
        literal_column("planned._ord"))
    insert = postgresql.insert(_sch).from_select([*_PLANNED, "status", "reason"], chosen)
    return _replan_on_conflict(insert).execution_options(preserve_rowcount=True)  # an INSERT's is dropped otherwise


_PLAN_ONE_ROW = _plan_one_row_statement()  # SQLite's
_PLAN_RECORDSET = _plan_recordset_statement()  # PostgreSQL's
_plan_sql: dict[tuple[str, str], tuple[str, bool]] = {}  # (dialect, paramstyle) -> (SQL, positional)


def _compiled_plan(dialect: Dialect) -> tuple[str, bool]:
    key = (dialect.name, dialect.paramstyle)
    if key not in _plan_sql:
        compiled = _PLAN_ONE_ROW.compile(dialect=dialect)
        if compiled.positional and tuple(compiled.positiontup or ()) != _PLANNED:
            raise RuntimeError("the schedule upsert's parameters are not in the expected order")
        _plan_sql[key] = (str(compiled), compiled.positional)
    return _plan_sql[key]


@dataclass(frozen=True)
class EncodedPlan:
    """Planned rows encoded for one dialect's upsert (`encode_plan`): what the writer sends, nothing left to convert.
    A bulk plan is encoded before it is queued, on the caller's thread, so the next chunk is encoded while the
    writer writes this one."""

    participant_ids: frozenset[int]
    statements: tuple[dict[str, str], ...] = ()  # PostgreSQL: `_PLAN_RECORDSET`'s parameters, one set per round
    values: tuple[tuple[Any, ...], ...] = ()  # SQLite: one tuple of `_PLANNED` per row, for the executemany


def encode_plan(planned: PlannedRows, dialect: Dialect) -> EncodedPlan:
    """Planned rows as `write_plan` sends them. Each distinct event is turned into text once. On SQLite each row is
    a tuple for the driver's executemany: SQLAlchemy's per-row parameter processing would cost about as much as
    SQLite's own work (materialising a cohort's programme is about a million and a half rows). On PostgreSQL the
    events go once and the rows as two arrays (`_plan_recordset_statement`)."""
    texts: dict[datetime, str] = {}

    def utc(value: datetime) -> str:
        found = texts.get(value)
        if found is None:
            found = texts[value] = utc_text(value)
        return found

    participant_ids = planned.participant_ids()
    if dialect.name == "postgresql":
        events = dump_list([{name: utc(event[name]) if name in _TIMES else event[name] for name, _ in _EVENT}
                            for event in planned.events])
        return EncodedPlan(participant_ids, statements=tuple(
            {"events": events, "pids": integers_text(pids), "picks": integers_text(index + 1 for index in picks)}
            for pids, picks in _rounds(planned)))
    encoded = [(e["key"], e["kind"], utc(e["due_at"]), e["data"], utc(e["created_at"])) for e in planned.events]
    return EncodedPlan(participant_ids, values=tuple((pid, *encoded[index]) for pid, index in planned.rows))


def write_plan(conn: Connection, plan: EncodedPlan) -> int:
    """Upsert encoded rows in order (a later row with the same key wins); how many were inserted or re-planned."""
    if plan.statements:
        return sum(int(conn.execute(_PLAN_RECORDSET, parameters).rowcount) for parameters in plan.statements)
    if not plan.values:
        return 0
    sql, positional = _compiled_plan(conn.dialect)
    values = list(plan.values)  # a list: SQLAlchemy runs a list as executemany, a tuple as one row's parameters
    params: list[Any] = values if positional else [dict(zip(_PLANNED, v, strict=True)) for v in values]
    return int(conn.exec_driver_sql(sql, params).rowcount)


def plan_schedule(conn: Connection, planned: PlannedRows) -> int:
    """`write_plan` of the rows encoded here, in the writer (a step's or an appointment's few)."""
    return write_plan(conn, encode_plan(planned, conn.dialect)) if planned.rows else 0


def unknown_among(conn: Connection, participant_ids: Collection[int]) -> UnknownParticipantError | None:
    """The refusal for the lowest of these ids that is nobody, or None when all exist: the check before planning or
    booking for people. On PostgreSQL as one array parameter: an IN list of a bulk plan's 1,250 ids made the driver
    parse a statement of 1,250 placeholders per chunk."""
    if conn.dialect.name == "postgresql":
        known = set(conn.scalars(_KNOWN_AMONG, {"pids": integers_text(participant_ids)}))
    else:
        known = set(conn.scalars(_KNOWN_PARTICIPANTS, {"pids": sorted(participant_ids)}))
    missing = set(participant_ids) - known
    return unknown_participant(min(missing)) if missing else None


def integers_text(values: Iterable[int]) -> str:
    """Integers as PostgreSQL's array text (``{1,2,3}``): written in C, where a list parameter is written element by
    element in Python."""
    return "{" + ",".join(map(str, values)) + "}"


def _rounds(planned: PlannedRows) -> list[tuple[list[int], list[int]]]:
    """The rows in statements that each upsert a key at most once (PostgreSQL refuses a statement that updates one
    row twice): every key's first plan, then the second plans, and so on, each in the order given, as (participant
    ids, event indexes). Written one after the other, that is the same as row after row: the same rows, the same
    count."""
    keys = [event["key"] for event in planned.events]
    rounds: list[tuple[list[int], list[int]]] = []
    times: dict[tuple[int, str], int] = {}
    for pid, index in planned.rows:
        key = (pid, keys[index])
        n = times[key] = times.get(key, -1) + 1
        if n == len(rounds):
            rounds.append(([], []))
        rounds[n][0].append(pid)
        rounds[n][1].append(index)
    return rounds


def write_programme_ops(conn: Connection, payloads: list[Any]) -> list[Any]:
    return [cast(ProgrammeOp, op).run(conn) for op in payloads]


class ProgrammeOp(ABC):
    """A schedule or coach-task write run in queue order in the writer's transaction; like `ContactOp`, one
    that is refused returns its exception, having written nothing."""

    @abstractmethod
    def run(self, conn: Connection) -> Any: ...


@dataclass(frozen=True)
class AddSchedule(ProgrammeOp):
    plan: EncodedPlan

    def run(self, conn: Connection) -> int | Exception:
        if not self.plan.participant_ids:
            return 0
        refused = unknown_among(conn, self.plan.participant_ids)
        return refused if refused is not None else write_plan(conn, self.plan)


@dataclass(frozen=True)
class ClaimSchedule(ProgrammeOp):
    now: datetime
    limit: int
    lease_until: datetime

    def run(self, conn: Connection) -> list[ScheduleRow]:
        if self.limit <= 0:
            return []
        if locking(conn):  # PostgreSQL: several processes claim at once (storage/sql/claims.py)
            return claim_schedule(conn, self.now, self.limit, self.lease_until)
        params = {"now": self.now, "limit": self.limit, "lease": self.lease_until}
        rows = [schedule_from_row(row) for row in conn.execute(CLAIM_SCHEDULE, params).mappings()]
        return sorted(rows, key=lambda row: (row.due_at, row.id))  # RETURNING has no order of its own


class ScheduleMethods(StoreBase):
    """The `Schedule` port."""

    async def add_schedule(self, entries: Sequence[tuple[int, ScheduledRecord]], at: datetime) -> int:
        """Plan (participant id, event) pairs in one transaction, in order (a later entry with the same key wins):
        a new key is inserted, a pending or cancelled row re-planned, a sent or skipped one left alone. Returns how
        many rows were inserted or re-planned; UnknownParticipantError, writing nothing, for an unknown id."""
        planned = schedule_rows(entries, at, self._event_memo)
        op = AddSchedule(encode_plan(planned, self._engine.dialect))
        if self._engine.dialect.name == "postgresql" and len(planned) >= APART_ROWS:
            return await self._write_apart(op)
        return cast(int, await self._writer.submit(Kind.PROGRAMME, op))

    async def _write_apart(self, op: AddSchedule) -> int:
        """A bulk plan on a server database, in a transaction of its own beside the writer's: the bot's steps do not
        queue behind it, and two of them (`bot.scheduler.materialise`'s lanes) keep two of the server's cores busy.
        The upsert needs nothing of the writer: the unique key and the row locks order it against anyone else, and
        a deadlock with a live step (each holding a person the other wants) is rolled back and run again. `close()`
        waits for it, as for the writer's queue; a caller cancelled meanwhile does not cut it short. Racing an erasure
        of one of its people (which several processes could always do), it fails with the foreign key's
        IntegrityError rather than UnknownParticipantError; either way nothing of it is written."""
        if self._closed:
            raise StorageClosed("storage is closed")
        task = asyncio.ensure_future(self._run_apart(op))
        self._apart_writes.add(task)
        task.add_done_callback(self._apart_writes.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_unheard)  # its caller has gone: how it ends goes to the log
            raise

    async def _run_apart(self, op: AddSchedule) -> int:
        attempt = 0
        while True:
            try:
                async with self._engine.connect() as conn, conn.begin():  # accepted before any close: it runs
                    written = await conn.run_sync(op.run)
                    if isinstance(written, Exception):
                        raise written  # refused, nothing written: rolled back
                    return written
            except OperationalError as exc:  # a deadlock with someone else's transaction: nothing was written
                if not lost_race(exc) or attempt == RACE_RETRIES:
                    raise
                attempt += 1

    async def after_bulk_plan(self) -> None:
        """See `Schedule.after_bulk_plan`: ``ANALYZE schedule`` on a server (about 0.2 s at a million rows: it reads
        a sample); nothing on SQLite, whose claim is one UPDATE that needs no statistics to find its rows."""
        if self._path is None:
            async with self._connect() as conn:
                await conn.exec_driver_sql("ANALYZE schedule")
                await conn.commit()

    async def claim_schedule(self, now: datetime, limit: int, lease_until: datetime) -> list[ScheduleRow]:
        """Hold up to `limit` due, pending rows nobody holds until `lease_until`, earliest due first (then id)."""
        op = ClaimSchedule(require_utc(now), limit, require_utc(lease_until))
        return cast(list[ScheduleRow], await self._writer.submit(Kind.PROGRAMME, op))

    async def schedule_of(self, participant_id: int) -> list[ScheduleRow]:
        """All of the participant's rows, whatever their status, by due time (then id)."""
        query = (
            select(*SCHEDULE_ROW).where(_sch.c.participant_id == participant_id).order_by(_sch.c.due_at, _sch.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [schedule_from_row(row) for row in rows]

    async def next_pending_due(self, participant_id: int, after: datetime) -> datetime | None:
        return await self.lookup(next_pending_due, participant_id, require_utc(after))


def next_pending_due(conn: Connection, participant_id: int, after: datetime) -> datetime | None:
    """`Schedule.next_pending_due`, one SELECT."""
    return cast(datetime | None, conn.execute(_NEXT_PENDING_DUE, {"pid": participant_id, "after": after}).scalar())



def _unheard(task: asyncio.Future[int]) -> None:
    """A bulk write whose caller was cancelled has ended: a failure is logged by its kind only (no ids, no data)."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("a bulk schedule write whose caller had gone failed: %s", type(task.exception()).__name__)
