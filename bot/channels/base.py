"""What every channel offers the dispatcher, and the plain-text rendering text channels share."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage.interface import OutboxRow, Storage

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # sends of one outbox row before it is given up (and logged)


class Channel(Protocol):
    """Sends one stored outbox message. Raises on failure, so the row stays unsent and is retried."""

    name: str

    async def send(self, message: OutboxRow) -> None: ...


def as_plain_text(payload: Mapping[str, Any]) -> str:
    """The message as text channels show it: the text, then "0 = Aldrig" lines for choice questions."""
    text = str(payload.get("text", ""))
    prompt = payload.get("prompt")
    if not prompt or not prompt.get("list_choices") or not prompt.get("choices"):
        return text
    lines = [f"{c['answer']} = {c['label']}" for c in prompt["choices"]]
    return text + "\n" + "\n".join(lines)


async def retry_later(storage: Storage, row: OutboxRow, now: datetime, detail: str) -> bool:
    """The shared retry policy of the outbox: back off 2, 4, 8, 16 s; give up after MAX_ATTEMPTS.

    True when the row will be tried again (and holds back the participant's later messages)."""
    if row.attempts + 1 >= MAX_ATTEMPTS:
        log.error("%s outbox row %s given up after %s attempts", row.channel, row.id, row.attempts + 1)
        await storage.give_up_outbox(row.id, now, detail)
        return False
    await storage.defer_outbox(row.id, now + timedelta(seconds=2 ** (row.attempts + 1)), now, detail)
    return True
