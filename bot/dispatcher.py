"""Hands committed outbox rows to their channel and marks them sent: the only place that sends."""

from __future__ import annotations

import logging

from bot.channels.base import Channel
from bot.clock import Clock
from storage.interface import Storage

log = logging.getLogger(__name__)


async def deliver_pending(storage: Storage, channel: Channel, clock: Clock, limit: int = 100) -> int:
    """Send every unsent message of `channel`, oldest first; stop at the first failure (order matters)."""
    sent = 0
    for row in await storage.pending_outbox(channel.name, limit):
        try:
            await channel.send(row)
        except Exception:
            log.exception("channel %s failed to send outbox row %s; it stays queued", channel.name, row.id)
            break
        await storage.mark_sent(row.id, clock.now())
        sent += 1
    return sent
