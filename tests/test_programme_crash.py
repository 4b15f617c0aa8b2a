"""Restarts and competing processes never send a scheduled message twice, and never lose one.

The process tests kill `python -m bot programme tick` at the crash points of the scheduler (BOT_CRASH_AT),
as a `kill -9` would, and look at the database file afterwards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import open_app
from bot.clock import FakeClock
from bot.conversation import Handled
from bot.scheduler import ProgrammeScheduler
from storage import open_storage
from storage.records import CommitStatus, Participant, ScheduledRecord, ScheduleRow, ScheduleStatus
from tests.conftest import without_consent
from tests.programme_world import World
from tests.test_cli import bot

NOW = {"BOT_FIXED_NOW": "2026-11-24T11:00:00+00:00"}  # Tuesday noon in Copenhagen, for every process


def enrol_yesterday(db: Path) -> None:
    """A participant who started yesterday: the baseline wave and module 1 are due now."""
    bot("enroll", "--name", "Ida Test", "--phone", "+4512345678", "--start-date", "2026-11-23", "--allow-past", db=db,
        env=NOW)


async def stored(db: Path) -> tuple[list[str], Counter[str]]:
    """The SMS texts waiting in the outbox, and the schedule rows by status."""
    storage = await open_storage(db)
    try:
        texts = [str(row.payload["text"]) for row in await storage.pending_outbox("sms", 1000)]
        rows = await storage.schedule_of(1)
    finally:
        await storage.close()
    return texts, Counter(str(r.status) for r in rows)


@pytest.mark.parametrize("crash_at", ["schedule-claimed", "schedule-committed"])
def test_a_tick_killed_midway_sends_each_message_once_after_the_restart(tmp_path: Path, crash_at: str) -> None:
    db = tmp_path / "bot.db"
    enrol_yesterday(db)
    crashed = bot("programme", "tick", db=db, check=False,
                  env={**NOW, "BOT_CRASH_AT": crash_at, "PROGRAMME_LEASE_SECONDS": "0"})
    assert crashed.returncode == 137
    texts, _ = asyncio.run(stored(db))
    if crash_at == "schedule-claimed":
        assert not [t for t in texts if "måling" in t]  # killed before anything was committed
    bot("programme", "tick", db=db, env=NOW)
    bot("programme", "tick", db=db, env=NOW)  # and once more: nothing left to do
    texts, statuses = asyncio.run(stored(db))
    wave = [t for t in texts if t.startswith("Det er tid til en måling")]
    terms = [t for t in texts if t.endswith("Siger du ja til det? Svar ja eller nej.")]
    assert len(wave) == 1 and len(terms) == 1, texts  # the measurement asks for the terms first, once
    assert not [t for t in texts if t.startswith("Modul 1")]  # module 1 waits until the terms are accepted
    assert statuses["sent"] == 1 and statuses["pending"] > 0  # the measurement; the rest is still ahead


async def test_two_schedulers_on_one_database_handle_each_event_once(tmp_path: Path) -> None:
    db = str(tmp_path / "bot.db")
    deployment = without_consent(tmp_path)
    start = date(2026, 3, 16)
    clock = FakeClock(datetime(2026, 3, 15, 12, tzinfo=UTC))
    async with open_app(db, clock, deployment_path=deployment, coach_channels={}) as first, \
            open_app(db, clock, deployment_path=deployment, coach_channels={}) as second:
        world = await World.open(first, start)
        other = ProgrammeScheduler(second.storage, second.loop, clock, world.scheduler.channel_for, batch=2)
        world.scheduler.batch = 2
        sent: list[str] = []
        for day in range(0, 40):
            for hour in (8, 10, 12, 19, 21):
                clock.set(datetime(2026, 3, 16, hour, tzinfo=UTC) + timedelta(days=day))
                await asyncio.gather(world.scheduler.tick(), other.tick())
                sent += await world._drain()
        rows = await first.storage.schedule_of(world.participant.id)
    modules = [t for t in sent if t.startswith("Modul ")]
    assert len(modules) == len(set(modules)) == 6  # modules 1-6 in the first 40 days, each once
    assert all(r.status is not ScheduleStatus.PENDING or r.due_at > clock.now() for r in rows)


async def test_after_a_persons_event_fails_their_later_events_wait_for_it(tmp_path: Path) -> None:
    """A batch may hold several events of one person (a backlog; on PostgreSQL a claim takes each person's due rows
    together): once one fails, the person's later ones are left under the lease and come again with it, in order,
    while everyone else's go on."""
    at = datetime(2026, 3, 16, 8, tzinfo=UTC)
    storage = await open_storage(tmp_path / "bot.db")
    tried: list[str] = []

    class Failing(ProgrammeScheduler):
        async def _due(self, participant: Participant, row: ScheduleRow) -> Handled:
            tried.append(row.key)
            if row.key == "a1" and tried.count("a1") == 1:
                raise RuntimeError("the first attempt fails")
            return Handled(CommitStatus.COMMITTED, participant=participant)

    try:
        anna = await storage.get_or_create_participant("P-anna", "da", at)
        bo = await storage.get_or_create_participant("P-bo", "da", at)
        await storage.add_schedule([(anna.id, ScheduledRecord(key, "nudge", at + timedelta(minutes=n)))
                                    for n, key in enumerate(["a1", "a2", "a3"])]
                                   + [(bo.id, ScheduledRecord("b1", "nudge", at + timedelta(minutes=1)))], at)
        clock = FakeClock(at + timedelta(hours=1))
        scheduler = Failing(storage, None, clock, lambda _: None, lease=timedelta(minutes=5))  # type: ignore[arg-type]
        report = await scheduler.tick()
        assert tried == ["a1", "b1"]  # not a2, a3: they wait for a1
        assert (report.handled, report.failed, report.waiting) == (1, 1, 2)
        clock.set(at + timedelta(hours=1, minutes=5))  # the lease has run out: claimed again, in order
        await scheduler.tick()
        assert tried[2:] == ["a1", "a2", "b1", "a3"]  # (b1 again too: this stand-in completes nothing)
    finally:
        await storage.close()
