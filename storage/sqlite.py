"""SQLite storage (SQLAlchemy Core) with group commit: durable under power loss, and fast.

Every write goes through one writer (a `_Batcher`). It takes everything queued, up to `max_batch` jobs, runs
them in a single ``BEGIN IMMEDIATE`` transaction, commits once (one fsync under ``synchronous=FULL``) and only
then resolves each caller. A lone call is written at once; batches form by themselves while a commit is in
flight. If a batch fails before its COMMIT, nothing of it was written, so it is split in halves and retried
until the failing job is alone and only its caller gets the error. If the COMMIT itself fails, the outcome is
unknown and every caller in the batch gets the error: no one is told a write succeeded that may not have.
The hot reads (a conversation, a participant by ref) are batched the same way by a reader.

All SQL is portable Core in plain functions of a sync `Connection`; a `_Runner` decides where they run:

- ``runner="hybrid"`` (default for SQLite): see `_HybridRunner`. Two thread hand-offs per batch.
- ``runner="async"``: on the ``create_async_engine`` engine via ``run_sync`` (aiosqlite; asyncpg later).
  Portable, but aiosqlite hands every cursor call to its thread and back (about 35 hand-offs per batch),
  and under load each waits for the busy event loop: at 2,000 steps/s offered it measured ~4x the latency.

Everything else (outbox, exports, audit, migrations) uses the async engine. SQLite specifics (pragmas, who
emits BEGIN, the pysqlite twin connections) are confined to `_install_sqlite_hooks` and `_HybridRunner`; the one
statement that is not portable Core, the schedule's upsert (``INSERT ... ON CONFLICT DO UPDATE``), is built per
dialect in `_plan_schedule_statement`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from sqlalchemy import (
    URL,
    Connection,
    Dialect,
    Engine,
    NullPool,
    bindparam,
    create_engine,
    event,
    false,
    func,
    insert,
    literal_column,
    make_url,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage import claims, person
from storage import contacts as ct
from storage import escalations as esc
from storage import messages as msg
from storage import schema as s
from storage import undelivered as und
from storage.crypto import Keys, load_keys
from storage.files import private_database, private_directory
from storage.interface import (
    AddressStatus,
    AuditRecord,
    ChannelAddress,
    CoachMessage,
    CoachTask,
    CommitResult,
    CommitStatus,
    Conversation,
    Enrollment,
    Escalation,
    Identity,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    OutboxRow,
    Participant,
    Profile,
    ScheduledRecord,
    ScheduleRow,
    ScheduleStatus,
    ScoreRecord,
    StepRecord,
    UndeliveredRow,
)
from storage.migrations import ENCRYPTED_BODIES, ENCRYPTED_CONTACTS, apply_migrations

log = logging.getLogger(__name__)

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    # Planning a cohort's schedule (a million rows, due times spread over a year) touches index pages all over, and
    # a claim of 1,000 due rows touches 1,000 table pages. With 16 MiB of page cache per connection instead of 2,
    # and a checkpoint every 10,000 WAL pages instead of every 1,000 (at most ~40 MB of WAL; a commit that runs the
    # checkpoint takes ~0.1 s longer), planning took ~30% and claiming ~20% less time on a 2-core machine.
    "PRAGMA cache_size=-16384",
    "PRAGMA wal_autocheckpoint=10000",
)
_BEGIN = "storage_begin"  # execution option: the statement that opens a transaction (see _begin below)
_WRITES = {_BEGIN: "BEGIN IMMEDIATE"}  # take the write lock up front
_LOOKUPS = {_BEGIN: ""}  # single-statement lookups: each SELECT is atomic on its own, so skip BEGIN


# --- SQLite connection setup ---


def _install_sqlite_hooks(engine: Engine) -> None:
    """Take transaction control away from the sqlite3 driver (SQLAlchemy's documented recipe); set pragmas.

    With the driver's isolation_level None we emit BEGIN ourselves: ``BEGIN IMMEDIATE`` for writes, so a
    writer holds the lock from its first read (its checks stay true until COMMIT), plain ``BEGIN`` for reads
    that need one snapshot, nothing for batched lookups that are one SELECT per kind.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in PRAGMAS:
                cursor.execute(pragma)
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
        finally:
            cursor.close()
        if str(mode).lower() != "wal":
            raise RuntimeError(f"SQLite refused WAL journal mode (got {mode!r}); refusing to run without it")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        statement = conn.get_execution_options().get(_BEGIN, "BEGIN")
        if statement:
            conn.exec_driver_sql(statement)


def _engine_url(target: str | os.PathLike[str]) -> URL:
    """A file path or SQLite URL becomes an aiosqlite URL (its directory is created); others are kept."""
    raw = os.fspath(target)
    if "://" in raw:
        url = make_url(raw)
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise ValueError("in-memory SQLite is not supported; use MemoryStorage")
            private_directory(Path(url.database).expanduser().resolve().parent)
            url = url.set(drivername="sqlite+aiosqlite")
        return url
    if raw in ("", ":memory:"):
        raise ValueError("in-memory SQLite is not supported; use MemoryStorage")
    path = Path(raw).expanduser().resolve()
    private_directory(path.parent)
    return URL.create("sqlite+aiosqlite", database=str(path))


def _scrub_file(path: Path) -> None:
    """`SqliteStorage.scrub` on its own connection, outside any transaction (VACUUM cannot run inside one)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("VACUUM")
        for _ in range(100):  # a reader still on an old snapshot keeps its frames: wait for it to move on
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.05)
        raise RuntimeError("the WAL could not be emptied while other connections were reading: scrub again")
    finally:
        conn.close()


# --- running one transaction ---

_Work = Callable[[Connection], list[Any]]


class _CommitFailed(Exception):
    """COMMIT raised: the batch may or may not be on disk, so it must not be retried piecemeal."""


class _Runner(Protocol):
    engine: Engine  # where the SQL runs (for event listeners)

    async def run(self, work: _Work) -> list[Any]:
        """Run `work` in one transaction and commit; raise `_CommitFailed` if the COMMIT fails."""
        ...

    async def close(self) -> None: ...


class _AsyncRunner:
    """Transactions on the async engine: the portable path (each statement awaits the driver)."""

    def __init__(self, engine: AsyncEngine, root: Engine) -> None:
        self._engine = engine  # may carry execution options
        self.engine = root  # events are registered on the root engine

    async def run(self, work: _Work) -> list[Any]:
        async with self._engine.connect() as conn:
            await conn.begin()
            try:
                result = await conn.run_sync(work)
            except BaseException:
                await _rollback_or_discard(conn)
                raise
            try:
                await conn.commit()
            except Exception as exc:
                with contextlib.suppress(Exception):  # its state is unknown: never hand it out again
                    await conn.invalidate()
                raise _CommitFailed("COMMIT failed") from exc
        return result

    async def close(self) -> None:
        pass


async def _rollback_or_discard(conn: AsyncConnection) -> None:
    try:
        await conn.rollback()
    except Exception:
        with contextlib.suppress(Exception):
            await conn.invalidate()


class _HybridRunner:
    """SQLite's fast path: only what may wait leaves the event loop; the statements run inline.

    ``BEGIN IMMEDIATE`` (may wait for another process's lock) and ``COMMIT`` (the fsync, and any WAL
    checkpoint) run on a dedicated thread; the statements between them, which under the write lock only touch
    SQLite's cache, run on the event loop, with no hand-off per statement and no contention for the GIL per
    row. A reader (`offload=False`) runs wholly inline: lookups in WAL mode never wait for writers.
    One pysqlite connection per runner, on the same file with the same pragmas and hooks.
    """

    def __init__(self, url: URL, name: str, options: dict[str, Any], *, offload: bool) -> None:
        self.engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            poolclass=NullPool,  # the runner keeps its one connection open itself
            hide_parameters=True,
            connect_args={"check_same_thread": False},  # used by one thread at a time, never concurrently
        )
        _install_sqlite_hooks(self.engine)
        self._options = options
        self._conn: Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) if offload else None

    async def _off_loop(self, fn: Callable[[], Any]) -> Any:
        if self._thread is None:
            return fn()
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def _begin(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(**self._options)
        self._conn.begin()
        return self._conn

    def _after_thread(self, fn: Callable[[], Any]) -> None:
        """Run `fn` once the thread's current call has finished (the executor runs calls in order)."""
        if self._thread is None:
            fn()
        else:
            self._thread.submit(fn)

    async def run(self, work: _Work) -> list[Any]:
        try:
            conn: Connection = await self._off_loop(self._begin)
        except BaseException:  # failed, or cancelled while BEGIN may still take the lock on the thread
            self._after_thread(self._drop)
            raise
        try:
            result = work(conn)
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                self._drop()
            raise
        try:
            await self._off_loop(conn.commit)
        except Exception as exc:
            self._drop()  # its transaction state is unknown: never use it again
            raise _CommitFailed("COMMIT failed") from exc
        except BaseException:  # cancelled while the COMMIT still runs on the thread
            self._after_thread(self._drop)
            raise
        return result

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        await self._off_loop(self._close)  # after anything still queued on the thread
        self.engine.dispose()
        if self._thread is not None:
            self._thread.shutdown(wait=True)


# --- batching ---


class _Kind(IntEnum):
    """Job kinds, in the order a batch applies them."""

    PARTICIPANT = 1
    STEP = 2
    SENT = 3
    AUDIT = 4
    FLOW = 5
    ESCALATION = 6  # acknowledge, close, raise tier, notifications: `esc.EscalationOp`s, in queue order
    CONTACT = 7  # enrolment, addresses, link codes, consent, delivery reports: `ct.ContactOp`s, in queue order
    PROGRAMME = 8  # planning and claiming schedule rows, completing coach tasks: `_ProgrammeOp`s, in queue order
    READ_PARTICIPANT = 9
    READ_CONVERSATION = 10
    READ_BY_ADDRESS = 11
    READ_ADDRESSES = 12
    READ_BY_PROVIDER_ID = 13
    PRAGMAS = 14
    READ_OUTBOX_CLAIM = 15  # a dispatcher's claim on a SQLite file (storage/claims.py `LocalLeases`)


@dataclass(eq=False)
class _Job:
    kind: _Kind
    payload: Any
    future: asyncio.Future[Any]


_Handler = Callable[[Connection, list[Any]], list[Any]]
_STOP = object()


class _Batcher:
    """One task that runs whatever is queued, up to `max_batch` jobs, in one transaction (group commit)."""

    def __init__(self, name: str, runner: _Runner, handlers: dict[_Kind, _Handler], max_batch: int) -> None:
        self._name = name
        self._runner = runner
        self._handlers = handlers
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job | object] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def engine(self) -> Engine:
        return self._runner.engine

    async def submit(self, kind: _Kind, payload: Any) -> Any:
        if self._closed:
            raise RuntimeError("storage is closed")
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done():  # first use, or after a crash
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._loop(self._queue), name=self._name)
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait(_Job(kind, payload, future))
        return await future

    async def stop(self) -> None:
        """Finish the jobs already queued, then end the task and release the runner."""
        if not self._closed:
            self._closed = True
            if self._queue is not None and self._task is not None and not self._task.done():
                self._queue.put_nowait(_STOP)
                await self._task
            await self._runner.close()

    async def _loop(self, queue: asyncio.Queue[_Job | object]) -> None:
        stopping = False
        batch: list[_Job] = []
        try:
            while not stopping:
                first = await queue.get()
                if first is _STOP:
                    break
                await asyncio.sleep(0)  # one yield lets callers made ready together join this batch
                batch = [cast(_Job, first)]
                while len(batch) < self._max_batch and not queue.empty():
                    item = queue.get_nowait()
                    if item is _STOP:
                        stopping = True
                        break
                    batch.append(cast(_Job, item))
                await self._run([job for job in batch if not job.future.cancelled()])
                batch = []
        finally:  # reached with jobs in hand only if this task itself was cancelled
            _fail(batch, RuntimeError(f"{self._name} was cancelled; this job may or may not have run"))
            waiting = [cast(_Job, item) for item in _drain(queue) if item is not _STOP]
            _fail(waiting, RuntimeError(f"{self._name} was cancelled before running this job"))

    async def _run(self, jobs: list[_Job], attempt: int = 0) -> None:
        if not jobs:
            return
        try:
            results = await self._runner.run(lambda conn: self._apply(conn, jobs))
        except _CommitFailed as exc:
            _fail(jobs, exc.__cause__ or exc)
        except OperationalError as exc:  # locked, disk full, I/O: not one job's fault; retrying won't help
            if claims.lost_race(exc) and attempt < claims.RACE_RETRIES:  # PostgreSQL rolled it back: run it again
                await self._run(jobs, attempt + 1)
            else:
                _fail(jobs, exc)
        except Exception as exc:
            if len(jobs) == 1:
                _fail(jobs, exc)
            else:  # nothing was written: isolate the failing job(s) and let the others commit
                half = len(jobs) // 2
                await self._run(jobs[:half])
                await self._run(jobs[half:])
        else:
            for job, result in zip(jobs, results, strict=True):
                if job.future.done():
                    continue
                if isinstance(result, Exception):  # refused by its handler; the rest of the batch went in
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    def _apply(self, conn: Connection, jobs: list[_Job]) -> list[Any]:
        results: list[Any] = [None] * len(jobs)
        for kind in _Kind:
            picked = [i for i, job in enumerate(jobs) if job.kind is kind]
            if picked:
                out = self._handlers[kind](conn, [jobs[i].payload for i in picked])
                for i, result in zip(picked, out, strict=True):
                    results[i] = result
        return results


def _drain(queue: asyncio.Queue[_Job | object]) -> list[_Job | object]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def _fail(jobs: list[_Job], exc: BaseException) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)


# --- statements, built once (the hot path should not rebuild them per batch) ---

_p, _c, _a, _o, _ib, _fv = (
    s.participants,
    s.conversations,
    s.answers,
    s.outbox,
    s.inbox,
    s.flow_versions,
)
_PARTICIPANTS_BY_REF = select(_p).where(_p.c.ref.in_(bindparam("refs", expanding=True)))
_INSERT_PARTICIPANTS = insert(_p).returning(*_p.c)  # matched back by ref, so no ordering needed
_CONVERSATIONS = select(_c.c.participant_id, _c.c.state, _c.c.revision).where(
    _c.c.participant_id.in_(bindparam("pids", expanding=True))
)
_REVISIONS = (  # one row per existing participant; revision is NULL when nothing is saved yet
    select(_p.c.id, _c.c.revision).select_from(_p.outerjoin(_c)).where(_p.c.id.in_(bindparam("pids", expanding=True)))
)
_SEEN_INBOUND = select(_ib.c.channel_message_id).where(
    _ib.c.channel == bindparam("channel"), _ib.c.channel_message_id.in_(bindparam("ids", expanding=True))
)
_UPDATE_CONVERSATION = update(_c).where(_c.c.participant_id == bindparam("b_pid"), _c.c.revision == bindparam("b_rev"))
_SUPERSEDE_ANSWERS = (
    update(_a)
    .where(
        _a.c.participant_id == bindparam("b_pid"),
        _a.c.run_seq == bindparam("b_run"),
        _a.c.item_id == bindparam("b_item"),
        _a.c.superseded == false(),
    )
    .values(superseded=true())
)
_INSERT_OUTBOX = insert(_o).returning(_o.c.id, sort_by_parameter_order=True)
_SET_LANG = update(_p).where(_p.c.id == bindparam("b_id"))
_MARK_SENT = (
    update(_o)
    .where(_o.c.id == bindparam("b_id"), _o.c.sent_at.is_(None))
    .values(sent_at=bindparam("b_at"), attempts=_o.c.attempts + 1, **claims.LEASE_ENDED)
)
_FLOW_SOURCE = select(_fv.c.source).where(_fv.c.flow_id == bindparam("flow_id"), _fv.c.version == bindparam("version"))

_sch, _tk, _mk = s.schedule, s.coach_tasks, s.programme_marks
_KNOWN_PARTICIPANTS = select(_p.c.id).where(_p.c.id.in_(bindparam("pids", expanding=True)))
_SCHEDULE_STATES = select(_sch.c.id, _sch.c.participant_id, _sch.c.key, _sch.c.kind, _sch.c.status).where(
    _sch.c.id.in_(bindparam("ids", expanding=True))
)
_COMPLETE_SCHEDULE = (  # `s.outcome_changes`, guarded by `s.outcome_applies` (checked by the plan as well)
    update(_sch)
    .where(_sch.c.id == bindparam("b_id"), _sch.c.status == s.SCHEDULE_PENDING)
    .values(
        status=bindparam("b_status"),
        reason=bindparam("b_reason"),
        claimed_until=None,
        updated_at=bindparam("b_at"),
        due_at=func.coalesce(bindparam("b_due", type_=s.UTCDateTime), _sch.c.due_at),  # a deferral's new time
    )
)
_CANCEL_SCHEDULE = (  # `s.cancels` and `s.cancel_changes`, one kind per parameter set
    update(_sch)
    .where(
        _sch.c.participant_id == bindparam("b_pid"),
        _sch.c.kind == bindparam("b_kind"),
        _sch.c.status == s.SCHEDULE_PENDING,
    )
    .values(status=ScheduleStatus.CANCELLED.value, reason=s.REPLACED, updated_at=bindparam("b_at"))
)
_CANCEL_SCHEDULE_KEY = (  # the same, for a step's `cancel_schedule_keys` (a withdrawn timer), one key per parameter set
    update(_sch)
    .where(
        _sch.c.participant_id == bindparam("b_pid"),
        _sch.c.key == bindparam("b_key"),
        _sch.c.status == s.SCHEDULE_PENDING,
    )
    .values(status=ScheduleStatus.CANCELLED.value, reason=s.REPLACED, updated_at=bindparam("b_at"))
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
_SCHEDULE_ROW = tuple(_sch.c[name] for name in s.SCHEDULE_ROW_COLUMNS)  # what `s.schedule_from_row` reads
_CLAIM_SCHEDULE = (
    update(_sch).where(_sch.c.id.in_(_CLAIMABLE)).values(claimed_until=bindparam("lease")).returning(*_SCHEDULE_ROW)
)
_COMPLETE_TASK = (
    update(_tk)
    .where(_tk.c.id == bindparam("b_id"), _tk.c.done_at.is_(None))
    .values(done_at=bindparam("b_at"), done_by=bindparam("b_by"))
)


_PLANNED = ("participant_id", "key", "kind", "due_at", "data", "created_at")  # the upsert's parameters, in order


def _plan_schedule_statement(make_insert: Callable[[Any], Any]) -> Any:
    """`s.replan_changes` as an upsert: insert a new key; re-plan a pending or cancelled row; leave a sent or
    skipped one alone (the DO UPDATE's WHERE is false, so the row counts as unchanged). Constants are literals:
    an executemany can neither expand a list parameter nor afford parameters it does not need."""
    parameters: dict[str, Any] = {name: bindparam(name) for name in _PLANNED}
    statement = make_insert(_sch).values(**parameters, status=s.SCHEDULE_PENDING, reason=literal_column("''"))
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
        where=_sch.c.status.in_([literal_column(f"'{status}'") for status in sorted(s.REPLANNABLE)]),
    )


_PLAN_SCHEDULE = {  # by dialect name
    "sqlite": _plan_schedule_statement(sqlite.insert),
    "postgresql": _plan_schedule_statement(postgresql.insert),
}
_plan_sql: dict[tuple[str, str], tuple[str, bool]] = {}  # (dialect, paramstyle) -> (SQL, positional)


def _compiled_plan(dialect: Dialect) -> tuple[str, bool]:
    key = (dialect.name, dialect.paramstyle)
    if key not in _plan_sql:
        compiled = _PLAN_SCHEDULE[dialect.name].compile(dialect=dialect)
        if compiled.positional and tuple(compiled.positiontup or ()) != _PLANNED:
            raise RuntimeError("the schedule upsert's parameters are not in the expected order")
        _plan_sql[key] = (str(compiled), compiled.positional)
    return _plan_sql[key]


def _plan_schedule(conn: Connection, rows: Sequence[s.Row]) -> int:
    """Upsert planned rows in order (a later row with the same key wins); how many were inserted or re-planned.

    Materialising a cohort's programme is about a million and a half rows, so they go to the driver's executemany
    already encoded: SQLAlchemy's per-row parameter processing would cost about as much as SQLite's own work.
    Due times repeat (one send time a day), so each distinct one is turned into text once."""
    sql, positional = _compiled_plan(conn.dialect)
    texts: dict[datetime, str] = {}

    def utc(value: datetime) -> str:
        found = texts.get(value)
        if found is None:
            found = texts[value] = s.utc_text(value)
        return found

    values = [
        (row["participant_id"], row["key"], row["kind"], utc(row["due_at"]), row["data"], utc(row["created_at"]))
        for row in rows
    ]
    if not values:
        return 0
    params: list[Any] = values if positional else [dict(zip(_PLANNED, v, strict=True)) for v in values]
    return int(conn.exec_driver_sql(sql, params).rowcount)


# --- write handlers: each gets the payloads of one kind in queue order and returns one result each ---


def _write_participants(conn: Connection, payloads: list[Any]) -> list[Any]:
    refs = [ref for ref, _, _ in payloads]
    found = dict(zip(refs, _read_participants(conn, refs), strict=True))
    missing: dict[str, s.Row] = {}
    for ref, lang, now in payloads:
        if found[ref] is None and ref not in missing:
            missing[ref] = {"ref": ref, "lang": lang, "created_at": now}
    if missing:
        for row in conn.execute(_INSERT_PARTICIPANTS, list(missing.values())):
            found[row.ref] = _participant(row)
    return [found[ref] for ref in refs]


def _write_steps(conn: Connection, payloads: list[Any]) -> list[Any]:
    plan = _plan_steps(conn, cast(list[s.StepRows], payloads))
    _apply_plan(conn, plan)
    return plan.results()


def _write_sent(conn: Connection, payloads: list[Any]) -> list[Any]:
    conn.execute(_MARK_SENT, [{"b_id": outbox_id, "b_at": at} for outbox_id, at in payloads])
    return [None] * len(payloads)


def _write_audit(conn: Connection, payloads: list[Any]) -> list[Any]:
    conn.execute(insert(s.audit_log), payloads)
    return [None] * len(payloads)


def _write_escalation_ops(conn: Connection, payloads: list[Any]) -> list[Any]:
    claims.lock_escalation_owners(conn, [op.escalation_id for op in payloads if hasattr(op, "escalation_id")])
    return [cast(esc.EscalationOp, op).run(conn) for op in payloads]


def _write_contact_ops(conn: Connection, payloads: list[Any]) -> list[Any]:
    return [cast(ct.ContactOp, op).run(conn) for op in payloads]


def _write_programme_ops(conn: Connection, payloads: list[Any]) -> list[Any]:
    return [cast(_ProgrammeOp, op).run(conn) for op in payloads]


class _ProgrammeOp(ABC):
    """A schedule or coach-task write run in queue order in the writer's transaction; like `ct.ContactOp`, one
    that is refused returns its exception, having written nothing."""

    @abstractmethod
    def run(self, conn: Connection) -> Any: ...


@dataclass(frozen=True)
class _AddSchedule(_ProgrammeOp):
    rows: tuple[s.Row, ...]  # `s.schedule_row`s

    def run(self, conn: Connection) -> int | Exception:
        wanted = {row["participant_id"] for row in self.rows}
        if not wanted:
            return 0
        missing = wanted - set(conn.scalars(_KNOWN_PARTICIPANTS, {"pids": list(wanted)}))
        if missing:
            return s.unknown_participant(min(missing))
        return _plan_schedule(conn, self.rows)


@dataclass(frozen=True)
class _ClaimSchedule(_ProgrammeOp):
    now: datetime
    limit: int
    lease_until: datetime

    def run(self, conn: Connection) -> list[ScheduleRow]:
        if self.limit <= 0:
            return []
        if claims.locking(conn):  # PostgreSQL: several processes claim at once (storage/claims.py)
            return claims.claim_schedule(conn, self.now, self.limit, self.lease_until)
        params = {"now": self.now, "limit": self.limit, "lease": self.lease_until}
        rows = [s.schedule_from_row(row) for row in conn.execute(_CLAIM_SCHEDULE, params).mappings()]
        return sorted(rows, key=lambda row: (row.due_at, row.id))  # RETURNING has no order of its own


@dataclass(frozen=True)
class _CompleteTask(_ProgrammeOp):
    task_id: int
    coach_id: str
    at: datetime

    def run(self, conn: Connection) -> bool:
        params = {"b_id": self.task_id, "b_at": self.at, "b_by": self.coach_id}
        return bool(conn.execute(_COMPLETE_TASK, params).rowcount == 1)


@dataclass(frozen=True)
class _AddMark(_ProgrammeOp):
    row: s.Row

    def run(self, conn: Connection) -> None:
        conn.execute(insert(_mk), self.row)


def _write_flows(conn: Connection, payloads: list[Any]) -> list[Any]:
    results: list[Any] = []
    for flow_id, version, source, at in payloads:
        previous = conn.scalar(_FLOW_SOURCE, {"flow_id": flow_id, "version": version})
        if previous is None:
            sha = hashlib.sha256(source.encode()).hexdigest()
            row = {"flow_id": flow_id, "version": version, "source": source, "sha256": sha}
            conn.execute(insert(_fv), {**row, "first_seen_at": at})
        results.append(previous)
    return results


@dataclass
class _StepPlan:
    """What a batch of steps will write, decided under the write lock before any row is written."""

    outcomes: list[CommitResult | Exception] = field(default_factory=list)
    outbox_owner: list[int] = field(default_factory=list)  # index of the step owning each outbox row
    inbox: list[s.Row] = field(default_factory=list)
    conv_inserts: list[s.Row] = field(default_factory=list)
    conv_updates: list[s.Row] = field(default_factory=list)
    answers: list[s.Row] = field(default_factory=list)
    answer_keys: list[s.Row] = field(default_factory=list)
    scores: list[s.Row] = field(default_factory=list)
    outbox: list[s.Row] = field(default_factory=list)
    audit: list[s.Row] = field(default_factory=list)
    langs: list[s.Row] = field(default_factory=list)
    signals: list[tuple[int, int, tuple[s.Row, ...]]] = field(default_factory=list)  # (step index, pid, signals)
    outbox_ids: list[int] = field(default_factory=list)
    escalation_ids: dict[int, tuple[int, ...]] = field(default_factory=dict)  # by step index
    schedule_rounds: list[_ScheduleRound] = field(default_factory=list)
    schedule_turns: dict[int, int] = field(default_factory=dict)  # participant id -> rounds used
    tasks: list[s.Row] = field(default_factory=list)
    marks: list[s.Row] = field(default_factory=list)
    contacts: list[ct.ContactOp] = field(default_factory=list)  # address and consent changes of committed steps

    def results(self) -> list[Any]:
        ids: dict[int, list[int]] = {}
        for owner, outbox_id in zip(self.outbox_owner, self.outbox_ids, strict=True):
            ids.setdefault(owner, []).append(outbox_id)
        return [
            CommitResult(r.status, r.revision, tuple(ids.get(i, ())), self.escalation_ids.get(i, ()))
            if isinstance(r, CommitResult) and r.status is CommitStatus.COMMITTED
            else r
            for i, r in enumerate(self.outcomes)
        ]


@dataclass
class _ScheduleRound:
    """The schedule changes of at most one step per participant, written as outcomes, then cancellations, then
    plans (each an executemany). A participant's next step in the batch goes to the next round, so every step's
    changes are written after those of the steps before it, as if the steps had been committed one by one."""

    outcomes: list[s.Row] = field(default_factory=list)
    cancels: list[s.Row] = field(default_factory=list)
    key_cancels: list[s.Row] = field(default_factory=list)
    plans: list[s.Row] = field(default_factory=list)


def _plan_steps(conn: Connection, batch: list[s.StepRows]) -> _StepPlan:
    """Check each step in queue order against the database plus the steps before it in this batch."""
    claims.lock_participants(conn, {r.step.participant_id for r in batch})  # PostgreSQL: what BEGIN IMMEDIATE does
    known: set[int] = set()
    revisions: dict[int, int] = {}
    for pid, revision in conn.execute(_REVISIONS, {"pids": list({r.step.participant_id for r in batch})}):
        known.add(pid)
        if revision is not None:
            revisions[pid] = revision
    has_row = set(revisions)
    seen = _seen_inbound(conn, batch)
    handled = _schedule_states(conn, batch)  # the rows the outcomes name, kept as the batch's steps change them
    handled_of: dict[int, list[s.Row]] = {}  # the same rows by participant (not a scan of all per step)
    for row in handled.values():
        handled_of.setdefault(row["participant_id"], []).append(row)
    plan = _StepPlan()
    latest_answer: dict[tuple[int, int, str], s.Row] = {}
    for index, rows in enumerate(batch):
        step = rows.step
        pid = step.participant_id
        if pid not in known:
            plan.outcomes.append(s.unknown_participant(pid))
            continue
        current = revisions.get(pid, 0)
        key = None if step.inbound is None else (step.inbound.channel, step.inbound.channel_message_id)
        if key is not None and key in seen:
            plan.outcomes.append(CommitResult(CommitStatus.DUPLICATE, current))
            continue
        if rows.outcome is not None and not s.outcome_applies(handled.get(rows.outcome["id"]), pid):
            plan.outcomes.append(CommitResult(CommitStatus.DUPLICATE, current))  # handled already: write nothing
            continue
        if step.expected_revision != current:
            plan.outcomes.append(CommitResult(CommitStatus.CONFLICT, current))
            continue
        revisions[pid] = current + 1
        plan.outcomes.append(CommitResult(CommitStatus.COMMITTED, current + 1))
        plan.contacts.extend(rows.contacts)
        if key is not None and rows.inbox is not None:
            seen.add(key)
            plan.inbox.append(rows.inbox)
        conv = {"state": rows.state, "revision": current + 1, "updated_at": step.at}
        if pid in has_row:
            plan.conv_updates.append({"b_pid": pid, "b_rev": current, **conv})
        else:
            has_row.add(pid)
            plan.conv_inserts.append({"participant_id": pid, **conv})
        for answer in rows.answers:
            row = dict(answer)
            akey = (pid, row["run_seq"], row["item_id"])
            if akey in latest_answer:
                latest_answer[akey]["superseded"] = True
            else:
                plan.answer_keys.append({"b_pid": pid, "b_run": row["run_seq"], "b_item": row["item_id"]})
            latest_answer[akey] = row
            plan.answers.append(row)
        for retracted in step.retracted:
            akey = (pid, retracted.run_seq, retracted.item_id)
            if akey in latest_answer:
                latest_answer[akey]["superseded"] = True
            else:
                plan.answer_keys.append({"b_pid": pid, "b_run": retracted.run_seq, "b_item": retracted.item_id})
        plan.scores.extend(rows.scores)
        plan.outbox.extend(rows.outbox)
        plan.outbox_owner.extend([index] * len(rows.outbox))
        plan.audit.extend(rows.audit)
        if step.lang is not None:
            plan.langs.append({"b_id": pid, "lang": step.lang})
        if rows.escalations:
            plan.signals.append((index, pid, rows.escalations))
        if rows.changes_schedule:
            _plan_schedule_changes(plan, rows, handled_of.get(pid, []))
        plan.tasks.extend(rows.tasks)
        plan.marks.extend(rows.marks)
    return plan


def _schedule_states(conn: Connection, batch: list[s.StepRows]) -> dict[int, s.Row]:
    """The rows the batch's schedule outcomes name, by id, for their preconditions (`s.outcome_applies`)."""
    ids = {rows.outcome["id"] for rows in batch if rows.outcome is not None}
    if not ids:
        return {}
    return {row["id"]: dict(row) for row in conn.execute(_SCHEDULE_STATES, {"ids": list(ids)}).mappings()}


def _plan_schedule_changes(plan: _StepPlan, rows: s.StepRows, handled: list[s.Row]) -> None:
    """Put a committed step's schedule changes in its round, and apply them to the participant's rows that later
    steps' outcomes name, so those see what this step left."""
    step = rows.step
    turn = plan.schedule_turns.get(step.participant_id, 0)
    plan.schedule_turns[step.participant_id] = turn + 1
    if turn == len(plan.schedule_rounds):
        plan.schedule_rounds.append(_ScheduleRound())
    writes = plan.schedule_rounds[turn]
    outcome = rows.outcome
    if outcome is not None:
        writes.outcomes.append(
            {"b_id": outcome["id"], "b_status": outcome["status"], "b_reason": outcome["reason"],
             "b_due": outcome["due_at"], "b_at": outcome["updated_at"]}
        )
    writes.cancels.extend({"b_pid": step.participant_id, "b_kind": kind, "b_at": step.at} for kind in rows.cancel_kinds)
    writes.key_cancels.extend({"b_pid": step.participant_id, "b_key": key, "b_at": step.at} for key in rows.cancel_keys)
    writes.plans.extend(rows.schedule)
    for row in handled:
        if outcome is not None and row["id"] == outcome["id"]:
            row.update(s.outcome_changes(outcome))
        if s.cancels(row, rows.cancel_kinds, rows.cancel_keys):
            row.update(s.cancel_changes(step.at))
        for planned in rows.schedule:
            if planned["key"] == row["key"]:
                row.update(s.replan_changes(row, planned))


def _seen_inbound(conn: Connection, batch: list[s.StepRows]) -> set[tuple[str, str]]:
    by_channel: dict[str, set[str]] = {}
    for rows in batch:
        if rows.step.inbound is not None:
            by_channel.setdefault(rows.step.inbound.channel, set()).add(rows.step.inbound.channel_message_id)
    seen: set[tuple[str, str]] = set()
    for channel, ids in by_channel.items():
        found = conn.scalars(_SEEN_INBOUND, {"channel": channel, "ids": list(ids)})
        seen.update((channel, mid) for mid in found)
    return seen


def _apply_plan(conn: Connection, plan: _StepPlan) -> None:
    """Write a planned batch with one executemany per table, so the cost per step stays small."""
    if plan.inbox:
        conn.execute(insert(_ib), plan.inbox)
    if plan.conv_inserts:
        conn.execute(insert(_c), plan.conv_inserts)
    if plan.conv_updates and conn.execute(_UPDATE_CONVERSATION, plan.conv_updates).rowcount != len(plan.conv_updates):
        raise RuntimeError("conversation revision changed during a locked write")  # never write blind
    if plan.answer_keys:
        conn.execute(_SUPERSEDE_ANSWERS, plan.answer_keys)
    if plan.answers:
        conn.execute(insert(_a), plan.answers)
    if plan.scores:
        conn.execute(insert(s.scores), plan.scores)
    if plan.outbox:
        plan.outbox_ids = list(conn.scalars(_INSERT_OUTBOX, plan.outbox))
    if plan.audit:
        conn.execute(insert(s.audit_log), plan.audit)
    if plan.langs:
        conn.execute(_SET_LANG, plan.langs)
    for writes in plan.schedule_rounds:
        _apply_schedule_round(conn, writes)
    if plan.tasks:
        conn.execute(insert(_tk), plan.tasks)
    if plan.marks:
        conn.execute(insert(_mk), plan.marks)
    if plan.signals:  # rare, and needs the ids of escalations it opens: after everything else
        ids = esc.write_signals(conn, [(pid, signals) for _, pid, signals in plan.signals])
        plan.escalation_ids = {index: found for (index, _, _), found in zip(plan.signals, ids, strict=True)}
    for op in plan.contacts:  # a refused change (the address is someone else's now) writes nothing; the step stands
        refused = op.run(conn)
        if refused is not None:
            log.warning("a step's contact change was refused: %s", refused)


def _step_contacts(step: StepRecord, keys: Keys) -> tuple[ct.ContactOp, ...]:
    """A step's address and consent changes as the contact operations `set_address`/`record_consent` run."""
    ops: list[ct.ContactOp] = []
    if step.address is not None:
        channel, address, status = ct.check_address(step.address.channel, step.address.address, step.address.status)
        ops.append(ct.SetAddress(step.participant_id, channel, ct.seal_address(keys, channel, address), status,
                                 s.require_utc(step.at)))
    if step.consent is not None:
        version, via = ct.check_version(step.consent.version), ct.check_consent_channel(step.consent.channel)
        ops.append(ct.RecordConsent(step.participant_id, version, via, s.require_utc(step.at), keys.seal("")))
    return tuple(ops)


def _apply_schedule_round(conn: Connection, writes: _ScheduleRound) -> None:
    if writes.outcomes and conn.execute(_COMPLETE_SCHEDULE, writes.outcomes).rowcount != len(writes.outcomes):
        raise RuntimeError("a schedule row changed during a locked write")  # never write blind
    if writes.cancels:
        conn.execute(_CANCEL_SCHEDULE, writes.cancels)
    if writes.key_cancels:
        conn.execute(_CANCEL_SCHEDULE_KEY, writes.key_cancels)
    if writes.plans:
        _plan_schedule(conn, writes.plans)


# --- read handlers: batched lookups for the reads every step makes ---


def _read_participants(conn: Connection, refs: list[Any]) -> list[Any]:
    found = {row.ref: _participant(row) for row in conn.execute(_PARTICIPANTS_BY_REF, {"refs": list(set(refs))})}
    return [found.get(ref) for ref in refs]


def _read_conversations(conn: Connection, pids: list[Any]) -> list[Any]:
    """(sealed state or None, revision) per id: `load_conversation` opens it, off the reader's batch."""
    saved = {row.participant_id: row for row in conn.execute(_CONVERSATIONS, {"pids": list(set(pids))})}
    results: list[Any] = []
    for pid in pids:
        row = saved.get(pid)
        results.append((None, 0) if row is None else (row.state, row.revision))
    return results


def _read_pragmas(conn: Connection, payloads: list[Any]) -> list[Any]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    found = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
    return [found] * len(payloads)


def _participant(row: Any) -> Participant:
    return Participant(id=row.id, ref=row.ref, lang=row.lang, created_at=row.created_at)


_WRITERS: dict[_Kind, _Handler] = {
    _Kind.PARTICIPANT: _write_participants,
    _Kind.STEP: _write_steps,
    _Kind.SENT: _write_sent,
    _Kind.AUDIT: _write_audit,
    _Kind.FLOW: _write_flows,
    _Kind.ESCALATION: _write_escalation_ops,
    _Kind.CONTACT: _write_contact_ops,
    _Kind.PROGRAMME: _write_programme_ops,
    _Kind.PRAGMAS: _read_pragmas,
}
_READERS: dict[_Kind, _Handler] = {
    _Kind.READ_PARTICIPANT: _read_participants,
    _Kind.READ_CONVERSATION: _read_conversations,
    _Kind.READ_BY_ADDRESS: ct.participants_by_address,  # every inbound message
    _Kind.READ_ADDRESSES: ct.addresses_of,  # every outbound message
    _Kind.READ_BY_PROVIDER_ID: ct.outbox_by_provider_ids,  # every status callback
    _Kind.READ_OUTBOX_CLAIM: claims.rows_to_claim,  # every look of a dispatcher (SQLite)
    _Kind.PRAGMAS: _read_pragmas,
}


class SqliteStorage:
    """The default `Storage`: a SQLite file (or a SQLAlchemy async URL) behind a group-commit writer.

    `target` is a file path (its directory is created) or a URL such as ``sqlite+aiosqlite:///bot.db``.
    `runner` picks how batches run (see the module docstring); only ``"async"`` works for non-SQLite URLs.
    `keys` seal contact details and names (default: `load_keys`, from `key_environ` or the process environment, or
    the development key file).
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        max_batch: int = 256,
        runner: Literal["hybrid", "async"] | None = None,
        echo: bool = False,
        keys: Keys | None = None,
        key_environ: Mapping[str, str] | None = None,
    ) -> None:
        url = _engine_url(target)
        is_sqlite = url.get_backend_name() == "sqlite"
        runner = runner or ("hybrid" if is_sqlite else "async")
        if runner == "hybrid" and not is_sqlite:
            raise ValueError("runner='hybrid' is only for SQLite")
        self._path = Path(url.database) if is_sqlite and url.database else None
        if self._path is not None:
            private_database(self._path)  # 0600 before SQLite makes it -rw-r--r-- (storage/files.py)
        # Contact details and names are sealed with these (storage/crypto.py); by default from the environment,
        # or on a development machine from the key file beside the database.
        self._keys = keys or load_keys(self._path, key_environ)
        self._closed = False
        # hide_parameters: SQL errors and echo must never carry answers or messages (health data) into logs.
        self._engine = create_async_engine(url, echo=echo, hide_parameters=True)
        if is_sqlite:
            _install_sqlite_hooks(self._engine.sync_engine)
        self._write_engine = self._engine.execution_options(**_WRITES)
        write_runner: _Runner
        read_runner: _Runner
        if runner == "hybrid":
            write_runner = _HybridRunner(url, "storage-writer", _WRITES, offload=True)
            read_runner = _HybridRunner(url, "storage-reader", _LOOKUPS, offload=False)
        else:
            root = self._engine.sync_engine
            write_runner = _AsyncRunner(self._write_engine, root)
            read_runner = _AsyncRunner(self._engine.execution_options(**_LOOKUPS), root)
        self._writer = _Batcher("storage-writer", write_runner, _WRITERS, max_batch)
        self._reader = _Batcher("storage-reader", read_runner, _READERS, max_batch)
        self._leases = claims.LocalLeases() if is_sqlite else None  # outbox leases: one process per SQLite file

    @property
    def keys(self) -> Keys:
        """The keys contact details are sealed with (for tools: the research export's pseudonyms)."""
        return self._keys

    @property
    def engine(self) -> AsyncEngine:
        """For tests and tools that need raw access; application code uses the methods."""
        return self._engine

    @property
    def sync_engines(self) -> tuple[Engine, ...]:
        """Every engine SQL runs on (async engine, writer, reader), for event listeners in tests and tools."""
        return tuple(dict.fromkeys((self._engine.sync_engine, self._writer.engine, self._reader.engine)))

    async def connection_pragmas(self) -> dict[str, dict[str, Any]]:
        """The durability pragmas as the writer, the reader and the async engine's connections see them."""
        async with self._connect() as conn:
            engine = (await conn.run_sync(lambda sync: _read_pragmas(sync, [None])))[0]
        return {
            "writer": await self._writer.submit(_Kind.PRAGMAS, None),
            "reader": await self._reader.submit(_Kind.PRAGMAS, None),
            "engine": engine,
        }

    def _connect(self) -> AsyncConnection:
        if self._closed:
            raise RuntimeError("storage is closed")
        return self._engine.connect()

    async def migrate(self) -> None:
        """Bring the schema up to date; after the migration that encrypts contact details, scrub the file of their
        plaintext. Then check that the keys open what is stored (wrong keys fail here, not on a message)."""
        if self._closed:
            raise RuntimeError("storage is closed")
        keys = self._keys
        async with self._write_engine.begin() as conn:
            done = await conn.run_sync(lambda sync: apply_migrations(sync, keys=keys))
        if ENCRYPTED_CONTACTS in done or ENCRYPTED_BODIES in done:
            await self.scrub()
        async with self._connect() as conn:
            await conn.run_sync(ct.check_keys, keys)

    async def scrub(self) -> None:
        """Rewrite the file so that deleted rows leave no bytes behind: ``VACUUM`` (every page written anew from
        the live rows), then a ``TRUNCATE`` checkpoint (the WAL, which still holds old page images, emptied).

        Part of a real erase. It holds the write lock while it runs (writers wait, up to busy_timeout); on a
        database that is not a SQLite file it does nothing (PostgreSQL: see docs/data-protection.md)."""
        if self._closed:
            raise RuntimeError("storage is closed")
        if self._path is not None:
            await asyncio.to_thread(_scrub_file, self._path)

    async def close(self) -> None:
        self._closed = True
        await self._writer.stop()
        await self._reader.stop()
        await self._engine.dispose()

    async def get_or_create_participant(self, ref: str, lang: str, now: datetime) -> Participant:
        found = await self._reader.submit(_Kind.READ_PARTICIPANT, ref)
        if found is not None:
            return cast(Participant, found)
        try:
            created = await self._writer.submit(_Kind.PARTICIPANT, (ref, lang, s.require_utc(now)))
        except IntegrityError:  # another process created it first (only possible without BEGIN IMMEDIATE)
            created = await self._reader.submit(_Kind.READ_PARTICIPANT, ref)
            if created is None:
                raise
        return cast(Participant, created)

    async def participant(self, participant_id: int) -> Participant | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(_p).where(_p.c.id == participant_id))).first()
        return None if row is None else _participant(row)

    async def load_conversation(self, participant_id: int) -> Conversation:
        sealed, revision = await self._reader.submit(_Kind.READ_CONVERSATION, participant_id)
        state = None if sealed is None else s.load_json(self._keys.open(sealed))
        return Conversation(participant_id=participant_id, state=state, revision=revision)

    async def commit_step(self, step: StepRecord) -> CommitResult:
        """Queue the step for the next group commit; return once the COMMIT containing it has returned.

        A caller cancelled while its step waits in the queue has nothing written; once its batch has started
        the step may commit anyway, so after a cancellation reload the conversation to learn the outcome.
        """
        rows = s.step_rows(step, self._keys.seal)  # bad data fails here, for this caller only, before any transaction
        contacts = _step_contacts(step, self._keys)
        if contacts:
            rows = replace(rows, contacts=contacts)
        return cast(CommitResult, await self._writer.submit(_Kind.STEP, rows))

    async def pending_outbox(self, channel: str, limit: int = 100, *, now: datetime | None = None,
                             only_urgent_for: Collection[int] = ()) -> list[OutboxRow]:
        """Rows to send on `channel`, most urgent first, then oldest first: not sent, not given up, not deferred
        past `now` (without `now`, not deferred at all), and not behind such a deferred row of the same participant
        on the same channel, so a conversation's messages keep their order (see storage/contacts.py); only URGENT
        rows of the participants in `only_urgent_for`."""
        at = None if now is None else s.require_utc(now)
        async with self._connect() as conn:
            return await conn.run_sync(ct.pending_outbox, channel, max(limit, 0), at, frozenset(only_urgent_for))

    async def mark_sent(self, outbox_id: int, at: datetime) -> None:
        await self._writer.submit(_Kind.SENT, (outbox_id, s.require_utc(at)))

    async def claimable_outbox(self, channel: str, claimer: str, limit: int, now: datetime,
                               only_urgent_for: Collection[int] = ()) -> list[OutboxRow]:
        """See `Storage.claimable_outbox` and storage/claims.py."""
        at = s.require_utc(now)
        if self._leases is not None:
            rows = await self.pending_outbox(channel, limit, now=at, only_urgent_for=only_urgent_for)
            return self._leases.visible(rows, claimer, at)
        async with self._connect() as conn:
            return await conn.run_sync(claims.claimable_outbox, channel, claimer, limit, at, frozenset(only_urgent_for))

    async def claim_outbox(self, channel: str, claimer: str, outbox_ids: Sequence[int], now: datetime,
                           lease_until: datetime) -> list[int]:
        """See `Storage.claim_outbox` and storage/claims.py."""
        if self._leases is not None:
            found = await self._reader.submit(_Kind.READ_OUTBOX_CLAIM, (channel, list(outbox_ids)))
            return self._leases.claim(found, claimer, outbox_ids, s.require_utc(now), s.require_utc(lease_until))
        op = claims.ClaimOutbox(channel, claimer, tuple(outbox_ids), s.require_utc(now), s.require_utc(lease_until))
        return cast(list[int], await self._writer.submit(_Kind.CONTACT, op))

    async def remember_flow_version(self, flow_id: str, version: int, source: str, at: datetime) -> str | None:
        previous = await self._writer.submit(_Kind.FLOW, (flow_id, version, source, s.require_utc(at)))
        return cast(str | None, previous)

    async def flow_version_source(self, flow_id: str, version: int) -> str | None:
        fv = s.flow_versions
        query = select(fv.c.source).where(fv.c.flow_id == flow_id, fv.c.version == version)
        async with self._connect() as conn:
            return cast(str | None, await conn.scalar(query))

    async def export_answers(self) -> list[dict[str, Any]]:
        a, p = s.answers, s.participants
        query = (
            select(a, p.c.ref)
            .join_from(a, p, a.c.participant_id == p.c.id)
            .where(a.c.superseded == false())
            .order_by(p.c.ref, a.c.run_seq, a.c.answered_at, a.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.answer_export(r, r["ref"], self._keys.open) for r in rows]

    async def export_scores(self) -> list[dict[str, Any]]:
        sc, p = s.scores, s.participants
        query = (
            select(sc, p.c.ref)
            .join_from(sc, p, sc.c.participant_id == p.c.id)
            .order_by(p.c.ref, sc.c.run_seq, sc.c.completed_at, sc.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.score_export(r, r["ref"]) for r in rows]

    async def record_audit(self, entry: AuditRecord) -> None:
        await self._writer.submit(_Kind.AUDIT, s.audit_row(entry))

    async def audit_entries(self, limit: int = 1000) -> list[AuditRecord]:
        """The newest `limit` entries, newest first."""
        al = s.audit_log
        query = select(al).order_by(al.c.at.desc(), al.c.id.desc()).limit(limit)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.audit_from_row(r) for r in rows]

    # -- escalations: writes go through the writer (durable, serialized with steps); see storage/escalations.py

    async def escalations(self, only_open: bool = False) -> list[Escalation]:
        """All escalations, newest first; `only_open`: those not closed."""
        async with self._connect() as conn:
            return await conn.run_sync(esc.all_escalations, only_open, self._keys.open)

    async def escalation(self, escalation_id: int) -> Escalation | None:
        async with self._connect() as conn:
            return await conn.run_sync(esc.one_escalation, escalation_id, self._keys.open)

    async def due_escalations(self, now: datetime) -> list[Escalation]:
        """Open (unacknowledged) escalations whose deadline is at or before `now`, oldest deadline first."""
        now = s.require_utc(now)
        async with self._connect() as conn:
            return await conn.run_sync(esc.due_escalations, now, self._keys.open)

    async def raise_tier(self, escalation_id: int, tier: int, deadline_at: datetime, at: datetime) -> bool:
        op = esc.RaiseTier(escalation_id, s.require_tier(tier), s.require_utc(deadline_at), s.require_utc(at))
        return cast(bool, await self._writer.submit(_Kind.ESCALATION, op))

    async def acknowledge_escalation(self, escalation_id: int, coach_id: str, at: datetime) -> bool:
        op = esc.Acknowledge(escalation_id, s.require_actor(coach_id), s.require_utc(at))
        return cast(bool, await self._writer.submit(_Kind.ESCALATION, op))

    async def close_escalation(self, escalation_id: int, coach_id: str, note: str, at: datetime) -> bool:
        op = esc.Close(escalation_id, s.require_actor(coach_id), s.outcome_note(note), s.require_utc(at))
        return cast(bool, await self._writer.submit(_Kind.ESCALATION, op))

    async def add_notification(
        self, escalation_id: int, coach_id: str, channel: str, tier: int, at: datetime
    ) -> Notification:
        op = esc.AddNotification(
            escalation_id, s.require_actor(coach_id), channel, s.require_tier(tier), s.require_utc(at)
        )
        return cast(Notification, await self._writer.submit(_Kind.ESCALATION, op))

    async def update_notification(
        self, notification_id: int, status: NotificationStatus, at: datetime, detail: str = ""
    ) -> None:
        op = esc.UpdateNotification(notification_id, NotificationStatus(status), s.require_utc(at), detail)
        await self._writer.submit(_Kind.ESCALATION, op)

    async def notifications(
        self, escalation_id: int | None = None, status: NotificationStatus | None = None
    ) -> list[Notification]:
        async with self._connect() as conn:
            return await conn.run_sync(esc.notifications, escalation_id, status)

    async def recent_answers(self, participant_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The participant's latest non-superseded answers (export_answers' columns), newest first."""
        async with self._connect() as conn:
            return await conn.run_sync(esc.recent_answers, participant_id, max(limit, 0), self._keys.open)

    async def recent_scores(self, participant_id: int, limit: int = 10) -> list[dict[str, Any]]:
        """The participant's latest scores (export_scores' columns), newest first."""
        async with self._connect() as conn:
            return await conn.run_sync(esc.recent_scores, participant_id, max(limit, 0))

    # -- enrolment, channel addresses and delivery: writes go through the writer; see storage/contacts.py

    async def enroll(self, enrollment: Enrollment, now: datetime) -> Participant:
        """Create the participant, their profile and (given a phone) their active SMS address, in one transaction.

        Raises ValueError, naming the field but never echoing it, when the ref or the phone number is taken."""
        new = ct.new_participant(enrollment, now, self._keys)
        return cast(Participant, await self._writer.submit(_Kind.CONTACT, ct.Enroll(new)))

    async def profile(self, participant_id: int) -> Profile | None:
        async with self._connect() as conn:
            return await conn.run_sync(ct.profile, participant_id, self._keys)

    async def participant_by_address(self, channel: str, address: str) -> Participant | None:
        """Whoever the address belongs to, whatever its status (see `addresses` for that); found by its keyed hash."""
        found = await self.identify(channel, address)
        return None if found is None else found.participant

    async def first_sighting(self, channel: str, message_id: str, at: datetime) -> bool:
        op = ct.FirstSighting(ct.check_status(channel), s.check_message_id(message_id), s.require_utc(at))
        return cast(bool, await self._writer.submit(_Kind.CONTACT, op))

    async def forget_sighting(self, channel: str, message_id: str) -> None:
        await self._writer.submit(_Kind.CONTACT, ct.ForgetSighting(channel, message_id))

    async def identify(self, channel: str, address: str) -> Identity | None:
        wanted = (channel, self._keys.digest(channel, address))
        return cast(Identity | None, await self._reader.submit(_Kind.READ_BY_ADDRESS, wanted))

    async def addresses(self, participant_id: int) -> list[ChannelAddress]:
        """The participant's addresses, by channel (decrypted)."""
        rows = cast(list[s.Row], await self._reader.submit(_Kind.READ_ADDRESSES, participant_id))
        return [ct.address_from_row(row, self._keys) for row in rows]

    async def set_address(
        self, participant_id: int, channel: str, address: str, status: AddressStatus, at: datetime
    ) -> None:
        """Add or replace the participant's address on `channel`; audited ("address.changed") when it changes.

        Raises ValueError when the address belongs to another participant, UnknownParticipantError for an
        unknown id."""
        channel, address, status = ct.check_address(channel, address, status)
        sealed = ct.seal_address(self._keys, channel, address)
        op = ct.SetAddress(participant_id, channel, sealed, status, s.require_utc(at))
        await self._writer.submit(_Kind.CONTACT, op)

    async def add_link_code(self, participant_id: int, code_digest: str, expires_at: datetime, at: datetime) -> None:
        op = ct.AddLinkCode(participant_id, ct.check_digest(code_digest), s.require_utc(expires_at), s.require_utc(at))
        await self._writer.submit(_Kind.CONTACT, op)

    async def redeem_link_code(self, code_digest: str, channel: str, address: str, at: datetime) -> Participant | None:
        """Use the code once (of racing calls exactly one succeeds). None, changing nothing, for a code that is
        unknown, used or expired (``expires_at <= at``), or an address that belongs to another participant."""
        channel, address, _ = ct.check_address(channel, address, AddressStatus.ACTIVE)
        op = ct.RedeemLinkCode(code_digest, channel, ct.seal_address(self._keys, channel, address), s.require_utc(at))
        return cast(Participant | None, await self._writer.submit(_Kind.CONTACT, op))

    async def record_consent(self, participant_id: int, version: str, at: datetime, channel: str | None = None) -> None:
        """Set the profile's consent version, time and channel (a participant never enrolled gets a profile
        without a name); audited with the version and channel."""
        op = ct.RecordConsent(participant_id, ct.check_version(version), ct.check_consent_channel(channel),
                              s.require_utc(at), self._keys.seal(""))
        await self._writer.submit(_Kind.CONTACT, op)

    # -- data protection: one person's data, erasure, retention; see storage/person.py

    async def person_data(self, participant_id: int) -> dict[str, list[dict[str, Any]]] | None:
        """Every row about the participant by table, decrypted and JSON-ready (one read transaction)."""
        async with self._connect() as conn:
            await conn.execute(select(1))  # BEGIN: one snapshot for every table
            found = await conn.run_sync(person.person_rows, participant_id)
        return None if found is None else person.present(found, self._keys)

    async def erase_participants(self, participant_ids: Sequence[int], actor: str, reason: str, at: datetime,
                                 keep_scores: bool = False) -> list[dict[str, int] | None]:
        """Erase each in a transaction of its own (a long list never holds the writer for long: steps go in
        between), audited without a name or ref; then scrub the file once (see `scrub`). Per distinct participant:
        the rows removed by table, or None for an unknown id."""
        actor, reason = person.check_erase(actor, reason)
        at = s.require_utc(at)
        counts: list[dict[str, int] | None] = []
        for erasure in person.erasures(participant_ids, keep_scores):
            op = person.ErasePeople((erasure,), actor, reason, at)
            counts += cast(list[dict[str, int] | None], await self._writer.submit(_Kind.CONTACT, op))
        if any(c is not None for c in counts):
            await self.scrub()
        return counts

    async def start_dates(self) -> list[tuple[Participant, date | None]]:
        """Every participant (not the anonymous holders of kept scores) with their start date, None if never
        enrolled."""
        async with self._connect() as conn:
            return await conn.run_sync(person.start_dates)

    async def mark_delivery(
        self, outbox_id: int, provider_id: str | None, status: str, at: datetime, detail: str = ""
    ) -> None:
        """Record a provider's report; see `ct.delivery_changes` for what each status changes.

        `provider_id` must identify one message at the provider (Twilio's MessageSid does; a Telegram
        message_id is unique only within its chat): ValueError if another row has it. UnknownOutboxError for
        an unknown id."""
        op = ct.MarkDelivery(outbox_id, provider_id, ct.check_status(status), s.require_utc(at), detail)
        await self._writer.submit(_Kind.CONTACT, op)

    async def outbox_by_provider_id(self, provider_id: str) -> OutboxRow | None:
        return cast(OutboxRow | None, await self._reader.submit(_Kind.READ_BY_PROVIDER_ID, provider_id))

    async def defer_outbox(self, outbox_id: int, not_before: datetime, at: datetime, detail: str = "") -> None:
        """Count the attempt and keep the row unsent until `not_before` (pass `now` to `pending_outbox`); a row
        reported undelivered or failed goes back to the queue. See `ct.defer_changes`."""
        op = ct.DeferOutbox(outbox_id, s.require_utc(not_before), s.require_utc(at), detail)
        await self._writer.submit(_Kind.CONTACT, op)

    async def give_up_outbox(self, outbox_id: int, at: datetime, detail: str) -> None:
        """Never send the row; audited ("outbox.given_up", without `detail`). A second call changes nothing."""
        op = ct.GiveUpOutbox(outbox_id, s.require_utc(at), detail)
        await self._writer.submit(_Kind.CONTACT, op)

    async def undelivered_urgent(self, created_before: datetime, limit: int = 100) -> list[UndeliveredRow]:
        """See storage/undelivered.py."""
        before = s.require_utc(created_before)
        async with self._connect() as conn:
            return await conn.run_sync(und.undelivered_urgent, before, max(limit, 0))

    async def mark_undelivered_told(self, outbox_id: int, at: datetime) -> None:
        op = und.MarkUndeliveredTold(outbox_id, s.require_utc(at))
        await self._writer.submit(_Kind.CONTACT, op)

    async def given_up_messages(self, participant_id: int, limit: int = 20) -> list[UndeliveredRow]:
        async with self._connect() as conn:
            return await conn.run_sync(und.given_up_messages, participant_id, max(limit, 0))

    # -- the programme: schedule, coach tasks, milestones; writes go through the writer

    async def add_schedule(self, entries: Sequence[tuple[int, ScheduledRecord]], at: datetime) -> int:
        """Plan (participant id, event) pairs in one transaction, in order (a later entry with the same key wins):
        a new key is inserted, a pending or cancelled row re-planned, a sent or skipped one left alone. Returns how
        many rows were inserted or re-planned; UnknownParticipantError, writing nothing, for an unknown id."""
        rows = tuple(s.schedule_rows(entries, at))
        return cast(int, await self._writer.submit(_Kind.PROGRAMME, _AddSchedule(rows)))

    async def claim_schedule(self, now: datetime, limit: int, lease_until: datetime) -> list[ScheduleRow]:
        """Hold up to `limit` due, pending rows nobody holds until `lease_until`, earliest due first (then id)."""
        op = _ClaimSchedule(s.require_utc(now), limit, s.require_utc(lease_until))
        return cast(list[ScheduleRow], await self._writer.submit(_Kind.PROGRAMME, op))

    async def schedule_of(self, participant_id: int) -> list[ScheduleRow]:
        """All of the participant's rows, whatever their status, by due time (then id)."""
        query = (
            select(*_SCHEDULE_ROW).where(_sch.c.participant_id == participant_id).order_by(_sch.c.due_at, _sch.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.schedule_from_row(row) for row in rows]

    async def coach_tasks(self, only_open: bool = True, participant_id: int | None = None) -> list[CoachTask]:
        """Tasks oldest first (created_at, then id); `only_open`: those not done."""
        query = select(_tk).order_by(_tk.c.created_at, _tk.c.id)
        if only_open:
            query = query.where(_tk.c.done_at.is_(None))
        if participant_id is not None:
            query = query.where(_tk.c.participant_id == participant_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.task_from_row(row) for row in rows]

    async def complete_task(self, task_id: int, coach_id: str, at: datetime) -> bool:
        op = _CompleteTask(task_id, s.require_actor(coach_id), s.require_utc(at))
        return cast(bool, await self._writer.submit(_Kind.PROGRAMME, op))

    async def marks(self, participant_id: int | None = None) -> list[Mark]:
        """Milestones in the order they were stored."""
        query = select(_mk).order_by(_mk.c.id)
        if participant_id is not None:
            query = query.where(_mk.c.participant_id == participant_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.mark_from_row(row) for row in rows]

    async def flow_scores(self, participant_id: int, flow_id: str) -> list[ScoreRecord]:
        sc = s.scores
        query = (
            select(sc)
            .where(sc.c.participant_id == participant_id, sc.c.flow_id == flow_id)
            .order_by(sc.c.completed_at, sc.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [s.score_from_row(row) for row in rows]

    async def add_mark(self, participant_id: int, record: MarkRecord) -> None:
        """A mark outside a conversation step (a coach's note)."""
        await self._writer.submit(_Kind.PROGRAMME, _AddMark(s.mark_row(participant_id, record)))

    async def participant_ids(self, coach_id: str | None = None) -> list[int]:
        """Enrolled participants (those with a profile), of one coach or all, in enrolment order."""
        query = select(s.profiles.c.participant_id).order_by(s.profiles.c.participant_id)
        if coach_id is not None:
            query = query.where(s.profiles.c.coach_id == coach_id)
        async with self._connect() as conn:
            return [int(pid) for pid in (await conn.execute(query)).scalars()]

    # -- messages for a human: reads in one snapshot, writes through the writer; see storage/messages.py

    async def coach_messages(self, participant_ids: Sequence[int] | None = None,
                             read_limit: int = 20) -> list[CoachMessage]:
        """Unread messages for a coach, oldest first, then the `read_limit` latest read ones (texts opened)."""
        wanted = None if participant_ids is None else list(dict.fromkeys(participant_ids))
        async with self._connect() as conn:
            await conn.execute(select(1))  # BEGIN: both lists from one snapshot
            return await conn.run_sync(msg.coach_messages, wanted, read_limit, self._keys.open)

    async def mark_messages_read(self, message_ids: Sequence[int], coach_id: str, at: datetime) -> int:
        op = msg.MarkRead(msg.check_ids(message_ids), s.require_actor(coach_id), s.require_utc(at))
        return cast(int, await self._writer.submit(_Kind.CONTACT, op))

    async def task_unread_messages(self, received_before: datetime, at: datetime, due_at: datetime) -> list[int]:
        op = msg.TaskUnread(s.require_utc(received_before), s.require_utc(at), s.require_utc(due_at))
        return cast(list[int], await self._writer.submit(_Kind.CONTACT, op))
