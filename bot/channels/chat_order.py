"""Polled updates: each chat's in the order they came, different chats' at the same time.

python-telegram-bot's `Application` handles polled updates one after another unless told otherwise, and its
concurrent mode (`concurrent_updates`) keeps no order within a chat. One at a time makes every answer its own
database transaction (one fsync each) and its own send: the bot then does a hundredth of what it could with the
updates of one `getUpdates` (up to 100 at a time). With `ChatOrder`, the handler hands each update over and returns;
the steps of different people are committed together (storage/sql/batcher.py) and their replies sent together
(bot/dispatcher.py), while a person's second message still waits for their first to be done.

A bound (`limit` updates in hand) makes the poller wait rather than hold an unbounded backlog in memory. Nothing is
acknowledged sooner than before: the poller confirms updates when it fetches the next batch, whether they are done
or not (polling is for development; production takes webhooks, answered after the step is stored).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)


class ChatOrder:
    """Runs work for the same key one after another, in the order submitted, and for different keys at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._slots = asyncio.Semaphore(limit)
        self._last: dict[Hashable, asyncio.Future[None]] = {}  # per key: done when its latest work is done
        self._running: set[asyncio.Task[None]] = set()

    @property
    def in_hand(self) -> int:
        return len(self._running)

    async def submit(self, key: Hashable, work: Callable[[], Awaitable[None]]) -> None:
        """Queue `work` behind the key's earlier work; returns once it is queued (waits only while `limit` are in
        hand). Its failure is logged here: nobody awaits it."""
        await self._slots.acquire()
        before = self._last.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = done  # set before any await: the next submit for this key finds it
        task = asyncio.create_task(self._run(key, before, done, work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, key: Hashable, before: asyncio.Future[None] | None, done: asyncio.Future[None],
                   work: Callable[[], Awaitable[None]]) -> None:
        try:
            if before is not None:
                await asyncio.wait({before})  # its outcome is its own: a failure there does not stop this
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a Telegram update could not be processed")
        finally:
            done.set_result(None)
            if self._last.get(key) is done:
                del self._last[key]
            self._slots.release()

    async def drain(self) -> None:
        """Wait for everything in hand (before stopping, and in tests)."""
        while self._running:
            await asyncio.wait(set(self._running))

    def cancel(self) -> None:
        for task in list(self._running):
            task.cancel()
