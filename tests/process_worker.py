"""One bot process of the several-processes tests (tests/test_several_processes.py): ``python -m tests.process_worker
JOB``, with JOB a JSON object; the database's URL and keys come from the environment (``BOT_DB``, ``BOT_DATA_KEY``...).

- ``{"role": "schedule", ...}``: claims due schedule rows (`Storage.claim_schedule`) and handles each: a row in
  ``test_handled`` (which process, in which order) and the row marked sent, in one transaction, as a conversation step
  would; until no row is pending.
- ``{"role": "sms" | "telegram", "fake": URL, ...}``: the channel's real dispatcher against the fake Twilio or the fake
  Bot API, until nothing is left to send on the channel.
- ``{"role": "risky_steps", "people": [ids]}``: a step with a risk signal for each person, as the conversation loop
  commits one (a CONFLICT: load the conversation again and retry).
- ``{"role": "escalations", "ticks": N}``: the escalation watcher's tick, N times, when holding its job lock.

``"kill_after_claim": true`` makes the process kill itself (SIGKILL: no cleanup, no lease given back) right after its
first claim that got rows, before handling any of them. It prints ``ready`` once connected, and waits for a line on
stdin, so that every process starts claiming at the same moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bot.app import open_app
from bot.channels.sms import SmsChannel, TwilioSender
from bot.channels.telegram import TelegramChannel
from bot.clock import SystemClock
from bot.rendering import Catalogs
from storage import SqlStorage
from storage.job_locks import JobLocks
from storage.ports import Storage
from storage.records import CommitStatus, EscalationRecord, StepRecord

TWILIO_SID, TWILIO_TOKEN, OUR_NUMBER = "AC" + "a1" * 16, "f" * 32, "+4598765432"
TELEGRAM_TOKEN = "7000001:fake-telegram-token"


def _die_after_claim(storage: Any, method: str) -> None:
    """Wrap the storage's claim: after the first one that got rows, SIGKILL this process."""
    claim = getattr(storage, method)

    async def claim_then_die(*args: Any, **kwargs: Any) -> Any:
        got = await claim(*args, **kwargs)
        if got:
            os.kill(os.getpid(), signal.SIGKILL)
        return got

    setattr(storage, method, claim_then_die)


def _start_together() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


async def schedule(job: dict[str, Any]) -> None:
    store = SqlStorage(os.environ["BOT_DB"])
    lease = timedelta(seconds=job["lease_seconds"])
    if job.get("kill_after_claim"):
        _die_after_claim(store, "claim_schedule")
    try:
        _start_together()
        while True:
            now = datetime.now(UTC)
            rows = await store.claim_schedule(now, job["batch"], now + lease)
            for row in rows:
                async with store.engine.begin() as conn:
                    await conn.execute(text("INSERT INTO test_handled (schedule_id, participant_id, worker) "
                                            "VALUES (:id, :pid, :worker)"),
                                       {"id": row.id, "pid": row.participant_id, "worker": job["name"]})
                    await conn.execute(text("UPDATE schedule SET status = 'sent', claimed_until = NULL "
                                            "WHERE id = :id"), {"id": row.id})
            if not rows:
                async with store.engine.connect() as conn:
                    left = await conn.scalar(text("SELECT count(*) FROM schedule WHERE status = 'pending'"))
                if not left:
                    return
                await asyncio.sleep(0.05)
    finally:
        await store.close()


async def _unsent(storage: Storage, channel: str) -> int:
    assert isinstance(storage, SqlStorage)
    async with storage.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM outbox WHERE channel = :channel AND sent_at IS NULL "
                                          "AND given_up_at IS NULL"), {"channel": channel}) or 0)


async def dispatch(job: dict[str, Any]) -> None:
    clock = SystemClock()
    async with open_app(os.environ["BOT_DB"], clock) as app:
        sms: SmsChannel | None = None
        telegram: TelegramChannel | None = None
        sender: TwilioSender | None = None
        if job["role"] == "sms":
            sender = TwilioSender(TWILIO_SID, TWILIO_TOKEN, OUR_NUMBER, api_base_url=job["fake"])
            sms = SmsChannel(app.storage, app.loop, sender, Catalogs(), clock, None, segments_per_second=1000)
            dispatcher = sms.dispatcher
        else:
            telegram = TelegramChannel(app.storage, app.loop, Catalogs(), clock, TELEGRAM_TOKEN, base_url=job["fake"],
                                       per_chat_interval=0.0, requests_per_second=0.0)
            await telegram.bot.initialize()
            dispatcher = telegram.dispatcher
        dispatcher.lease = timedelta(seconds=job["lease_seconds"])
        if job.get("kill_after_claim"):
            _die_after_claim(app.storage, "claim_outbox")
        try:
            _start_together()
            while await _unsent(app.storage, job["role"]):
                await dispatcher.deliver_pending()
                await asyncio.sleep(0.05)
        finally:
            if sender is not None:
                await sender.close()
            if telegram is not None:
                await telegram.bot.shutdown()


async def risky_steps(job: dict[str, Any]) -> None:
    store = SqlStorage(os.environ["BOT_DB"])
    try:
        _start_together()
        for pid in job["people"]:
            for _ in range(50):
                now = datetime.now(UTC)
                revision = (await store.load_conversation(pid)).revision
                signal = EscalationRecord(level="high", trigger_kind="text", trigger={"matched": "x", "text": "x"},
                                          at=now, deadline_at=now + timedelta(minutes=15))
                step = StepRecord(pid, revision, {"by": job["name"]}, now, escalations=(signal,))
                if (await store.commit_step(step)).status is CommitStatus.COMMITTED:
                    break
            else:
                raise AssertionError(f"participant {pid}: no step committed in 50 tries")
    finally:
        await store.close()


async def escalations(job: dict[str, Any]) -> None:
    """As `bot run` does: the tick runs in the process holding the job's lock (bot/service.py)."""
    locks = JobLocks(os.environ["BOT_DB"])
    try:
        async with open_app(os.environ["BOT_DB"], SystemClock()) as app:
            _start_together()
            for _ in range(job["ticks"]):
                if await locks.hold("escalations"):
                    await app.escalations.tick()
                await asyncio.sleep(0.05)
    finally:
        await locks.close()


def main() -> None:
    job = json.loads(sys.argv[1])
    if job["role"] == "schedule":
        asyncio.run(schedule(job))
    elif job["role"] == "escalations":
        asyncio.run(escalations(job))
    elif job["role"] == "risky_steps":
        asyncio.run(risky_steps(job))
    else:
        asyncio.run(dispatch(job))


if __name__ == "__main__":
    main()
