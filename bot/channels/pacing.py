"""A carrier's send limit shared by everything that sends on it, handed out most urgent first.

Twilio takes a number's messages at so many segments a second; Telegram takes about 30 requests a second from a
bot. Everything sent on a channel draws on that one budget: the dispatcher's outbox messages, coach alerts (which
do not go through the outbox, docs/architecture.md). If each waited in its own queue, or first come first served,
a crisis reply could wait behind a burst of reminders that asked first.
`PriorityPacer` serves waiters by `Priority` and then by arrival, so an urgent send waits at most for the send
that holds the budget now.

On Telegram a request with a chat (messages, edits) takes one unit at its priority (`paced`): the messages' own
requests (bot/channels/telegram_api.py) pass it directly; `PriorityRateLimiter` puts the requests made through
python-telegram-bot's `Bot` (coach alerts, menus) on the same pacer, in place of PTB's `AIORateLimiter`, which serves
waiters in no order we control, with the priority passed as `rate_limit_args=by_priority(priority)`, REPLY when none
is given. (The priority travels by name: PTB drops a falsy `rate_limit_args`, and URGENT is 0.)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from storage.records import Priority

T = TypeVar("T")
SLOW_ANSWER_S = 0.3  # how long a carrier takes to answer a send on a slow day
AT_LEAST_IN_FLIGHT = 32


def in_flight_for(rate: float, unlimited: int) -> int:
    """How many ordinary messages a dispatcher keeps in flight on a budget of `rate` sends a second: enough to use
    the whole budget even when the carrier answers slowly, and at least 32 so that the replies to a batch of
    messages go out together (Telegram's 30 a second: 32). The cap keeps a burst from queueing in front of the pacer;
    with no budget (`rate` 0, a diagnostic) there is no such queue, and `unlimited` may be in flight (Telegram: one
    reply per update in hand). Measured with the limits off (benchmarks/telegram.py, K = 1,000, alternate runs): 32 in
    flight gave 454-540 updates/s and 1.8-2.2 ms of CPU per update, 256 gave 574-645 and 1.5-1.6 ms. With 32, a
    burst's welcome messages went out at 150 a second, each slot held until its "sent" was committed."""
    if rate <= 0:
        return unlimited
    return max(AT_LEAST_IN_FLIGHT, math.ceil(rate * SLOW_ANSWER_S))


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    cost: float = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class PriorityPacer:
    """At most `rate` units (SMS segments, Telegram requests) a second, spread evenly: a grant of `cost` units
    keeps the next grant `cost / rate` seconds later. `rate <= 0` means no limit."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0  # time.monotonic() from which the next grant may start
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def take(self, cost: float, priority: Priority = Priority.REPLY) -> None:
        """Wait until `cost` units may be spent now. A cancelled wait takes nothing."""
        if self.rate <= 0:
            return
        waiter = _Waiter(int(priority), next(self._seq), cost, asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, waiter)
        if self._timer is None:
            self._serve()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._give_back(waiter.cost)  # granted just as it was cancelled: nothing was sent
            raise

    def pause(self, wait: timedelta) -> None:
        """The carrier said to wait (Telegram's 429): nothing more is granted before then."""
        self._next = max(self._next, time.monotonic() + wait.total_seconds())

    def _give_back(self, cost: float) -> None:
        self._next -= cost / self.rate

    def _serve(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._waiting:
            head = self._waiting[0]
            if head.granted.done():  # cancelled while waiting
                heapq.heappop(self._waiting)
                continue
            if self._next > now:
                self._timer = asyncio.get_running_loop().call_later(self._next - now, self._serve)
                return
            heapq.heappop(self._waiting)
            self._next = max(now, self._next) + head.cost / self.rate
            head.granted.set_result(None)


def retry_wait(exc: RetryAfter) -> timedelta:
    """How long Telegram asked to wait (PTB gives seconds or, with PTB_TIMEDELTA, a timedelta)."""
    return exc.retry_after if isinstance(exc.retry_after, timedelta) else timedelta(seconds=exc.retry_after)


async def paced(pacer: PriorityPacer, call: Callable[[], Awaitable[T]], priority: Priority | None) -> T:
    """Make a Telegram request on the pacer's budget: one unit at `priority` (None: a request Telegram does not count,
    without a chat). A 429 (RetryAfter) pauses every request for the time Telegram asks and is raised to the caller
    (the dispatcher defers the message)."""
    if priority is not None:
        await pacer.take(1, priority)
    try:
        return await call()
    except RetryAfter as exc:
        pacer.pause(retry_wait(exc))
        raise


def by_priority(priority: Priority) -> str:
    """The `rate_limit_args` of a Telegram request sent at this priority."""
    return priority.name


class PriorityRateLimiter(BaseRateLimiter[str]):
    """python-telegram-bot's rate limiter seam, on a `PriorityPacer` (`paced`), for the requests made through PTB's
    `Bot` (menus, coach alerts); a message's own requests go through bot/channels/telegram_api.py on the same pacer."""

    def __init__(self, pacer: PriorityPacer) -> None:
        self.pacer = pacer

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[Any]]],
                              args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: str | None) -> bool | dict[str, Any] | list[Any]:
        counted = data.get("chat_id") is not None  # what Telegram counts: messages and edits (not getUpdates, getMe)
        priority = (Priority[rate_limit_args] if rate_limit_args else Priority.REPLY) if counted else None
        return await paced(self.pacer, lambda: callback(*args, **kwargs), priority)
