"""The programme's ticker: claims due rows of the durable schedule and feeds them into the conversation loop.

The schedule table is the truth (one row per participant and event, unique key, due time in UTC);
APScheduler's AsyncIOScheduler only decides when to look. A row is claimed with a lease and handled as one
conversation step that also marks the row done, in the same transaction as the messages it produced, so:
- a crash before that commit leaves the row pending; after the lease it is claimed again and nothing was sent;
- a crash after it leaves the row done; it is never handled twice (the commit refuses a row no longer pending).
A questionnaire's expiry timer is a row of the same table (kind `run_expiry`, bot/timers.py), claimed and answered
the same way: the tick feeds the engine `TimerFired` instead of `Due`, and the step records the row's one outcome.
Every row is handled for its participant whether or not they have a programme profile (a console conversation's
questionnaire expires too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import timers
from bot.clock import Clock
from bot.conversation import ConversationLoop, Handled, tre_sessions
from bot.faults import crash_point
from bot.settings import settings
from flows.inputs import Due
from flows.programme import KIND_ORDER, Kind, Programme
from flows.timing import initial_plan
from flows.tre import TRE_FLOW, in_week
from storage.ports import Storage
from storage.records import AddressStatus, CommitStatus, Participant, ScheduledRecord, ScheduleRow

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)  # a claimed row not finished within this (a crash) is claimed again


def lease_from_environment() -> timedelta:
    """`PROGRAMME_LEASE_SECONDS`: how long a claimed row is held (default 300)."""
    return timedelta(seconds=settings().programme_lease_seconds)
BATCH = 500
MAX_BATCHES = 1000  # a tick never runs away (a deferral is always to a later time, but be sure)
PREFERRED_CHANNELS = ("telegram", "sms")

ChannelFor = Callable[[Participant], Awaitable[str | None]]


@dataclass
class TickReport:
    timers: int = 0  # expiry timers fired (rows of kind `run_expiry`), not counted in `handled`
    handled: int = 0
    duplicates: int = 0  # rows another process (or an earlier attempt) had already handled
    failed: int = 0
    waiting: int = 0  # left under their lease because an earlier row of the same person failed in the batch


def plan_records(programme: Programme, start: date) -> list[ScheduledRecord]:
    return [ScheduledRecord(p.key, p.kind, p.due_at, dict(p.data)) for p in initial_plan(programme, start)]


async def schedule_programme(storage: Storage, programme: Programme, participant_id: int, start: date,
                             now: datetime) -> int:
    """Plan a newly enrolled participant's programme (idempotent: planning twice changes nothing)."""
    return await materialise(storage, programme, [(participant_id, start)], now)


LANES = 2  # participants planned side by side by `materialise` (by id: each person's rows stay in one lane, in order)


async def materialise(storage: Storage, programme: Programme, participants: Iterable[tuple[int, date]],
                      now: datetime, chunk: int = 10_000) -> int:
    """Plan many participants' programmes: the plan is computed once per start date (a cohort shares it) and
    written in transactions of `chunk` rows.

    The participants go in `LANES` lanes by id, each a chunk at a time in order, the lanes side by side: building
    and encoding one lane's next chunk overlaps the database's work on the other's, and a server database writes
    the two at once (storage/sql/schedule.py `_write_apart`; SQLite queues them for its one writer). On PostgreSQL
    the server's work was about twice ours and the two took turns (benchmarks/schedule.py). On SQLite the writer may
    put both lanes' chunks in one transaction. When a chunk fails, the other lane's chunk already handed on may
    still be written; nothing more is handed on once the failure is known, and it is raised when both are done."""
    plans: dict[date, list[ScheduledRecord]] = {}
    pending: list[list[tuple[int, ScheduledRecord]]] = [[] for _ in range(LANES)]
    in_flight: dict[int, asyncio.Future[int]] = {}
    written = 0

    async def hand_on(lane: int) -> None:
        nonlocal written
        if lane in in_flight:
            written += await in_flight.pop(lane)  # this lane's chunk before: a person's rows in order
        for task in in_flight.values():  # the other lane's chunk failed meanwhile: plan nothing more
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise cast(BaseException, task.exception())
        in_flight[lane] = asyncio.ensure_future(storage.add_schedule(pending[lane], now))
        pending[lane] = []

    try:
        for participant_id, start in participants:
            if start not in plans:
                plans[start] = plan_records(programme, start)
            lane = participant_id % LANES
            pending[lane] += [(participant_id, record) for record in plans[start]]
            if len(pending[lane]) >= chunk:
                await hand_on(lane)
        for lane in range(LANES):
            if pending[lane]:
                await hand_on(lane)
        for lane in list(in_flight):
            written += await in_flight.pop(lane)
    finally:  # a chunk failed: let the other lane's end rather than leave it unawaited
        await asyncio.gather(*in_flight.values(), return_exceptions=True)
    if written >= chunk:  # more than a few people: the table changed a lot at once
        await storage.after_bulk_plan()
    return written


def _order(row: ScheduleRow) -> tuple[datetime, int, int]:
    """The order a batch is handled in: by due time; at the same time an expiry first, then `KIND_ORDER`."""
    rank = -1 if row.kind == timers.RUN_EXPIRY else KIND_ORDER.get(row.kind, len(KIND_ORDER))
    return row.due_at, rank, row.id


UNLINKED = "unlinked"  # what `ChannelFor` answers for someone enrolled whose invite link is not opened yet


def address_channel(storage: Storage) -> ChannelFor:
    """The channel a participant is reached on: their active Telegram chat, else their active phone; None when
    every address opted out or refuses; UNLINKED when they have none yet (a Telegram invite not yet opened)."""

    async def channel_for(participant: Participant) -> str | None:
        addresses = await storage.addresses(participant.id)
        for channel in PREFERRED_CHANNELS:
            if any(a.channel == channel and a.status is AddressStatus.ACTIVE for a in addresses):
                return channel
        return UNLINKED if not addresses else None

    return channel_for


class ProgrammeScheduler:
    def __init__(self, storage: Storage, loop: ConversationLoop, clock: Clock, channel_for: ChannelFor,
                 batch: int = BATCH, lease: timedelta = LEASE) -> None:
        self.storage = storage
        self.loop = loop
        self.clock = clock
        self.channel_for = channel_for
        self.batch = batch
        self.lease = lease
        self._ticker: AsyncIOScheduler | None = None

    async def tick(self) -> TickReport:
        """Handle everything due now, batch by batch: at the same due time an expiry first (the run it closes is
        not open when a new questionnaire starts), then the programme's events in `KIND_ORDER`."""
        report = TickReport()
        now = self.clock.now()  # what is due is decided once per tick; each batch's lease from its own start
        for _ in range(MAX_BATCHES):  # until nothing is due: handling a row may plan another that is due already
            rows = await self.storage.claim_schedule(now, self.batch, self.clock.now() + self.lease)
            if rows:
                crash_point("schedule-claimed")  # claimed, nothing handled: the lease runs out, nothing is lost
            failed: set[int] = set()  # people whose row failed: their later rows wait for it, in order
            for row in sorted(rows, key=_order):
                if row.participant_id in failed:
                    report.waiting += 1  # claimed again with the failed one once the lease runs out
                    continue
                if not await self._handle(row, report):
                    failed.add(row.participant_id)
                crash_point("schedule-committed")  # one row committed with its messages, the rest still claimed
            if not rows:
                return report
        log.warning("programme tick stopped after %s batches; the next tick carries on", MAX_BATCHES)
        return report

    async def _handle(self, row: ScheduleRow, report: TickReport) -> bool:
        """Handle one claimed row; False if it failed (it stays claimed until its lease runs out)."""
        try:
            participant = await self.storage.participant(row.participant_id)
            if participant is None:  # erased with their rows in between: nothing left to do
                return True
            if row.kind == timers.RUN_EXPIRY:  # an expiry says nothing, so it needs no channel
                handled = await self.loop.handle(participant, timers.fired(row), "none", schedule_id=row.id)
            else:
                handled = await self._due(participant, row)
        except Exception:  # one participant's failure must not stop everyone else's reminders
            log.exception("scheduled event %s (%s) failed; it is retried after its lease", row.id, row.kind)
            report.failed += 1
            return False
        if handled.status is CommitStatus.DUPLICATE:
            report.duplicates += 1
        elif row.kind == timers.RUN_EXPIRY:
            report.timers += 1
        else:
            report.handled += 1
        return True

    async def _due(self, participant: Participant, row: ScheduleRow) -> Handled:
        """A programme event: the engine is told whether the participant can be reached, and where."""
        channel = await self.channel_for(participant)
        reach = "unreachable" if channel is None else "unlinked" if channel == UNLINKED else "ok"
        data = dict(row.data)
        if row.kind == Kind.TRE_SUMMARY:  # the engine keeps no history: tell it whether there is a week to sum up
            data["logged"] = await self._sessions_this_week(participant.id, str(data.get("flow", TRE_FLOW)))
        due = Due(row.key, row.kind, row.due_at, data, reach=reach)
        return await self.loop.handle(participant, due, channel if channel and reach == "ok" else "none",
                                      schedule_id=row.id)

    async def _sessions_this_week(self, participant_id: int, flow_id: str) -> int:
        return len(in_week(await tre_sessions(self.storage, participant_id, flow_id), self.clock.now()))

    def start(self, every_seconds: float = 30.0) -> None:
        """Tick every `every_seconds` in the running event loop (never two ticks at once; a late one is not
        repeated: the schedule table, not the ticker, remembers what is due)."""
        ticker = AsyncIOScheduler(timezone="UTC")
        ticker.add_job(self._safe_tick, "interval", seconds=every_seconds, max_instances=1, coalesce=True,
                       next_run_time=datetime.now().astimezone(), id="programme-tick")
        ticker.start()
        self._ticker = ticker

    async def _safe_tick(self) -> None:
        try:
            report = await self.tick()
        except Exception:
            log.exception("programme tick failed; the next tick tries again")
            return
        if report.handled or report.timers or report.failed:
            log.info("programme tick: %s", report)

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.shutdown(wait=False)
            self._ticker = None
