"""How SQL runs on the database: the engine URL, SQLite's hooks and pragmas, and the runners of one transaction.

All SQL is portable Core in plain functions of a sync `Connection`; a `Runner` decides where they run:

- ``runner="hybrid"`` (default for SQLite): see `HybridRunner`. One thread hand-off per batch (the COMMIT), two when
  another connection holds the write lock.
- ``runner="async"``: on the ``create_async_engine`` engine via ``run_sync`` (aiosqlite; asyncpg later).
  Portable, but aiosqlite hands every cursor call to its thread and back (about 35 hand-offs per batch),
  and under load each waits for the busy event loop: at 2,000 steps/s offered it measured ~4x the latency.

SQLite specifics (pragmas, who emits BEGIN, the pysqlite twin connections) are confined to `install_sqlite_hooks`
and `HybridRunner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import URL, Connection, Engine, NullPool, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.errors import Unsupported
from storage.files import private_directory
from storage.sql.checkpoints import Checkpointer

log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 5000  # how long a writer waits for another connection's write lock
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    # Planning a cohort's schedule (a million rows, due times spread over a year) touches index pages all over, and
    # a claim of 1,000 due rows touches 1,000 table pages. With 16 MiB of page cache per connection instead of 2,
    # and a checkpoint every 10,000 WAL pages instead of every 1,000 (at most ~40 MB of WAL; a commit that runs the
    # checkpoint takes ~0.1 s longer), planning took ~30% and claiming ~20% less time on a 2-core machine.
    "PRAGMA cache_size=-16384",
    "PRAGMA wal_autocheckpoint=10000",
)
BEGIN = "storage_begin"  # execution option: the statement that opens a transaction (see _begin below)
WRITES = {BEGIN: "BEGIN IMMEDIATE"}  # take the write lock up front
LOOKUPS = {BEGIN: ""}  # single-statement lookups: each SELECT is atomic on its own, so skip BEGIN


def install_sqlite_hooks(engine: Engine) -> None:
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
        statement = conn.get_execution_options().get(BEGIN, "BEGIN")
        if statement:
            conn.exec_driver_sql(statement)


def engine_url(target: str | os.PathLike[str]) -> URL:
    """A file path or SQLite URL becomes an aiosqlite URL (its directory is created); others are kept."""
    raw = os.fspath(target)
    if "://" in raw:
        url = make_url(raw)
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise Unsupported("in-memory SQLite is not supported; use a database file")
            private_directory(Path(url.database).expanduser().resolve().parent)
            url = url.set(drivername="sqlite+aiosqlite")
        return url
    if raw in ("", ":memory:"):
        raise Unsupported("in-memory SQLite is not supported; use a database file")
    path = Path(raw).expanduser().resolve()
    private_directory(path.parent)
    return URL.create("sqlite+aiosqlite", database=str(path))


def scrub_file(path: Path) -> None:
    """`SqlStorage.scrub` on its own connection, outside any transaction (VACUUM cannot run inside one)."""
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


Work = Callable[[Connection], list[Any]]


class CommitFailed(Exception):
    """COMMIT raised: the batch may or may not be on disk, so it must not be retried piecemeal."""


class Runner(Protocol):
    engine: Engine  # where the SQL runs (for event listeners)

    async def run(self, work: Work, more: Callable[[], bool] | None = None) -> list[Any]:
        """Run `work` in one transaction and commit; raise `CommitFailed` if the COMMIT fails. `more`: whether
        another transaction is waiting to follow (a hint a runner may use to open it early)."""
        ...

    async def close(self) -> None: ...


class AsyncRunner:
    """Transactions on the async engine: the portable path (each statement awaits the driver)."""

    def __init__(self, engine: AsyncEngine, root: Engine) -> None:
        self._engine = engine  # may carry execution options
        self.engine = root  # events are registered on the root engine

    async def run(self, work: Work, more: Callable[[], bool] | None = None) -> list[Any]:
        async with self._engine.connect() as conn:
            await conn.begin()
            try:
                result = await conn.run_sync(work)
            except BaseException:
                await rollback_or_discard(conn)
                raise
            try:
                await conn.commit()
            except Exception as exc:
                with contextlib.suppress(Exception):  # its state is unknown: never hand it out again
                    await conn.invalidate()
                raise CommitFailed("COMMIT failed") from exc
        return result

    async def close(self) -> None:
        pass


async def rollback_or_discard(conn: AsyncConnection) -> None:
    try:
        await conn.rollback()
    except Exception:
        with contextlib.suppress(Exception):
            await conn.invalidate()


class HybridRunner:
    """SQLite's fast path: only what may wait leaves the event loop; the statements run inline.

    ``COMMIT`` (the fsync) runs on a dedicated thread; ``BEGIN IMMEDIATE`` is tried on the loop without waiting
    (``busy_timeout`` 0 for that one statement) and goes to the thread, to wait as long as ``busy_timeout`` allows,
    only when another connection holds the write lock (another process, a checkpoint). Each hand-off waits for the
    busy loop to take its result back: the one saved took 0.7 ms on average per batch, 5 ms at p99, in the paced
    phase of benchmarks/answers.py. The statements between them, which under the write lock only touch SQLite's
    cache, run on the event loop, with no hand-off per statement and no contention for the GIL per row. WAL
    checkpoints run on a `Checkpointer` of their own (storage/sql/checkpoints.py), not in the writer's COMMIT.
    When another batch is already waiting as a COMMIT ends, the thread opens that batch's transaction too (`_commit`).
    A reader (`offload=False`) runs wholly inline: lookups in WAL mode never wait for writers.
    One pysqlite connection per runner, on the same file with the same pragmas and hooks.
    """

    def __init__(self, url: URL, name: str, options: dict[str, Any], *, offload: bool) -> None:
        self.engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            poolclass=NullPool,  # the runner keeps its one connection open itself
            hide_parameters=True,
            connect_args={"check_same_thread": False},  # used by one thread at a time, never concurrently
        )
        install_sqlite_hooks(self.engine)
        self._begin_sql = options.get(BEGIN, "BEGIN")  # emitted here (at once or on the thread), not by the hook
        self._options = {**options, BEGIN: ""}
        self._conn: Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) if offload else None
        self._on_thread: Future[Any] | None = None  # the last call handed to the thread
        self._opened = False  # a transaction is open already, begun on the thread after the last COMMIT
        database = url.database
        self._checkpointer = Checkpointer(Path(database)) if offload and database else None

    async def _off_loop(self, fn: Callable[[], Any]) -> Any:
        if self._thread is None:
            return fn()
        self._on_thread = self._thread.submit(fn)
        return await asyncio.wrap_future(self._on_thread)

    def _thread_idle(self) -> bool:
        """Nothing of this runner's is running or queued on its thread (after a cancelled COMMIT something may be):
        only then may the loop touch the connection."""
        return self._on_thread is None or self._on_thread.done()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(**self._options)
        return self._conn

    def _begin(self) -> Connection:
        """Open the transaction, waiting for the write lock up to ``busy_timeout`` (on the thread)."""
        conn = self._connection()
        if self._begin_sql:
            conn.exec_driver_sql(self._begin_sql)  # autobegins SQLAlchemy's transaction; the hook emits nothing
        else:
            conn.begin()
        return conn

    def _begin_at_once(self) -> Connection | None:
        """Open the transaction if the write lock is free now (on the loop, or on the thread after a COMMIT); None if
        it is held (nothing is open), or if there is no connection yet (connecting sets the pragmas, which may wait:
        on the thread)."""
        if self._conn is None:
            return None
        conn = self._conn
        if not self._begin_sql:
            conn.begin()
            return conn
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA busy_timeout=0")
        try:
            conn.exec_driver_sql(self._begin_sql)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes too
                raise
            conn.rollback()  # SQLAlchemy's autobegun transaction; SQLite opened none
            return None
        finally:
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    def _after_thread(self, fn: Callable[[], Any]) -> None:
        """Run `fn` once the thread's current call has finished (the executor runs calls in order)."""
        if self._thread is None:
            fn()
        else:
            self._on_thread = self._thread.submit(fn)

    async def run(self, work: Work, more: Callable[[], bool] | None = None) -> list[Any]:
        try:
            conn: Connection | None = None
            if self._opened and self._thread_idle():  # the COMMIT before this one opened it (`_commit`)
                self._opened = False
                conn = self._connection()
            elif self._thread is not None and self._thread_idle():
                conn = self._begin_at_once()
            if conn is None:
                conn = await self._off_loop(self._begin)
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
            await self._off_loop(lambda: self._commit(conn, more))
        except Exception as exc:
            self._drop()  # its transaction state is unknown: never use it again
            raise CommitFailed("COMMIT failed") from exc
        except BaseException:  # cancelled while the COMMIT still runs on the thread
            self._after_thread(self._drop)
            raise
        if self._checkpointer is not None:
            self._checkpointer.after_commit()
        return result

    def _commit(self, conn: Connection, more: Callable[[], bool] | None) -> None:
        """COMMIT; then, on the thread and while it is warm, open the next transaction if one is waiting to follow:
        BEGIN IMMEDIATE after another thread's COMMIT took the event loop 0.15-0.25 ms a batch (the connection's and
        the WAL index's memory are cold on its core), a twentieth of its time at 2,000 answers/s offered. Only
        when `more` says so: an idle writer must not hold the write lock. And never waiting for it: the callers of
        the batch just committed are told so only when this returns (another process holding the lock: the next
        batch waits for it as usual)."""
        conn.commit()
        if self._thread is not None and more is not None and more():
            try:
                self._opened = self._begin_at_once() is not None
            except Exception:  # not opened: the next batch begins as usual
                with contextlib.suppress(Exception):
                    conn.rollback()

    def _drop(self) -> None:
        self._opened = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _close(self) -> None:
        self._opened = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        await self._off_loop(self._close)  # after anything still queued on the thread
        self.engine.dispose()
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.close)


def read_pragmas(conn: Connection, payloads: list[Any]) -> list[Any]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    found = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
    return [found] * len(payloads)
