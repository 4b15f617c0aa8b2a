"""Polled Telegram updates (bot/channels/chat_order.py): one chat's in the order they came, different chats' at once,
a bounded number in hand, and one that fails does not stop the ones after it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from bot.channels.chat_order import ChatOrder


async def test_a_chat_s_updates_run_in_order_while_other_chats_go_meanwhile() -> None:
    order = ChatOrder(limit=10)
    log: list[str] = []
    first_may_end = asyncio.Event()

    def work(name: str, wait: asyncio.Event | None = None) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            log.append(f"{name} begins")
            if wait is not None:
                await wait.wait()
            await asyncio.sleep(0)
            log.append(f"{name} ends")
        return run

    await order.submit("anna", work("anna 1", first_may_end))
    await order.submit("anna", work("anna 2"))
    await order.submit("bo", work("bo 1"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == ["anna 1 begins", "bo 1 begins", "bo 1 ends"]  # Bo does not wait for Anna; Anna's second does
    first_may_end.set()
    await order.drain()
    assert log[3:] == ["anna 1 ends", "anna 2 begins", "anna 2 ends"]
    assert order.in_hand == 0


async def test_the_poller_waits_while_the_limit_is_in_hand() -> None:
    order = ChatOrder(limit=2)
    release = asyncio.Event()

    async def held() -> None:
        await release.wait()

    await order.submit(1, held)
    await order.submit(2, held)
    third = asyncio.create_task(order.submit(3, held))
    await asyncio.sleep(0.01)
    assert not third.done() and order.in_hand == 2
    release.set()
    await asyncio.wait_for(third, 1)
    await order.drain()


async def test_a_failed_update_is_logged_and_the_chat_s_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    order = ChatOrder(limit=4)
    ran: list[str] = []

    async def broken() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        ran.append("next")

    with caplog.at_level(logging.ERROR):
        await order.submit("anna", broken)
        await order.submit("anna", fine)
        await order.drain()
    assert ran == ["next"]
    assert "could not be processed" in caplog.text


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        ChatOrder(limit=0)
