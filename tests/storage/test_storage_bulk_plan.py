"""Planning many participants at once (`bot.scheduler.materialise`): chunks, lanes side by side, events encoded once
and kept from one chunk to the next, and on PostgreSQL each chunk in a transaction of its own beside the writer.

Whatever the path, the rows are what planning each person alone would write, a person's later plan wins, and a
chunk that names someone unknown writes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.flowregistry import SHIPPED_PROGRAMME
from bot.scheduler import materialise, plan_records
from flows.programme import Programme
from flows.programme_loader import load_programme
from storage import ScheduledRecord, SqlStorage, UnknownParticipantError
from storage.crypto import new_key_values
from storage.errors import unknown_participant
from storage.sql.schedule import APART_ROWS, AddSchedule

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def programme() -> Programme:
    loaded, problems = load_programme(SHIPPED_PROGRAMME)
    assert loaded is not None and not problems
    return loaded


async def enrol(store: SqlStorage, count: int) -> list[int]:
    return [(await store.get_or_create_participant(f"B-{i:04d}", "da", T0)).id for i in range(count)]


def start_of(n: int) -> date:
    return date(2026, 1, 5) + timedelta(days=(n * 37) % 120)


async def as_planned(store: SqlStorage, pid: int) -> dict[str, datetime]:
    return {row.key: row.due_at for row in await store.schedule_of(pid)}


async def test_many_participants_planned_in_chunks_get_each_their_own_plan(store: SqlStorage,
                                                                           programme: Programme) -> None:
    """Chunks of `APART_ROWS`: on PostgreSQL the full ones go apart from the writer, the rest through it."""
    pids = await enrol(store, 300)
    listed = [(pid, start_of(n)) for n, pid in enumerate(pids)]
    written = await materialise(store, programme, listed, T0, chunk=APART_ROWS)
    expected = {pid: {r.key: r.due_at for r in plan_records(programme, start_of(n))} for n, pid in enumerate(pids)}
    assert written == sum(len(plan) for plan in expected.values())
    for pid in pids:
        assert await as_planned(store, pid) == expected[pid]


async def test_a_person_listed_again_later_keeps_the_later_plan(store: SqlStorage, programme: Programme) -> None:
    """Their two plans are in different chunks, with other people's chunks (in both lanes) between them: the later
    must be written after the earlier, whichever lane and transaction carries it."""
    pids = await enrol(store, 600)
    first, later = date(2026, 2, 2), date(2026, 3, 16)
    others = [(pid, start_of(n)) for n, pid in enumerate(pids[1:])]
    listed = [(pids[0], first), *others[:300], (pids[0], later), *others[300:]]
    await materialise(store, programme, listed, T0, chunk=APART_ROWS)
    rows = await as_planned(store, pids[0])
    later_plan = {r.key: r.due_at for r in plan_records(programme, later)}
    assert {key: rows[key] for key in later_plan} == later_plan


async def test_a_bulk_plan_naming_someone_unknown_writes_nothing(store: SqlStorage, programme: Programme) -> None:
    pids = await enrol(store, 2)
    plan = plan_records(programme, date(2026, 2, 2))
    entries = [(pid, record) for pid in pids for record in plan] * (APART_ROWS // (2 * len(plan)) + 1)
    entries.append((10**6, plan[0]))
    assert len(entries) > APART_ROWS  # on PostgreSQL: the path apart from the writer
    with pytest.raises(UnknownParticipantError):
        await store.add_schedule(entries, T0)
    assert [await store.schedule_of(pid) for pid in pids] == [[], []]


async def test_the_same_event_planned_again_later_is_written_with_the_later_time(store: SqlStorage) -> None:
    """Encoded events are kept from one call to the next; one planned again at another time is encoded anew."""
    pid = (await enrol(store, 1))[0]
    event = ScheduledRecord("module:1", "module", T0 + timedelta(days=3), {"n": 1})
    await store.add_schedule([(pid, event)], T0)
    later = T0 + timedelta(hours=2)
    await store.add_schedule([(pid, event)], later)
    (row,) = await store.schedule_of(pid)
    assert row.updated_at == later


async def test_closing_waits_for_a_bulk_plan_written_beside_the_writer(postgres_url: str,
                                                                      programme: Programme) -> None:
    """On PostgreSQL a bulk chunk has a transaction of its own, outside the writer's queue: `close()` must still
    not return before it has ended, or a process stopping would cut it off after being told all was written."""
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    await store.migrate()
    pids = await enrol(store, 200)
    plan = plan_records(programme, date(2026, 2, 2))
    writing = asyncio.ensure_future(store.add_schedule([(pid, record) for pid in pids for record in plan], T0))
    while not store._apart_writes:  # encoded and on its way to the server
        await asyncio.sleep(0)
    await store.close()
    assert writing.done()
    assert writing.result() == len(pids) * len(plan)


class FailingForZero:
    """A storage whose plan fails for participant 0 (as for someone unknown) and records what it was handed."""

    def __init__(self) -> None:
        self.handed: list[list[int]] = []

    async def add_schedule(self, entries: list[tuple[int, ScheduledRecord]], at: datetime) -> int:
        people = sorted({pid for pid, _ in entries})
        self.handed.append(people)
        if 0 in people:
            raise unknown_participant(0)
        return len(entries)

    async def after_bulk_plan(self) -> None:
        raise AssertionError("not after a failure")


async def test_planning_stops_once_a_chunk_has_failed(programme: Programme) -> None:
    """Person 0's chunk (lane 0) fails; the people after them are all in lane 1. Once the failure is known nothing
    more is handed on: only the chunk of lane 1 already on its way may still be written."""
    storage = FailingForZero()
    plan_size = len(plan_records(programme, date(2026, 2, 2)))
    listed = [(0, date(2026, 2, 2)), *((2 * n + 1, date(2026, 2, 2)) for n in range(20))]
    with pytest.raises(UnknownParticipantError):
        await materialise(storage, programme, listed, T0, chunk=plan_size)  # type: ignore[arg-type]
    assert storage.handed == [[0], [1]]


async def test_a_bulk_write_whose_caller_has_gone_still_ends_and_its_failure_is_logged(
        postgres_url: str, programme: Programme, caplog: pytest.LogCaptureFixture) -> None:
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    await store.migrate()
    pids = await enrol(store, 200)
    plan = plan_records(programme, date(2026, 2, 2))
    caller = asyncio.ensure_future(store.add_schedule([(pid, r) for pid in pids for r in plan] + [(10**6, plan[0])],
                                                      T0))
    while not store._apart_writes:  # on its way to the server
        await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await store.close()  # waits for the write, which fails: someone is unknown
    assert "a bulk schedule write whose caller had gone failed: UnknownParticipantError" in caplog.text
    assert "10000" not in caplog.text and "1000000" not in caplog.text  # no ids in the log


class _Deadlocked(Exception):
    sqlstate = "40P01"  # what PostgreSQL says when it rolls back one of two transactions waiting for each other


async def test_a_bulk_write_rolled_back_by_a_deadlock_runs_again(postgres_url: str, programme: Programme,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL rolls one of two deadlocked transactions back (here: as if a live step held one of its people);
    the bulk chunk, written beside the writer, is run again and written once."""
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    await store.migrate()
    try:
        pids = await enrol(store, 200)
        plan = plan_records(programme, date(2026, 2, 2))
        runs: list[int] = []
        real_run = AddSchedule.run

        def deadlocking_once(op: AddSchedule, conn: Any) -> Any:
            runs.append(len(runs))
            if len(runs) == 1:
                real_run(op, conn)  # writes, then is rolled back
                raise OperationalError("INSERT INTO schedule ...", {}, _Deadlocked())
            return real_run(op, conn)

        monkeypatch.setattr(AddSchedule, "run", deadlocking_once)
        written = await store.add_schedule([(pid, record) for pid in pids for record in plan], T0)
        assert (written, len(runs)) == (len(pids) * len(plan), 2)
        assert len(await store.schedule_of(pids[0])) == len(plan)
    finally:
        await store.close()
