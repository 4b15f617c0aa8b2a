"""What only the SQLite storage promises: durability settings, files, migrations and honest group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert, inspect
from sqlalchemy.exc import IntegrityError

import storage.sql.batcher as batcher_module
from storage import (
    AnswerRecord,
    CommitResult,
    CommitStatus,
    InboundRecord,
    OutboundRecord,
    SqlStorage,
    StepRecord,
    open_storage,
)
from storage.legacy_migrations import MIGRATIONS, Migration, apply_migrations, ledger_metadata, schema_migrations
from storage.sql.schema import metadata
from storage.upgrade import current, head

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def step(pid: int, rev: int, **kw: Any) -> StepRecord:
    return StepRecord(participant_id=pid, expected_revision=rev, state={"rev": rev}, at=T0, **kw)


def answer(item: str, value: int = 1) -> AnswerRecord:
    return AnswerRecord(1, "pss10", 1, item, value, str(value), T0)


@contextmanager
def statements(store: SqlStorage, label: Callable[[str], str | None] = lambda sql: sql) -> Iterator[list[str]]:
    """Collect the SQL the engine sends while the block runs (or what `label` makes of each statement, None: left
    out)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        labelled = label(statement)
        if labelled is not None:
            seen.append(labelled)

    for engine in store.sync_engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in store.sync_engines:
            event.remove(engine, "before_cursor_execute", record)


async def participants(store: SqlStorage, n: int) -> list[int]:
    found = await asyncio.gather(*(store.get_or_create_participant(f"P{i:04d}", "da", T0) for i in range(n)))
    return [p.id for p in found]


async def test_pragmas_on_every_connection(sqlite_store: SqlStorage) -> None:
    expected = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}
    pragmas = await sqlite_store.connection_pragmas()
    assert pragmas == {"writer": expected, "reader": expected, "engine": expected}


async def test_writes_take_the_lock_with_begin_immediate(sqlite_store: SqlStorage) -> None:
    pid = (await sqlite_store.get_or_create_participant("P", "da", T0)).id
    with statements(sqlite_store) as seen:
        await sqlite_store.commit_step(step(pid, 0))
        await sqlite_store.load_conversation(pid)
    # The write takes the lock up front; the lookup is a single SELECT and needs no transaction.
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    assert any("FROM conversations" in s for s in seen)


async def test_creates_the_directory_and_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.sqlite"
    store = await open_storage(str(path))
    try:
        pid = (await store.get_or_create_participant("P-1", "da", T0)).id
        result = await store.commit_step(
            step(
                pid,
                0,
                inbound=InboundRecord("sms", "SM1", T0),
                answers=[answer("q1", 3)],
                outbox=[OutboundRecord("sms", {"text": "Tak"}, T0)],
            )
        )
    finally:
        await store.close()
    assert path.exists()

    reopened = await open_storage(f"sqlite+aiosqlite:///{path}")
    try:
        assert (await reopened.load_conversation(pid)).revision == 1
        assert [row.id for row in await reopened.pending_outbox("sms")] == list(result.outbox_ids)
        assert [row["value"] for row in await reopened.export_answers()] == [3]
        again = await reopened.commit_step(step(pid, 1, inbound=InboundRecord("sms", "SM1", T0)))
        assert again.status is CommitStatus.DUPLICATE
    finally:
        await reopened.close()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="in-memory SQLite"):
        SqlStorage(":memory:")
    with pytest.raises(ValueError, match="in-memory SQLite"):
        SqlStorage("sqlite+aiosqlite://")


async def test_migrate_is_idempotent_and_recorded(sqlite_store: SqlStorage) -> None:
    await sqlite_store.migrate()
    await sqlite_store.migrate()
    async with sqlite_store.engine.connect() as conn:
        revision = await conn.run_sync(current)
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert revision == head()
    assert tables == set(metadata.tables) | {"alembic_version"}  # the numbered migrations' ledger is not made


def test_the_frozen_numbered_migrations_run_only_what_a_database_lacks(tmp_path: Path) -> None:
    """storage/legacy_migrations.py still brings an old database to version 10: only the migrations its ledger lacks,
    in order; never on a ledger without migration 1 (new databases are Alembic's), nor one it does not know."""
    ran: list[str] = []
    v1 = Migration(1, "initial", lambda conn: ran.append("v1"))
    v2 = Migration(2, "add column", lambda conn: ran.append("v2"))
    v3 = Migration(3, "add table", lambda conn: ran.append("v3"))
    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        with engine.begin() as conn:
            ledger_metadata.create_all(conn)
            with pytest.raises(RuntimeError, match="lacks migration 1"):
                apply_migrations(conn, (v1, v2))
            conn.execute(insert(schema_migrations).values(version=1, name="initial", applied_at="2025-01-01"))
            assert apply_migrations(conn, (v1, v2)) == [2]
            assert apply_migrations(conn, (v1, v2, v3)) == [3]
            assert apply_migrations(conn, (v1, v2, v3)) == []
        assert ran == ["v2", "v3"]
        with engine.begin() as conn, pytest.raises(RuntimeError, match="does not know"):
            apply_migrations(conn, (v1, v2))
        with engine.begin() as conn, pytest.raises(RuntimeError, match="numbered"):
            apply_migrations(conn, (v1, v3))
        with engine.begin() as conn, pytest.raises(RuntimeError, match="baseline"):
            MIGRATIONS[0].apply(conn)  # migration 1 made new databases; Alembic's baseline does now
    finally:
        engine.dispose()


async def test_concurrent_commits_share_transactions(sqlite_store: SqlStorage) -> None:
    pids = await participants(sqlite_store, 100)
    with statements(sqlite_store) as seen:
        results = await asyncio.gather(*(sqlite_store.commit_step(step(pid, 0)) for pid in pids))
    assert all(r.status is CommitStatus.COMMITTED for r in results)
    assert 1 <= seen.count("BEGIN IMMEDIATE") < 10


async def test_concurrent_loads_share_queries(sqlite_store: SqlStorage) -> None:
    pids = await participants(sqlite_store, 100)
    await asyncio.gather(*(sqlite_store.commit_step(step(pid, 0)) for pid in pids[::2]))
    with statements(sqlite_store) as seen:
        convs = await asyncio.gather(*(sqlite_store.load_conversation(pid) for pid in pids))
    assert [c.revision for c in convs] == [1, 0] * 50
    assert 1 <= len([s for s in seen if "FROM conversations" in s]) < 10


async def test_a_failing_step_fails_alone_and_the_rest_of_its_batch_commits(
    sqlite_store: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sqlite_store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON answers WHEN NEW.item_id = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
        )
    batch_sizes: list[int] = []
    original = batcher_module.Batcher._run

    async def spy(self: Any, jobs: list[Any]) -> None:
        if self._name == "storage-writer":
            batch_sizes.append(len(jobs))
        await original(self, jobs)

    monkeypatch.setattr(batcher_module.Batcher, "_run", spy)
    pids = await participants(sqlite_store, 30)
    bad = pids[7]
    results = await asyncio.gather(
        *(
            sqlite_store.commit_step(
                step(
                    pid,
                    0,
                    inbound=InboundRecord("sms", f"SM{pid}", T0),
                    answers=[answer("boom" if pid == bad else "q1")],
                )
            )
            for pid in pids
        ),
        return_exceptions=True,
    )
    assert 30 in batch_sizes  # all 30 went into one transaction, which failed and was split
    committed = [r for r in results if isinstance(r, CommitResult)]
    assert isinstance(results[7], IntegrityError) and "boom refused" in str(results[7])
    assert "boom" not in str(results[7]).replace("boom refused", "")  # parameters (answers) stay out of errors
    assert len(committed) == 29
    assert all(r.status is CommitStatus.COMMITTED and r.revision == 1 for r in committed)
    assert len(await sqlite_store.export_answers()) == 29
    assert (await sqlite_store.load_conversation(bad)).revision == 0
    # Nothing of the failed step was kept, not even its inbox row: a corrected retry commits.
    retry = await sqlite_store.commit_step(
        step(bad, 0, inbound=InboundRecord("sms", f"SM{bad}", T0), answers=[answer("q1")])
    )
    assert retry.status is CommitStatus.COMMITTED


async def test_a_failed_commit_fails_every_caller_in_the_batch(sqlite_store: SqlStorage) -> None:
    pids = await participants(sqlite_store, 20)
    fail = {"commit": True}

    def on_commit(_conn: Any) -> None:
        if fail["commit"]:
            raise OSError("simulated I/O error during COMMIT")

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "commit", on_commit)
    try:
        results = await asyncio.gather(
            *(sqlite_store.commit_step(step(pid, 0)) for pid in pids), return_exceptions=True
        )
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "commit", on_commit)
    assert all(isinstance(r, OSError) for r in results)  # nobody is told it committed
    # The writer carries on afterwards.
    retried = await asyncio.gather(*(sqlite_store.commit_step(step(pid, 0)) for pid in pids))
    assert all(r.status is CommitStatus.COMMITTED for r in retried)


async def test_a_caller_cancelled_while_queued_has_nothing_written(sqlite_store: SqlStorage) -> None:
    first, second = await participants(sqlite_store, 2)
    kept = asyncio.create_task(sqlite_store.commit_step(step(first, 0)))
    dropped = asyncio.create_task(sqlite_store.commit_step(step(second, 0)))
    await asyncio.sleep(0)  # both are queued; the writer has not drained the queue yet
    dropped.cancel()
    assert (await kept).status is CommitStatus.COMMITTED
    with pytest.raises(asyncio.CancelledError):
        await dropped
    await sqlite_store.commit_step(step(first, 1))  # a later batch has certainly run by now
    assert (await sqlite_store.load_conversation(second)).revision == 0


def slow_first_commit(store: SqlStorage, seconds: float = 0.1) -> threading.Event:
    """Set when the store's first COMMIT starts, which then takes `seconds` longer (on the writer's thread)."""
    committing = threading.Event()

    def slow_commit(_conn: Any) -> None:
        if not committing.is_set():
            committing.set()
            time.sleep(seconds)

    for engine in store.sync_engines:
        event.listen(engine, "commit", slow_commit)
    return committing


async def until(flag: threading.Event) -> None:
    while not flag.is_set():
        await asyncio.sleep(0.005)


async def test_cancelling_the_writer_mid_commit_tells_callers_the_truth(tmp_path: Path) -> None:
    store = SqlStorage(tmp_path / "bot.sqlite", runner="hybrid")
    await store.migrate()
    try:
        pid = (await store.get_or_create_participant("P", "da", T0)).id
        committing = slow_first_commit(store, 0.2)
        caller = asyncio.create_task(store.commit_step(step(pid, 0)))
        await until(committing)
        writer_task = store._writer._task
        assert writer_task is not None
        writer_task.cancel()
        with pytest.raises(RuntimeError, match="may or may not"):
            await caller
        # The COMMIT did finish on its thread (the next write queues behind it there): the writer comes
        # back, the write lock was released, and the first step is in.
        assert await store.commit_step(step(pid, 1)) == CommitResult(CommitStatus.COMMITTED, 2)
        assert (await store.load_conversation(pid)).revision == 2
    finally:
        await store.close()


@asynccontextmanager
async def store_and_another_process(tmp_path: Path, timeout: float = 5.0
                                    ) -> AsyncIterator[tuple[SqlStorage, sqlite3.Connection]]:
    """A hybrid store on a new file, and a second sqlite3 connection to it standing for another process (`timeout`:
    how long it waits for the write lock; usable from the writer's thread too)."""
    path = tmp_path / "bot.sqlite"
    store = SqlStorage(path, runner="hybrid")
    await store.migrate()
    other = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    try:
        yield store, other
    finally:
        other.close()
        await store.close()


async def test_a_batch_waiting_behind_a_commit_finds_its_transaction_open_and_an_idle_writer_holds_no_lock(
        tmp_path: Path) -> None:
    async with store_and_another_process(tmp_path, timeout=0) as (store, other):  # other never waits for the lock
        first, second, third = await participants(store, 3)
        committing = slow_first_commit(store)  # long enough for the next step to queue behind it
        with begins_by_thread(store) as threads:
            one = asyncio.create_task(store.commit_step(step(first, 0)))
            await until(committing)
            two = asyncio.create_task(store.commit_step(step(second, 0)))  # queued while the COMMIT runs
            assert [(await one).status, (await two).status] == [CommitStatus.COMMITTED] * 2
            other.execute("BEGIN IMMEDIATE")  # nothing queued after the second: its COMMIT opened nothing
            other.execute("ROLLBACK")
            assert (await store.commit_step(step(third, 0))).status is CommitStatus.COMMITTED
        loop_thread = threading.current_thread().name
        # the first on the loop; the second opened on the writer's thread right after the first's COMMIT; the
        # third, alone, on the loop again
        assert threads[0] == loop_thread and threads[1].startswith("storage-writer") and threads[2:] == [loop_thread]


async def test_a_commit_is_answered_without_waiting_for_a_lock_another_process_took_after_it(tmp_path: Path) -> None:
    async with store_and_another_process(tmp_path, timeout=0) as (store, other):
        first, second = await participants(store, 2)
        taken = threading.Event()

        def another_process_writes() -> bool:  # asked on the writer's thread between its COMMIT and the next BEGIN
            if not taken.is_set():
                other.execute("BEGIN IMMEDIATE")
                taken.set()
            return True

        committing = slow_first_commit(store)  # long enough for the next step to queue behind it
        store._writer._more = another_process_writes  # type: ignore[method-assign]
        one = asyncio.create_task(store.commit_step(step(first, 0)))
        await until(committing)
        two = asyncio.create_task(store.commit_step(step(second, 0)))
        assert (await asyncio.wait_for(one, 2)).status is CommitStatus.COMMITTED  # answered while the lock is held
        assert taken.is_set() and not two.done()
        await asyncio.sleep(0.05)
        assert not two.done()  # the next batch waits for the lock, on the writer's thread
        other.execute("COMMIT")
        assert (await asyncio.wait_for(two, 5)).status is CommitStatus.COMMITTED


def begins_by_thread(store: SqlStorage) -> AbstractContextManager[list[str]]:
    """The name of the thread each BEGIN IMMEDIATE ran on, while the block runs."""
    return statements(store, lambda sql: threading.current_thread().name if sql == "BEGIN IMMEDIATE" else None)


async def test_a_write_waits_off_the_loop_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    async with store_and_another_process(tmp_path) as (store, other):
        pid = (await store.get_or_create_participant("P", "da", T0)).id
        other.execute("BEGIN IMMEDIATE")  # a command in another process, writing
        with begins_by_thread(store) as threads:
            writing = asyncio.create_task(store.commit_step(step(pid, 0)))
            ticks = 0
            for _ in range(10):  # the event loop goes on while the writer waits for the lock
                await asyncio.sleep(0.01)
                ticks += 1
            assert ticks == 10 and not writing.done()
            other.execute("COMMIT")
            assert await writing == CommitResult(CommitStatus.COMMITTED, 1)
            assert await store.commit_step(step(pid, 1)) == CommitResult(CommitStatus.COMMITTED, 2)
        loop_thread = threading.current_thread().name
        # tried at once on the loop, refused without waiting, then waited for on the writer's thread; the next
        # write found the lock free and took it on the loop
        assert threads[0] == loop_thread
        assert threads[1].startswith("storage-writer")
        assert threads[2:] == [loop_thread]


async def test_the_wal_is_copied_into_the_database_by_a_checkpointer_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    store = SqlStorage(path, runner="hybrid")
    await store.migrate()
    try:
        pid = (await store.get_or_create_participant("P", "da", T0)).id
        await store.commit_step(step(pid, 0))
        checkpointer = store._writer._runner._checkpointer  # type: ignore[attr-defined]
        if checkpointer._running is not None:  # a pass an earlier commit started ends before we count
            await asyncio.wrap_future(checkpointer._running)
        before = checkpointer.passes
        await asyncio.sleep(0.6)  # a pass is due after each commit at most every 0.5 s
        await store.commit_step(step(pid, 1))
        for _ in range(300):
            if checkpointer.passes > before:
                break
            await asyncio.sleep(0.01)
        assert checkpointer.passes > before
        # The database file alone (without its WAL) has the step: the pass copied it, not the writer's COMMIT
        # (its automatic checkpoint is at 10,000 pages).
        alone = tmp_path / "copy.sqlite"
        alone.write_bytes(path.read_bytes())
        copy = sqlite3.connect(alone)
        try:
            stored = copy.execute("SELECT revision FROM conversations WHERE participant_id = ?", (pid,)).fetchone()
            assert stored == (2,)
        finally:
            copy.close()
    finally:
        await store.close()


CHILD = """
import asyncio, os, signal, sys
from datetime import UTC, datetime
from storage import AnswerRecord, StepRecord, open_storage

async def main():
    store = await open_storage(sys.argv[1])
    now = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    pid = (await store.get_or_create_participant("P-crash", "da", now)).id
    answer = AnswerRecord(1, "pss10", 1, "q1", 4, "4", now)
    result = await store.commit_step(StepRecord(pid, 0, {"acked": True}, now, answers=[answer]))
    print(result.status, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint: only what COMMIT made durable

asyncio.run(main())
"""


async def test_an_acknowledged_step_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(CHILD),
        str(path),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    assert out.decode().strip() == "committed", err.decode()
    assert child.returncode != 0  # it really was killed
    store = await open_storage(str(path))
    try:
        pid = (await store.get_or_create_participant("P-crash", "da", T0)).id
        assert (await store.load_conversation(pid)).state == {"acked": True}
        assert [row["value"] for row in await store.export_answers()] == [4]
    finally:
        await store.close()
