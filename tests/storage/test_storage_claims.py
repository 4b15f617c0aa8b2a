"""Outbox claims with leases (storage/sql/outbox_claims.py) on a real SQLite file and on PostgreSQL: two dispatchers
(two claimers) never hold one person's messages at once, a lease that runs out frees the rows, an outcome ends it;
and the job locks several processes share their watchers with (storage/job_locks.py), and one `bot run` per SQLite
file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.singleton import AnotherProcess, sole_process
from storage import SqlStorage
from storage.crypto import new_key_values
from storage.job_locks import JobLocks
from storage.records import Enrollment, OutboundRecord, Priority, StepRecord

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
URGENT, REPLY, ROUTINE = Priority.URGENT, Priority.REPLY, Priority.ROUTINE


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStorage]:
    if request.param == "postgresql":
        impl = SqlStorage(request.getfixturevalue("postgres_url"), key_environ=new_key_values())
    else:
        impl = SqlStorage(tmp_path / "bot.sqlite")
    await impl.migrate()
    try:
        yield impl
    finally:
        await impl.close()


async def person(store: SqlStorage, ref: str) -> int:
    return (await store.enroll(Enrollment(ref, "N", "da", phone=f"+4520{abs(hash(ref)) % 10**6:06d}"), T0)).id


async def queue(store: SqlStorage, pid: int, *priorities: Priority) -> tuple[int, ...]:
    revision = (await store.load_conversation(pid)).revision
    outbox = [OutboundRecord("sms", {"text": f"{p.name} {i}"}, T0, p) for i, p in enumerate(priorities)]
    return (await store.commit_step(StepRecord(pid, revision, {}, T0, outbox=outbox))).outbox_ids


async def ids(store: SqlStorage, claimer: str, at: datetime = T0) -> list[int]:
    return [row.id for row in await store.claimable_outbox("sms", claimer, 100, at)]


async def test_a_persons_messages_are_held_by_one_dispatcher_at_a_time(store: SqlStorage) -> None:
    anna, bo = await person(store, "anna"), await person(store, "bo")
    a1, a2, a3 = await queue(store, anna, ROUTINE, ROUTINE, ROUTINE)
    (b1,) = await queue(store, bo, ROUTINE)
    assert await store.claim_outbox("sms", "A", [a1], T0, T0 + LEASE) == [a1]
    # B sees neither Anna's held message nor those behind it, and may not take her second even when it asks
    assert await ids(store, "B") == [b1]
    assert await store.claim_outbox("sms", "B", [a2, b1], T0, T0 + LEASE) == [b1]
    assert await ids(store, "A") == [a1, a2, a3]  # A sees its own, and what may follow it
    assert await store.claim_outbox("sms", "A", [a2, a3], T0, T0 + LEASE) == [a2, a3]  # joined to the first
    await store.mark_delivery(a1, "SM1", "sent", T0)  # an outcome ends the lease on that row only
    assert await store.claim_outbox("sms", "B", [a2], T0, T0 + LEASE) == []
    await store.mark_delivery(a2, "SM2", "sent", T0)
    await store.defer_outbox(a3, T0 + timedelta(minutes=1), T0, "429")  # back to the queue, not before then
    assert await store.claim_outbox("sms", "B", [a3], T0, T0 + LEASE) == []  # deferred
    later = T0 + timedelta(minutes=1)
    assert await store.claim_outbox("sms", "B", [a3], later, later + LEASE) == [a3]


async def test_a_crisis_reply_may_be_claimed_while_the_persons_ordinary_message_is_out(store: SqlStorage) -> None:
    anna = await person(store, "anna")
    (routine,) = await queue(store, anna, ROUTINE)
    assert await store.claim_outbox("sms", "A", [routine], T0, T0 + LEASE) == [routine]
    (crisis,) = await queue(store, anna, URGENT)  # first in her order now
    assert await store.claim_outbox("sms", "B", [crisis], T0, T0 + LEASE) == [crisis]
    assert await ids(store, "A") == []  # the crisis reply is B's, and it comes first


async def test_a_dead_dispatchers_rows_are_claimable_once_its_lease_has_run_out(store: SqlStorage) -> None:
    anna = await person(store, "anna")
    a1, a2 = await queue(store, anna, REPLY, REPLY)
    assert await store.claim_outbox("sms", "A", [a1, a2], T0, T0 + LEASE) == [a1, a2]
    assert await store.claim_outbox("sms", "B", [a1, a2], T0 + LEASE - timedelta(seconds=1), T0 + 2 * LEASE) == []
    assert await store.claim_outbox("sms", "B", [a1, a2], T0 + LEASE, T0 + 2 * LEASE) == [a1, a2]
    # a lease that ends now gives the rows back (a dispatcher that stops)
    assert await store.claim_outbox("sms", "B", [a1, a2], T0 + LEASE, T0 + LEASE) == [a1, a2]
    assert await ids(store, "C", T0 + LEASE) == [a1, a2]


async def test_of_two_claims_at_once_each_row_goes_to_one(store: SqlStorage) -> None:
    people = [await person(store, f"p{i}") for i in range(6)]
    rows = [i for pid in people for i in await queue(store, pid, ROUTINE, ROUTINE)]
    got = await asyncio.gather(*(store.claim_outbox("sms", name, rows, T0, T0 + LEASE) for name in "ABCD"))
    claimed = [i for ids_ in got for i in ids_]
    assert sorted(claimed) == sorted(rows)  # all of them, once
    for pid_rows in zip(rows[::2], rows[1::2], strict=True):  # a person's two rows went to one claimer
        assert any(set(pid_rows) <= set(ids_) for ids_ in got)


async def test_a_job_lock_is_held_by_one_process_and_taken_over_when_it_dies(postgres_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import asyncio, sys; from storage.job_locks import JobLocks\n"
         "async def main():\n    locks = JobLocks(sys.argv[1])\n    print(await locks.hold('watch'), flush=True)\n"
         "    await asyncio.sleep(600)\nasyncio.run(main())", postgres_url],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        here = JobLocks(postgres_url)
        try:
            assert not await here.hold("watch")
            assert await here.hold("another job")
            holder.kill()  # SIGKILL: the server ends its session, and the lock with it
            holder.wait()
            for _ in range(100):
                if await here.hold("watch"):
                    break
                await asyncio.sleep(0.05)
            assert await here.hold("watch")
        finally:
            await here.close()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


async def test_on_sqlite_every_job_lock_is_this_process_and_a_second_bot_run_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "data" / "bot.db"
    assert await JobLocks(database).hold("escalations")
    with sole_process(database):
        with pytest.raises(AnotherProcess, match="another bot run is using"), sole_process(f"sqlite:///{database}"):
            pass
        other = subprocess.run([sys.executable, "-c", "import sys; from bot.singleton import sole_process\n"
                                "with sole_process(sys.argv[1]): pass", str(database)],
                               capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
        assert other.returncode != 0 and "AnotherProcess" in other.stderr
    with sole_process(database):  # released when the first ended
        pass
    with sole_process("postgresql+psycopg://nobody@127.0.0.1/none"):  # a server's URL: nothing to hold here
        pass
