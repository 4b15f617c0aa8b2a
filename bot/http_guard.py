"""What keeps one `bot run` process answering when a client misbehaves: a deadline for a request's headers, and a
cap on how often the same refusal is logged.

uvicorn closes idle keep-alive connections but gives a connection that never finishes its headers all the time in
the world: a thousand half-sent requests (slowloris) held every socket and the server answered nobody, while each
refusal logged a line (4 MB/s in a probe). A reverse proxy in front (docs/operations.md) does this properly; these
limits make the process survive without one. Both are small on purpose: uvicorn's own h11 protocol with one timer
added, and a logging filter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0  # a request's line and headers must arrive within this (Twilio and Telegram take milliseconds)
LOG_EVERY_SECONDS = 60.0  # the same message is logged at most LOG_BURST times in this window
LOG_BURST = 5


class HeaderDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers have not all arrived in time."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = self.loop.call_later(HEADER_SECONDS, self._too_slow)

    def handle_events(self) -> None:
        super().handle_events()
        if self._deadline is not None and self.conn.their_state is not h11.IDLE:  # the headers are in
            self._deadline.cancel()
            self._deadline = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            logging.getLogger("bot.http").warning("a request's headers did not arrive within %.0f s: closed",
                                                  HEADER_SECONDS)
            self.transport.close()


class RepeatLimit(logging.Filter):
    """Let the same message template through at most `burst` times a `window`; then one line says how many were
    dropped. Keeps a flood of identical refusals from filling the disk, and never hides the first ones."""

    def __init__(self, window: float = LOG_EVERY_SECONDS, burst: int = LOG_BURST) -> None:
        super().__init__()
        self.window = window
        self.burst = burst
        self._seen: dict[tuple[str, Any], tuple[float, int]] = {}  # (logger, template) -> (window start, count)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        start, count = self._seen.get(key, (now, 0))
        if now - start >= self.window:
            if count > self.burst:
                record.msg = f"{record.msg} [{count - self.burst} more like this in the last {self.window:.0f} s]"
            start, count = now, 0
        self._seen[key] = (start, count + 1)
        if len(self._seen) > 10_000:  # templates are few; this only bounds memory against odd callers
            self._seen.clear()
        return count < self.burst


def limit_repeated_logs(*names: str) -> RepeatLimit:
    """Attach one `RepeatLimit` to the handlers-to-be of these loggers (as a logger filter, so it applies whatever
    handler the root logger has)."""
    limit = RepeatLimit()
    for name in names:
        logging.getLogger(name).addFilter(limit)
    return limit
