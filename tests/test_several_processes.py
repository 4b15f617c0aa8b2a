"""Several bot processes on one PostgreSQL database (issue 13, point 4): nothing done twice, nothing lost.

Each test starts real OS processes (tests/process_worker.py) on a database of its own on the run's PostgreSQL server,
lets them go at the same moment, and then reads what happened: which process handled which schedule row, what the fake
Twilio and the fake Bot API received, what the audit log says. In the kill -9 cases one process dies right after its
first claim, before it handled anything; the other goes on, and takes the dead one's rows once their lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import App, open_app
from bot.clock import SystemClock
from bot.settings import reload_settings
from bot.singleton import sole_process
from storage import SqlStorage
from storage.crypto import new_key_values
from storage.records import (
    AddressStatus,
    Enrollment,
    EscalationRecord,
    OutboundRecord,
    Priority,
    ScheduledRecord,
    StepRecord,
)
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.process_worker import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN

REPO = Path(__file__).resolve().parents[1]
REMINDER = re.compile(r"Påmindelse (\d+) til (p-\d+)\.")


@pytest.fixture
def database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of every process: the database's URL and its keys (a server database has no key file)."""
    env = {**new_key_values(), "BOT_DB": postgres_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reload_settings()
    yield {**os.environ, **env}
    reload_settings()


async def run_processes(env: dict[str, str], *jobs: dict[str, Any], timeout: float = 180.0) -> list[int]:
    """Start one process per job, let them all go at once, wait for them; their exit codes."""
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.process_worker", json.dumps(job), cwd=REPO, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for job in jobs]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if line.strip() != b"ready":
                assert proc.stderr is not None
                raise AssertionError(f"a worker did not start: {(await proc.stderr.read()).decode()[-3000:]}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        results = await asyncio.wait_for(asyncio.gather(*(proc.communicate() for proc in procs)), timeout)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
    for proc, (_, err) in zip(procs, results, strict=True):
        if proc.returncode not in (0, -9):
            raise AssertionError(f"a worker failed ({proc.returncode}): {err.decode()[-3000:]}")
    return [proc.returncode or 0 for proc in procs]


# --- the schedule ---


async def planned_schedule(url: str, people: int, rows_each: int) -> None:
    """`people` participants with `rows_each` rows each, all due (a minute apart, so each person's order is clear)."""
    store = SqlStorage(url)
    await store.migrate()
    try:
        now = datetime.now(UTC)
        entries = []
        for i in range(people):
            pid = (await store.get_or_create_participant(f"p-{i:04d}", "da", now)).id
            entries += [(pid, ScheduledRecord(f"e{k}", "module", now - timedelta(minutes=rows_each - k), {"k": k}))
                        for k in range(rows_each)]
        assert await store.add_schedule(entries, now) == people * rows_each
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE test_handled (id SERIAL PRIMARY KEY, schedule_id INTEGER NOT NULL, "
                                    "participant_id INTEGER NOT NULL, worker TEXT NOT NULL)"))
    finally:
        await store.close()


async def handled_rows(url: str) -> tuple[list[tuple[int, int, str]], dict[int, datetime], int]:
    """(schedule id, participant id, worker) in the order handled; each row's due time; the rows still pending."""
    store = SqlStorage(url)
    try:
        async with store.engine.connect() as conn:
            handled = [(r.schedule_id, r.participant_id, r.worker) for r in await conn.execute(
                text("SELECT schedule_id, participant_id, worker FROM test_handled ORDER BY id"))]
            due = {r.id: r.due_at for r in await conn.execute(text("SELECT id, due_at FROM schedule"))}
            pending = await conn.scalar(text("SELECT count(*) FROM schedule WHERE status = 'pending'"))
    finally:
        await store.close()
    return handled, due, int(pending or 0)


@pytest.mark.parametrize("kill", [False, True], ids=["both-live", "one-killed-after-its-claim"])
async def test_two_schedulers_handle_each_of_4000_rows_once_in_each_persons_order(
        database: dict[str, str], kill: bool) -> None:
    url = database["BOT_DB"]
    await planned_schedule(url, people=400, rows_each=10)
    lease = 3 if kill else 60
    codes = await run_processes(database, {"role": "schedule", "name": "A", "batch": 50, "lease_seconds": lease,
                                           "kill_after_claim": kill},
                                {"role": "schedule", "name": "B", "batch": 50, "lease_seconds": lease})
    handled, due, pending = await handled_rows(url)
    counts = Counter(schedule_id for schedule_id, _, _ in handled)
    assert pending == 0
    assert set(counts) == set(due) and len(due) == 4000  # nothing lost
    assert max(counts.values()) == 1  # nothing twice
    by_person: dict[int, list[int]] = {}
    for schedule_id, pid, _ in handled:
        by_person.setdefault(pid, []).append(schedule_id)
    assert all(rows == sorted(rows, key=lambda i: due[i]) for rows in by_person.values())  # each person's order
    workers = Counter(worker for _, _, worker in handled)
    if kill:
        assert codes[0] == -9 and workers == {"B": 4000}  # A died holding its first 50: B took them after the lease
    else:
        assert codes == [0, 0] and workers["A"] > 0 and workers["B"] > 0  # they shared the work


# --- the outbox ---


async def queue_reminders(app: App, channel: str, people: list[int], refs: list[str], per_person: int) -> None:
    for pid, ref in zip(people, refs, strict=True):
        participant = await app.storage.participant(pid)
        assert participant is not None
        revision = (await app.storage.load_conversation(pid)).revision
        outbox = [OutboundRecord(channel, {"text": f"Påmindelse {i} til {ref}."}, app.clock.now(), Priority.ROUTINE)
                  for i in range(per_person)]
        state = (await app.loop.state_of(participant)).to_json()
        await app.storage.commit_step(StepRecord(pid, revision, state, app.clock.now(), outbox=outbox))


@pytest.fixture
async def app(database: dict[str, str]) -> AsyncIterator[App]:
    async with open_app(database["BOT_DB"], SystemClock()) as opened:
        yield opened


def each_once_in_order(texts_by_person: dict[str, list[str]], per_person: int) -> None:
    for ref, texts in texts_by_person.items():
        numbers = [int(n) for t in texts for n, who in REMINDER.findall(t) if who == ref]
        assert numbers == list(range(per_person)), (ref, numbers)


@pytest.mark.parametrize("kill", [False, True], ids=["both-live", "one-killed-after-its-claim"])
async def test_two_sms_dispatchers_send_every_message_once_in_each_persons_order(
        database: dict[str, str], app: App, kill: bool) -> None:
    phones = {f"p-{i:02d}": f"+45300000{i:02d}" for i in range(30)}
    people = [(await app.storage.enroll(Enrollment(ref, "N", "da", phone=phone), app.clock.now())).id
              for ref, phone in phones.items()]
    await queue_reminders(app, "sms", people, list(phones), per_person=10)
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as fake:
        lease = 3 if kill else 60
        codes = await run_processes(database, {"role": "sms", "fake": fake.url, "lease_seconds": lease,
                                               "kill_after_claim": kill},
                                    {"role": "sms", "fake": fake.url, "lease_seconds": lease})
        sent = [(m["to"], m["body"]) for m in fake.sent]
    assert codes[0] == (-9 if kill else 0) and codes[1] == 0
    assert len(sent) == 300 and max(Counter(sent).values()) == 1  # every message, once
    each_once_in_order({ref: [body for to, body in sent if to == phone] for ref, phone in phones.items()}, 10)
    assert await app.storage.pending_outbox("sms", 1000, now=app.clock.now()) == []


async def test_two_telegram_dispatchers_send_every_message_once_in_each_persons_order(
        database: dict[str, str], app: App) -> None:
    chats = {f"p-{i:02d}": 600_000 + i for i in range(20)}
    people = []
    for ref, chat in chats.items():
        participant = await app.storage.get_or_create_participant(ref, "da", app.clock.now())
        await app.storage.set_address(participant.id, "telegram", str(chat), AddressStatus.ACTIVE, app.clock.now())
        people.append(participant.id)
    await queue_reminders(app, "telegram", people, list(chats), per_person=15)
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        codes = await run_processes(database, *({"role": "telegram", "fake": fake.base_url, "lease_seconds": 60}
                                                for _ in range(2)))
        texts = {ref: [m.text for m in fake.sent_to(chat)] for ref, chat in chats.items()}
    assert codes == [0, 0]
    each_once_in_order(texts, 15)  # joined or not, each reminder once, in order
    assert await app.storage.pending_outbox("telegram", 1000, now=app.clock.now()) == []


# --- the escalation watcher ---


async def test_two_escalation_watchers_raise_each_tier_once_and_tell_each_coach_once(
        database: dict[str, str], app: App) -> None:
    now = app.clock.now()
    opened = now - timedelta(hours=3)
    escalation_ids = []
    for i in range(10):
        pid = (await app.storage.get_or_create_participant(f"p-{i:02d}", "da", now)).id
        signal = EscalationRecord(level="high", trigger_kind="text", trigger={"matched": "x", "text": "x"},
                                  at=opened, deadline_at=opened + timedelta(minutes=15))
        result = await app.storage.commit_step(StepRecord(pid, 0, {}, opened, escalations=(signal,)))
        escalation_ids += result.escalation_ids
    codes = await run_processes(database, *({"role": "escalations", "ticks": 5} for _ in range(2)))
    assert codes == [0, 0]
    raised = Counter(entry.detail["escalation_id"] for entry in await app.storage.audit_entries(10_000)
                     if entry.action == "escalation.re_escalated")
    assert raised == dict.fromkeys(escalation_ids, 1)
    for escalation_id in escalation_ids:
        escalation = await app.storage.escalation(escalation_id)
        assert escalation is not None and escalation.tier == 2  # overdue twice while nobody watched: straight to 2
        sent = Counter((n.coach_id, n.tier) for n in await app.storage.notifications(escalation_id)
                       if n.status.value == "sent")
        assert sent and max(sent.values()) == 1, sent  # each coach told once of each tier


async def test_two_processes_committing_risky_steps_of_the_same_people_open_one_escalation_each(
        database: dict[str, str], app: App) -> None:
    """Each person's two steps (one from each process) both commit, one after the other, and the second's signal
    joins the escalation the first opened: the step's batch locks the person on PostgreSQL, as SQLite's write lock
    did, so the second sees the first's escalation (and its revision: a CONFLICT to retry, not an error)."""
    now = app.clock.now()
    people = [(await app.storage.get_or_create_participant(f"p-{i:02d}", "da", now)).id for i in range(30)]
    codes = await run_processes(database, {"role": "risky_steps", "name": "A", "people": people},
                                {"role": "risky_steps", "name": "B", "people": people})
    assert codes == [0, 0]
    escalations = await app.storage.escalations()
    assert sorted(e.participant_id for e in escalations) == people  # one each
    assert all(len(e.triggers) == 2 for e in escalations)  # both signals, in it
    assert [(await app.storage.load_conversation(pid)).revision for pid in people] == [2] * len(people)


# --- SQLite: one process per file ---


def test_a_second_bot_run_on_a_sqlite_file_is_refused_in_one_line(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    env = {**os.environ, **new_key_values(), "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}
    with sole_process(database):  # as the first `bot run` holds it
        second = subprocess.run([sys.executable, "-m", "bot", "run", "--db", str(database), "--port", "0"], env=env,
                                cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 2
    assert second.stderr.splitlines() == [f"another bot run is using {database.resolve()} (it holds bot.db.lock); one "
                                          f"process per SQLite file: stop it first, or use PostgreSQL for several"]
    assert not database.exists()  # refused before it opened anything
