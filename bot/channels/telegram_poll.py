"""Polling mode (development; production takes webhooks): getUpdates in a loop, each update handed on as it comes.

Our own loop rather than python-telegram-bot's `Updater`, which would parse every update into PTB's objects and pass
it through PTB's update queue and handler machinery first (bot/channels/telegram_api.py says what that cost). It keeps
the Updater's rules: an update is confirmed by the next getUpdates (its `offset`), so a crash between fetching an
update and storing it can lose that one (the reason production takes webhooks, answered only after the step is
stored); a timed-out long poll is asked again at once, a 429 waits as long as Telegram asks and half a second more,
and any other failure waits 1 s, then half as long again each time, up to 30 s. Unlike the Updater it also keeps
going after Telegram refuses the token (a token revoked by mistake and restored must not need a restart), saying so
in the log each time. An update is counted as fetched (`offset`) once it is handed on, so one that the poller was
stopped before handing on comes again at the next start; at `stop`, the last batch, which no later getUpdates
confirmed, is confirmed once the updates in hand are finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram.error import InvalidToken, RetryAfter, TelegramError, TimedOut

from bot.channels.pacing import retry_wait
from bot.channels.telegram_api import BotApi
from bot.channels.telegram_updates import TelegramUpdate, read_update, update_id_of

log = logging.getLogger(__name__)
FIRST_WAIT_S = 1.0
LONGEST_WAIT_S = 30.0
RETRY_AFTER_SLACK_S = 0.5  # as PTB's Updater


def _longer(wait: float) -> float:
    """The wait after another failure: 1 s, then half as long again each time, at most 30 s."""
    return min(LONGEST_WAIT_S, wait * 1.5) if wait else FIRST_WAIT_S


class Poller:
    """Fetches updates for `allowed` kinds and awaits `hand_on(update)` for each, in order (it should only queue the
    update, bot/channels/chat_order.py, or the next getUpdates waits for it)."""

    def __init__(self, api: BotApi, hand_on: Callable[[TelegramUpdate], Awaitable[None]], timeout: timedelta,
                 allowed: Sequence[str]) -> None:
        self.api = api
        self.hand_on = hand_on
        self.timeout = timeout.total_seconds()
        self.allowed = allowed
        self.offset = 0  # the next update_id wanted: every update before it has been handed on

    async def run(self) -> None:
        wait = 0.0
        while True:
            if wait:
                await asyncio.sleep(wait)
            try:
                batch = await self.api.get_updates(self.offset, self.timeout, self.allowed)
            except TimedOut:
                wait = 0.0
                continue
            except RetryAfter as exc:
                wait = retry_wait(exc).total_seconds() + RETRY_AFTER_SLACK_S
                continue
            except TelegramError as exc:
                wait = _longer(wait)
                what = "refused the bot's token" if isinstance(exc, InvalidToken) else "failed"
                log.warning("Telegram getUpdates %s (%s); asking again in %.1f s", what, exc.message, wait)
                continue
            except Exception:  # a bug, not Telegram: logged, and polling goes on (it is the only way in)
                wait = _longer(wait)
                log.exception("Telegram getUpdates failed unexpectedly; asking again in %.1f s", wait)
                continue
            wait = 0.0
            await self._hand_on(batch)

    async def _hand_on(self, batch: list[object]) -> None:
        for data in batch:
            update_id = update_id_of(data)
            if update_id is None:
                log.warning("Telegram getUpdates returned an entry without an update_id; skipped")
                continue
            update = read_update(data)
            if update is None:
                log.warning("Telegram update %s is not one this bot can read; skipped", update_id)
            else:
                await self.hand_on(update)  # may wait for room (stopped meanwhile: not counted, so it comes again)
            self.offset = max(self.offset, update_id + 1)

    async def confirm(self) -> None:
        """Tell Telegram every update handed on is done (at stop, once they are): a getUpdates that does not wait."""
        if self.offset:
            try:
                await self.api.get_updates(self.offset, 0, self.allowed)
            except TelegramError as exc:
                log.info("could not confirm the last Telegram updates (%s); they come again and are deduplicated",
                         exc.message)
