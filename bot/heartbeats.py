"""A channel's heartbeat: when it last heard from its provider, for the administrators' channel health page.

A webhook that stopped arriving looks exactly like a quiet day, unless someone keeps the time of the last one: SMS
webhooks sent elsewhere after a Twilio change, a Telegram webhook dropped after a certificate renewal. Each channel
calls `beat` once a genuine message, update or delivery report has been handled (after its signature was checked, and
after the message is stored: a heartbeat must never hold a participant's message up); one row per channel and signal
is written at most once a minute per process, so a busy channel costs one small write a minute, and a write that
fails is logged and tried again a minute later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.clock import Clock
from storage.admin_records import RECEIVED
from storage.ports import ChannelHealth

log = logging.getLogger(__name__)
EVERY = timedelta(minutes=1)


class Heartbeat:
    def __init__(self, storage: ChannelHealth, clock: Clock, channel: str, every: timedelta = EVERY) -> None:
        self.storage = storage
        self.clock = clock
        self.channel = channel
        self.every = every
        self._written: dict[str, datetime] = {}  # signal -> when this process last wrote it

    async def beat(self, signal: str = RECEIVED) -> None:
        now = self.clock.now()
        last = self._written.get(signal)
        if last is not None and now - last < self.every:
            return
        self._written[signal] = now
        try:
            await self.storage.record_heartbeat(self.channel, signal, now)
        except Exception:  # the message itself matters; the heartbeat is tried again a minute later
            log.warning("the %s heartbeat (%s) could not be stored", self.channel, signal, exc_info=True)
