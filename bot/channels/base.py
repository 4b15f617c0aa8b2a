"""What every channel offers the dispatcher, and the plain-text rendering text channels share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from storage.interface import OutboxRow


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
