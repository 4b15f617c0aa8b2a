"""The one dispatcher: hands committed outbox rows to their channel, most urgent first, and records the outcome.

Every channel (SMS, Telegram, the console) is sent by an instance of `Dispatcher`, and a channel only delivers one
message (bot/channels/base.py). The rules, the same for all:

- **What goes first.** Rows are taken in sending order: `Priority` (crisis replies; replies to what a participant
  just wrote; scheduled and bulk messages), then oldest first (storage/sql/outbox.py: `pending_outbox`).
- **Each person's order.** Only a person's first row in sending order may start, and one at a time, so their
  messages arrive in that order. The one exception is the point of priorities: a crisis reply starts even while
  one of the person's ordinary messages is still waiting for the carrier's budget (where it then goes first). A
  row that is deferred (a retry, a rate limit) holds back everything after it in their order (storage), and a
  recipient the channel is pacing (`NotYet`, not for a crisis reply) waits in memory.
- **The carriers' limits.** At most `concurrency` ordinary messages are in flight at once; the channel's own pacer
  (bot/channels/pacing.py) keeps its rate and serves the most urgent first. An urgent row never waits for a free
  slot: it starts at once and takes the next grant of the pacer, so it waits for one send at most, not for the
  queue in front of it.
- **One message for several.** A channel that can join messages (`Joiner`: Telegram) is offered, with a person's
  first ordinary row, their next rows of the same priority that are ready; what it joins is recorded as sent with
  it. A crisis reply is never joined.
- **Retries.** A failure is tried again with back-off, or given up, by the deployment's `DeliveryPolicy` (crisis
  replies for at least a day); what is given up is recorded with its reason, for the coach (bot/overview.py) and,
  for a crisis reply, the coach on duty (bot/undelivered.py).

- **Several processes.** On PostgreSQL several `bot run` processes send from one outbox: a row is claimed with a
  lease before it starts (storage/sql/outbox_claims.py: only if every row before it in the person's order is
  claimed by this dispatcher too, so two processes never send one person's messages at once), and recording its
  outcome ends the lease. A process that dies leaves its rows to the others once their lease (`LEASE`) runs out.

New rows wake the dispatcher at once (`wake`, called by the conversation loop after each commit with messages);
otherwise it looks every `poll` for rows whose retry time has come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta

from bot.channels.base import Channel, Deliverer, Delivery, Failed, Joiner, NotYet, Sent
from bot.clock import Clock
from bot.delivery_policy import DeliveryPolicy
from storage.ports import Outbox
from storage.records import OutboxRow, Priority

log = logging.getLogger(__name__)
WINDOW = 200  # rows read per look at most
# rows read per free slot (and one slot more, for urgent rows): a person's next rows come along (to be joined, or
# skipped), and a few to spare. Reading only what can start matters under a carrier's limit: then every slot is
# taken nearly all the time and the outbox has a backlog, and reading 200 rows at each of the several looks a send
# (its completion, and every commit wakes it) cost more CPU than everything else the bot did (benchmarks/telegram.py)
ROWS_PER_SLOT = 8
# Ordinary rows are read once this many slots are free (at most an eighth of them): under a carrier's budget the
# slots free one at a time, at its pace, and reading a window of rows for each was most of the bot's CPU under
# Telegram's limit; the rows would wait for the pacer anyway, behind the sends holding the other slots.
FREE_TO_READ = 4
# The least time between two looks of the running dispatcher. Each look reads the outbox (and claims): woken by every
# commit and every finished send, it looked about twice per message under load, a fifth of the bot's CPU on Telegram
# with the limits off. A few milliseconds more before a message starts is nothing to the person; a look that takes
# ten rows instead of one is a fifth of the CPU back.
LOOK_EVERY = 0.01
# How long a claimed row is held: longer than any send takes (the channels' timeouts are seconds), short enough that
# another process soon sends what a dead one had claimed. A dispatcher that stops gives its unsent rows back at once.
LEASE = timedelta(minutes=2)


def new_claimer() -> str:
    """This dispatcher's name on its leases: the host and process (for people reading the table), and a random part
    (two dispatchers are never one claimer)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Dispatcher:
    def __init__(self, storage: Outbox, clock: Clock, channel: Deliverer, policy: DeliveryPolicy | None = None, *,
                 concurrency: int = 4, on_handed: Callable[[OutboxRow], None] | None = None) -> None:
        self.storage = storage
        self.clock = clock
        self.channel = channel
        self.policy = policy or DeliveryPolicy()
        self.concurrency = max(1, concurrency)
        self.on_handed = on_handed  # told of each row as it is handed to the channel (benchmarks measure it)
        self.wakeup = asyncio.Event()
        self.sent = 0  # rows delivered since the start
        # (participant id, urgent?) -> their row being delivered: one ordinary and one urgent at most
        self._busy: dict[tuple[int, bool], asyncio.Task[None]] = {}
        self._urgent_busy = 0
        self._resting: dict[int, float] = {}  # participant id -> monotonic time the channel may send to them again
        self._finished: set[int] = set()  # rows finished while the current look read the outbox
        self._looking = asyncio.Lock()  # one look at a time, or two could start one row twice
        self._finishing = False  # `finish` was called: nothing more starts
        self.claimer = new_claimer()
        self.lease = LEASE  # how long a claim holds its rows (tests/process_worker.py shortens it)

    def wake(self) -> None:
        """Something may be ready to send (a clock moved on in a test, an address usable again)."""
        self.wakeup.set()

    def wake_for(self, channels: Collection[str]) -> None:
        """A step was committed with messages on these channels (`ConversationLoop.outbox_listeners`)."""
        if self.channel.name in channels:
            self.wakeup.set()

    async def run(self, poll: timedelta = timedelta(seconds=1)) -> None:
        """The dispatcher task: start what may go, then wait for a wake-up, a finished send, a rested recipient or
        the next poll. Cancel it to stop (sends in flight are cancelled with it: call `finish` first). Running it
        again after a stop sends again."""
        self._finishing = False
        try:
            while True:
                self.wakeup.clear()
                ready_at = None
                looked = time.monotonic()
                try:
                    ready_at = await self._look()
                except Exception:
                    log.exception("%s dispatcher failed; retrying", self.channel.name)
                timeout = poll.total_seconds()
                if ready_at is not None:
                    timeout = min(timeout, max(0.0, ready_at - time.monotonic()))
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that comes as the
                # wake-up does (a send finishing as the bot shuts down), and the dispatcher would never stop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self.wakeup.wait()
                # under load, wake-ups (each commit, each finished send) come faster than looks are worth: what
                # comes within LOOK_EVERY of the last look is taken by one look, not one each
                await asyncio.sleep(max(0.0, looked + LOOK_EVERY - time.monotonic()))
        finally:  # sends in flight end with it, and are waited for: none is left to touch storage afterwards
            in_flight = list(self._busy.values())
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def finish(self, within: float = 10.0) -> None:
        """Start nothing more (until `run` starts again), and wait up to `within` seconds for the sends in flight to
        end with their outcomes recorded. A stop calls it before cancelling `run`: a send cancelled on its way may
        already have reached the carrier, and its row, given back unrecorded, would be sent again at the next start.
        What has not started stays in the outbox for then."""
        async with self._looking:  # a look under way first starts what it chose: those are waited for too
            self._finishing = True
        in_flight = list(self._busy.values())
        if in_flight:
            await asyncio.wait(in_flight, timeout=within)

    async def deliver_pending(self) -> int:
        """Send everything that may go now and wait until it is done (the console after each line, and tests).
        Returns how many rows were delivered meanwhile."""
        before = self.sent
        while True:
            await self._look()
            if not self._busy:
                return self.sent - before
            await asyncio.wait(list(self._busy.values()))

    async def _look(self) -> float | None:
        """Start every row that may go now; returns when the earliest resting recipient may be sent to, if any."""
        async with self._looking:
            if self._finishing:
                return None
            self._finished.clear()
            now = time.monotonic()
            self._resting = {person: at for person, at in self._resting.items() if at > now}
            # those we cannot send an ordinary message to now would only fill the window (a person with a long
            # queue, a chat paced for a second): of theirs, only urgent rows are read
            waiting = {person for person, _ in self._busy} | set(self._resting)
            ordinary = len(self._busy) - self._urgent_busy
            free = self.concurrency - ordinary
            enough = min(FREE_TO_READ, max(1, self.concurrency // 8))
            at = self.clock.now()
            # no slot free (or too few, FREE_TO_READ): nothing ordinary can start, so only crisis replies are read (a
            # carrier's budget keeps every slot taken while a backlog waits, and reading ordinary rows at each look
            # was a tenth of the bot's CPU under Telegram's limit: benchmarks/telegram.py --profile)
            rows = await self.storage.claimable_outbox(self.channel.name, self.claimer,
                                                       min(WINDOW, ROWS_PER_SLOT * (max(free, 0) + 1)), at,
                                                       only_urgent_for=waiting, urgent_only=free < enough)
            following = _following(rows) if isinstance(self.channel, Joiner) else {}
            seen: set[int] = set()
            chosen: list[tuple[OutboxRow, bool, Sequence[OutboxRow]]] = []
            for row in rows:
                person, urgent = row.participant_id, row.priority is Priority.URGENT
                if person in seen:
                    continue
                seen.add(person)  # only a person's first row in sending order may go
                if (person, True) in self._busy or row.id in self._finished:  # finished while we read: look again
                    continue
                if not urgent and ((person, False) in self._busy or person in self._resting):
                    continue  # a crisis reply overtakes the person's ordinary message in flight, and their pace
                if not urgent and ordinary >= self.concurrency:
                    break  # every slot is taken, and the rest are not urgent (sending order)
                ordinary += not urgent
                chosen.append((row, urgent, () if urgent else following.get(person, ())))
            if chosen:  # what another process holds, or took meanwhile, is left to it
                wanted = [r.id for row, _, joined in chosen for r in (row, *joined)]
                claimed = set(await self.storage.claim_outbox(self.channel.name, self.claimer, wanted, at,
                                                              at + self.lease))
                for row, urgent, joined in chosen:
                    if row.id in claimed:  # a person's claimed rows are the first of theirs: `joined` stays in order
                        self._start(row, urgent, [r for r in joined if r.id in claimed])
            return min(self._resting.values(), default=None)

    def _start(self, row: OutboxRow, urgent: bool, following: Sequence[OutboxRow] = ()) -> None:
        if self.on_handed is not None:
            self.on_handed(row)
        task = asyncio.create_task(self._deliver(row, following), name=f"{self.channel.name}-outbox-{row.id}")
        self._busy[(row.participant_id, urgent)] = task
        self._urgent_busy += urgent

        def done(_: asyncio.Task[None]) -> None:
            self._busy.pop((row.participant_id, urgent), None)
            self._urgent_busy -= urgent
            self._finished.update([row.id, *(r.id for r in following)])
            self.wakeup.set()

        task.add_done_callback(done)

    async def _deliver(self, row: OutboxRow, following: Sequence[OutboxRow] = ()) -> None:
        rows = [row, *following]
        outcomes: Sequence[Delivery]
        try:
            if following and isinstance(self.channel, Joiner):
                outcomes = (await self.channel.deliver_joined(rows))[:len(rows)] or (Failed("nothing sent"),)
            else:
                outcomes = (await self.channel.deliver(row),)
        except asyncio.CancelledError:  # stopping: the rows go back to the queue now, not when the lease runs out
            await self._give_back(rows)
            raise
        except Exception as exc:  # a bug or a failure the channel did not expect: retried like any failure
            log.exception("%s outbox row %s could not be delivered", self.channel.name, row.id)
            outcomes = (Failed(type(exc).__name__),)
        recording = asyncio.ensure_future(self._record_all(rows, outcomes))
        try:
            await asyncio.shield(recording)
        except asyncio.CancelledError:  # stopping: what the carrier said is a fact, recorded first (else: sent twice)
            await recording
            raise

    async def _record_all(self, rows: Sequence[OutboxRow], outcomes: Sequence[Delivery]) -> None:
        for sent, outcome in zip(rows, outcomes, strict=False):
            try:
                await self._record(sent, outcome)
            except Exception:  # not recorded: the row stays unsent and is tried again (at least once)
                log.exception("%s outbox row %s: the outcome could not be stored", self.channel.name, sent.id)

    async def _give_back(self, rows: Sequence[OutboxRow]) -> None:
        """End this dispatcher's lease on rows it will not send (a lease that ends now frees them)."""
        now = self.clock.now()
        try:
            await self.storage.claim_outbox(self.channel.name, self.claimer, [r.id for r in rows], now, now)
        except Exception:  # the lease runs out by itself
            log.warning("%s dispatcher could not give back %s claimed row(s)", self.channel.name, len(rows))

    async def _record(self, row: OutboxRow, outcome: Delivery) -> None:
        now = self.clock.now()
        if isinstance(outcome, Sent):
            await self.storage.mark_delivery(row.id, outcome.provider_id, "sent", now)
            self.sent += 1
        elif isinstance(outcome, NotYet):
            self._resting[row.participant_id] = time.monotonic() + outcome.seconds
        else:
            retry_at = None if outcome.final else self.policy.retry_at(row, now, outcome.wait)
            if retry_at is not None:
                log.warning("%s outbox row %s (priority %s): %s; retrying at %s", row.channel, row.id,
                            row.priority.name, outcome.detail, retry_at.isoformat(timespec="seconds"))
                await self.storage.defer_outbox(row.id, retry_at, now, outcome.detail)
                return
            log.error("%s outbox row %s (priority %s) given up after %s attempts: %s", row.channel, row.id,
                      row.priority.name, row.attempts + 1, outcome.detail)
            await self.storage.give_up_outbox(row.id, now, outcome.detail)


def _following(rows: Sequence[OutboxRow]) -> dict[int, list[OutboxRow]]:
    """Each person's rows after their first one in `rows` (sending order) with the same priority, not urgent: what
    may be joined to it."""
    first: dict[int, OutboxRow] = {}
    following: dict[int, list[OutboxRow]] = {}
    for row in rows:
        head = first.setdefault(row.participant_id, row)
        if head is not row and row.priority is head.priority and row.priority is not Priority.URGENT:
            following.setdefault(row.participant_id, []).append(row)
    return following


class SendOnly:
    """A simple channel (`send` raises on failure) as a `Deliverer`."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.name = channel.name

    async def deliver(self, row: OutboxRow) -> Delivery:
        try:
            await self.channel.send(row)
        except Exception as exc:
            log.warning("%s outbox row %s: %s; will retry", self.name, row.id, type(exc).__name__)
            return Failed(type(exc).__name__)
        return Sent()


async def deliver_pending(storage: Outbox, channel: Channel, clock: Clock,
                          policy: DeliveryPolicy | None = None) -> int:
    """Send every unsent message of a simple channel now (the console after each line); returns how many."""
    return await Dispatcher(storage, clock, SendOnly(channel), policy, concurrency=1).deliver_pending()
