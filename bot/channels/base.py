"""What every channel offers the dispatcher, and the plain-text rendering text channels share.

A channel only delivers: it sends one outbox message and says what happened (`Delivery`). The dispatcher
(bot/dispatcher.py) decides everything else for every channel alike: what goes first, each person's order, when a
failed message is tried again and when it is given up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from storage.records import OutboxRow


@dataclass(frozen=True)
class Sent:
    provider_id: str | None = None  # e.g. Twilio's MessageSid, so status callbacks find the row


@dataclass(frozen=True)
class Failed:
    """Not sent. `detail` says why (an error type or code; never a message body or an address)."""

    detail: str
    final: bool = False  # refused for good (opted out, blocked, a number that does not exist): give it up now
    wait: timedelta | None = None  # the provider asked us to wait this long (a rate limit)


@dataclass(frozen=True)
class NotYet:
    """The recipient was sent to too recently (a channel's per-recipient pace): nothing is recorded, and the
    person's messages wait this many seconds."""

    seconds: float


Delivery = Sent | Failed | NotYet


class Deliverer(Protocol):
    """Sends one stored outbox message and reports the outcome; raising counts as a failure to retry."""

    name: str

    async def deliver(self, row: OutboxRow) -> Delivery: ...


@runtime_checkable
class Joiner(Deliverer, Protocol):
    """A channel that can send several of a person's messages as one (Telegram: one request, one notification)."""

    async def deliver_joined(self, rows: Sequence[OutboxRow]) -> Sequence[Delivery]:
        """Send `rows[0]` and as many of the rows after it as the channel joins to it (the dispatcher offers the
        person's next rows of the same priority, in their order): one outcome per row sent, in order, at least
        the first's (a failure is the first's alone; the rest stay queued behind it)."""
        ...


class Channel(Protocol):
    """A simple channel (the console, test channels): sends one message, raises when it could not."""

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
