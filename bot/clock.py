"""Time is injected everywhere: the real clock in production, a fake one in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


def clock_from_environment() -> Clock:
    """The system clock, unless `BOT_FIXED_NOW` (ISO 8601 with offset) pins "now" for a process: used by the
    process crash tests, like BOT_CRASH_AT, so that what is due does not depend on when the suite runs."""
    from bot.settings import settings

    fixed = settings().bot_fixed_now
    return FakeClock(fixed) if fixed is not None else SystemClock()
