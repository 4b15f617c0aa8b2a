"""The one dispatcher's rules with a scripted channel on a real SQLite file: what goes first, each person's order,
free slots, paced recipients, and what the retry policy does with failures (issue 11, points 5 and 6)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.channels.base import Delivery, Failed, NotYet, Sent
from bot.channels.pacing import PriorityPacer
from bot.clock import FakeClock
from bot.delivery_policy import DeliveryPolicy, read_delivery
from bot.deployment import DEFAULT_PATH, DeploymentError, load_deployment
from bot.dispatcher import Dispatcher
from storage import open_storage
from storage.ports import Storage
from storage.records import Enrollment, OutboundRecord, OutboxRow, Priority, StepRecord
from tests.conftest import T0

URGENT, REPLY, ROUTINE = Priority.URGENT, Priority.REPLY, Priority.ROUTINE


async def until(condition: Callable[[], Any], timeout: float = 30.0) -> None:
    """Wait for the dispatcher to get there; the timeout only bounds a failing test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the dispatcher did not get there in time")
        await asyncio.sleep(0.005)


class ScriptedChannel:
    """Delivers what it is handed, with outcomes a test scripts per row; `hold` keeps sends in flight."""

    name = "sms"

    def __init__(self) -> None:
        self.handed: list[int] = []
        self.outcomes: dict[int, list[Delivery | Exception]] = {}
        self.hold = asyncio.Event()
        self.hold.set()
        self.in_flight: dict[int, int] = {}  # participant id -> sends in flight now
        self.most_in_flight_for_one_person = 0

    async def deliver(self, row: OutboxRow) -> Delivery:
        self.handed.append(row.id)
        self.in_flight[row.participant_id] = self.in_flight.get(row.participant_id, 0) + 1
        self.most_in_flight_for_one_person = max(self.most_in_flight_for_one_person,
                                                 self.in_flight[row.participant_id])
        try:
            await self.hold.wait()
            planned = self.outcomes.get(row.id)
            outcome = planned.pop(0) if planned else Sent(f"id-{row.id}")
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        finally:
            self.in_flight[row.participant_id] -= 1


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = await open_storage(tmp_path / "bot.db")
    try:
        yield store
    finally:
        await store.close()


async def people(storage: Storage, count: int) -> list[int]:
    return [(await storage.enroll(Enrollment(f"p-{i}", "N", "da", phone=f"+452000{i:04d}"), T0)).id
            for i in range(count)]


async def queue(storage: Storage, pid: int, *priorities: Priority) -> tuple[int, ...]:
    revision = (await storage.load_conversation(pid)).revision
    outbox = [OutboundRecord("sms", {"text": f"{p.name} {i}"}, T0, p) for i, p in enumerate(priorities)]
    return (await storage.commit_step(StepRecord(pid, revision, {}, T0, outbox=outbox))).outbox_ids


async def test_each_persons_messages_go_one_at_a_time_most_urgent_first(storage: Storage) -> None:
    anna, bo = await people(storage, 2)
    a1, a2 = await queue(storage, anna, ROUTINE, ROUTINE)
    b1, b2 = await queue(storage, bo, ROUTINE, ROUTINE)
    (a_reply,) = await queue(storage, anna, REPLY)
    (b_crisis,) = await queue(storage, bo, URGENT)
    channel = ScriptedChannel()
    sent = await Dispatcher(storage, FakeClock(T0), channel, concurrency=8).deliver_pending()
    assert sent == 6
    assert [i for i in channel.handed if i in (a1, a2, a_reply)] == [a_reply, a1, a2]
    assert [i for i in channel.handed if i in (b1, b2, b_crisis)] == [b_crisis, b1, b2]
    assert channel.handed[:2] == [b_crisis, a_reply]  # the first look starts each person's most urgent
    assert channel.most_in_flight_for_one_person == 1
    assert await storage.pending_outbox("sms", now=T0) == []


async def test_an_urgent_row_never_waits_for_a_free_slot(storage: Storage) -> None:
    pids = await people(storage, 4)
    routine = [(await queue(storage, pid, ROUTINE))[0] for pid in pids[:3]]
    channel = ScriptedChannel()
    channel.hold.clear()  # every send stays in flight until the test lets go
    dispatcher = Dispatcher(storage, FakeClock(T0), channel, concurrency=2)
    task = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: len(channel.handed) == 2)
        (crisis,) = await queue(storage, pids[3], URGENT)
        dispatcher.wake()
        await until(lambda: crisis in channel.handed)
        assert channel.handed == [*routine[:2], crisis]  # both slots taken, and it started anyway
        channel.hold.set()
        await until(lambda: len(channel.handed) == 4)
        assert channel.handed[-1] == routine[2]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_under_a_budget_ordinary_rows_wait_for_a_few_free_slots_and_a_crisis_reply_never(
        storage: Storage) -> None:
    pids = await people(storage, 32)
    for pid in pids[:29]:
        await queue(storage, pid, ROUTINE)
    channel = ScriptedChannel()
    channel.hold.clear()  # every send stays in flight (waiting for the carrier's budget) until the test lets go
    dispatcher = Dispatcher(storage, FakeClock(T0), channel, concurrency=32)  # Telegram's 30 a second: 32
    task = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: len(channel.handed) == 29)
        waiting = [(await queue(storage, pid, REPLY))[0] for pid in pids[29:31]]  # 3 slots free: not enough
        (crisis,) = await queue(storage, pids[31], URGENT)
        dispatcher.wake()
        await until(lambda: crisis in channel.handed)  # the look that started it saw the replies, and left them
        assert not set(waiting) & set(channel.handed)
        channel.hold.set()  # the sends in flight end: the replies go
        await until(lambda: set(waiting) <= set(channel.handed))
        assert len(channel.handed) == 32
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_crisis_reply_overtakes_the_persons_message_still_waiting_for_the_carrier(storage: Storage) -> None:
    [anna] = await people(storage, 1)
    question, later = await queue(storage, anna, REPLY, ROUTINE)
    channel = ScriptedChannel()
    channel.hold.clear()  # the question waits for the carrier's budget
    dispatcher = Dispatcher(storage, FakeClock(T0), channel)
    task = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: channel.handed == [question])
        (crisis,) = await queue(storage, anna, URGENT)
        dispatcher.wake()
        await until(lambda: crisis in channel.handed)  # it does not wait for the question to be out
        assert channel.handed == [question, crisis] and channel.in_flight[anna] == 2
        channel.hold.set()
        await until(lambda: later in channel.handed)
        assert channel.handed == [question, crisis, later]  # the rest waits for both, in order
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_dispatcher_stops_when_cancelled_as_a_wake_up_comes(storage: Storage) -> None:
    """Shutting down as a send finishes: the wake-up and the cancellation arrive together. With `asyncio.wait_for`
    (Python 3.11) the cancellation was lost and the dispatcher ran on, so the bot never stopped (a CI run hung)."""
    for _ in range(20):
        dispatcher = Dispatcher(storage, FakeClock(T0), ScriptedChannel())
        task = asyncio.create_task(dispatcher.run())
        await asyncio.sleep(0.05)  # it has looked (an empty outbox) and waits for a wake-up
        dispatcher.wake()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        assert done, "the dispatcher ignored its cancellation"


async def test_a_stop_lets_the_sends_in_flight_end_recorded_and_starts_nothing_more(storage: Storage) -> None:
    """A send cancelled on its way may have reached the carrier; given back unrecorded, it would go again at the next
    start. `finish` waits for it, and starts nothing new meanwhile (that waits in the outbox for the next start)."""
    anna, bo = await people(storage, 2)
    (first,) = await queue(storage, anna, REPLY)
    channel = ScriptedChannel()
    channel.hold.clear()  # on its way to the carrier
    dispatcher = Dispatcher(storage, FakeClock(T0), channel)
    task = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: channel.handed == [first])
        finishing = asyncio.create_task(dispatcher.finish())
        (later,) = await queue(storage, bo, REPLY)  # committed as the stop begins
        dispatcher.wake()
        await asyncio.sleep(0.1)  # time for a look
        assert not finishing.done()  # it waits for the send in flight
        channel.hold.set()
        await finishing
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert channel.handed == [first]  # nothing started after the stop began
    assert [row.id for row in await storage.pending_outbox("sms", now=T0)] == [later]  # the first recorded as sent
    task = asyncio.create_task(dispatcher.run())  # started again (a channel's stop, then start): it sends again
    try:
        await until(lambda: channel.handed == [first, later])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_paced_recipient_waits_in_memory_and_keeps_their_order(storage: Storage) -> None:
    anna, bo = await people(storage, 2)
    a1, a2 = await queue(storage, anna, REPLY, REPLY)
    (b1,) = await queue(storage, bo, REPLY)
    channel = ScriptedChannel()
    channel.outcomes[a1] = [NotYet(0.05)]  # the channel sent to Anna too recently
    dispatcher = Dispatcher(storage, FakeClock(T0), channel)
    task = asyncio.create_task(dispatcher.run(poll=timedelta(seconds=30)))  # only the rest time wakes it
    try:
        await until(lambda: channel.handed.count(a1) == 2 and a2 in channel.handed)
        assert [i for i in channel.handed if i != b1] == [a1, a1, a2]
        assert b1 in channel.handed[:2]  # Bo was not held up by Anna
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await storage.given_up_messages(anna) == []  # resting is not a failure: nothing recorded
    assert [r.attempts for r in await storage.pending_outbox("sms", now=T0)] == []


async def test_a_long_queue_of_one_paced_person_does_not_hide_the_others(storage: Storage) -> None:
    anna, bo = await people(storage, 2)
    annas = await queue(storage, anna, *[REPLY] * 250)  # more than the dispatcher reads at a time
    (bos,) = await queue(storage, bo, REPLY)
    channel = ScriptedChannel()
    channel.outcomes[annas[0]] = [NotYet(60)]  # Anna's chat may not be sent to for a minute
    dispatcher = Dispatcher(storage, FakeClock(T0), channel)
    task = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: bos in channel.handed)
        assert channel.handed == [annas[0], bos]
        (crisis,) = await queue(storage, anna, URGENT)
        dispatcher.wake()
        await until(lambda: crisis in channel.handed)  # resting or not, the crisis reply is read and goes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_failures_are_retried_by_the_policy_and_refusals_given_up_at_once(storage: Storage) -> None:
    anna, bo, carl = await people(storage, 3)
    (flaky,) = await queue(storage, anna, REPLY)
    (refused,) = await queue(storage, bo, REPLY)
    (crashing,) = await queue(storage, carl, REPLY)
    channel = ScriptedChannel()
    channel.outcomes[flaky] = [Failed("HTTP 503"), Failed("HTTP 503")]
    channel.outcomes[refused] = [Failed("HTTP 400 code 21211", final=True)]
    channel.outcomes[crashing] = [RuntimeError("a bug in a channel")]
    clock = FakeClock(T0)
    dispatcher = Dispatcher(storage, clock, channel)
    assert await dispatcher.deliver_pending() == 0
    [gone] = await storage.given_up_messages(bo)
    assert gone.detail == "HTTP 400 code 21211"
    clock.advance(timedelta(seconds=1))
    assert await dispatcher.deliver_pending() == 0  # back-off: not before 2 s
    clock.advance(timedelta(seconds=1))
    assert await dispatcher.deliver_pending() == 1  # the crashed one, retried like any failure
    clock.advance(timedelta(seconds=4))
    assert await dispatcher.deliver_pending() == 1  # the flaky one, after 2 s and then 4 s
    assert channel.handed.count(flaky) == 3 and channel.handed.count(crashing) == 2


def row(priority: Priority, attempts: int, age: timedelta) -> OutboxRow:
    return OutboxRow(1, 1, "sms", {"text": "x"}, T0 - age, attempts, priority)


def test_crisis_replies_are_retried_for_a_day_with_capped_back_off_and_others_five_times() -> None:
    policy = DeliveryPolicy()
    now = T0
    assert policy.retry_at(row(URGENT, 0, timedelta(0)), now) == now + timedelta(seconds=2)
    assert policy.retry_at(row(URGENT, 5, timedelta(minutes=1)), now) == now + timedelta(seconds=64)
    assert policy.retry_at(row(URGENT, 40, timedelta(hours=3)), now) == now + timedelta(minutes=5)  # the cap
    assert policy.retry_at(row(URGENT, 2, timedelta(0)), now, wait=timedelta(seconds=30)) == now + timedelta(
        seconds=30)  # the provider's Retry-After is respected
    last = row(URGENT, 300, timedelta(hours=23, minutes=58))
    assert policy.retry_at(last, now) == last.created_at + timedelta(hours=24)  # a last try at the end
    assert policy.retry_at(row(URGENT, 301, timedelta(hours=24)), now) is None
    assert [policy.retry_at(row(p, a, timedelta(0)), now) for p in (REPLY, ROUTINE) for a in (0, 3, 4)] == [
        now + timedelta(seconds=2), now + timedelta(seconds=16), None] * 2
    assert DeliveryPolicy(routine_attempts=1).retry_at(row(ROUTINE, 0, timedelta(0)), now) is None


def test_the_delivery_block_is_read_and_checked(tmp_path: Path) -> None:
    shipped = load_deployment().delivery
    assert shipped == DeliveryPolicy()  # the shipped file states the defaults
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace("urgent_retry_hours: 24", "urgent_retry_hours: 48") \
        .replace("urgent_undelivered_minutes: 10", "urgent_undelivered_minutes: 5")
    path = tmp_path / "deployment.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_deployment(path).delivery
    assert (policy.urgent_retry, policy.urgent_undelivered_after) == (timedelta(hours=48), timedelta(minutes=5))
    broken = DEFAULT_PATH.read_text(encoding="utf-8").replace("urgent_retry_hours: 24", "urgent_retry_hours: 6") \
        .replace("routine_attempts: 5", "routine_attempts: many\n  retry_forever: true")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path)
    message = str(caught.value)
    assert "urgent_retry_hours must be a whole number from 24 to 168 hours" in message
    assert "routine_attempts must be a whole number from 1 to 20" in message
    assert "unknown key 'retry_forever' in delivery" in message
    errors: list[str] = []
    assert read_delivery(None, 1, lambda line, text: errors.append(text)) == DeliveryPolicy() and not errors


async def test_the_pacer_serves_the_most_urgent_waiter_first() -> None:
    pacer = PriorityPacer(rate=50)  # one unit every 20 ms
    granted: list[str] = []

    async def take(name: str, priority: Priority) -> None:
        await pacer.take(1, priority)
        granted.append(name)

    routine = [asyncio.create_task(take(f"reminder {i}", ROUTINE)) for i in range(4)]
    await asyncio.sleep(0)  # the first reminder has the budget now; three wait
    urgent = asyncio.create_task(take("crisis", URGENT))
    reply = asyncio.create_task(take("reply", REPLY))
    await asyncio.gather(*routine, urgent, reply)
    assert granted == ["reminder 0", "crisis", "reply", "reminder 1", "reminder 2", "reminder 3"]

