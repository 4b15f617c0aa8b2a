"""How long and how often a message that failed to send is tried again, by priority (issue 11: nothing is given up
silently).

From the ``delivery`` block of the deployment configuration (bot/deployment.yaml)::

    delivery:
      urgent_retry_hours: 24           # crisis replies: retried with back-off this long (24 to 168)
      urgent_max_backoff_seconds: 300  # ...waiting 2, 4, 8 s and so on, never longer than this between tries
      urgent_undelivered_minutes: 10   # not delivered by then: the coach on duty is told on another channel
      routine_attempts: 5              # other messages: given up after this many failed sends (2, 4, 8, 16 s apart)

Without the block these defaults apply. A crisis reply is the one message that must not be lost to an outage:
Twilio and Telegram outages last minutes to hours, and the person who wrote it may read it when the network is
back. A routine message (a reminder, the next question) loses its point within minutes, so it is given up soon,
and the coach sees it on the person's page (`PERSON`) with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flows.yamlsource import LineMap
from storage.records import OutboxRow, Priority

KEYS = ("urgent_retry_hours", "urgent_max_backoff_seconds", "urgent_undelivered_minutes", "routine_attempts")
FIRST_BACKOFF = timedelta(seconds=2)
_LIMITS = {  # key: (lowest, highest, what it is)
    "urgent_retry_hours": (24, 168, "hours (crisis replies are tried at least a day)"),
    "urgent_max_backoff_seconds": (2, 3600, "seconds"),
    "urgent_undelivered_minutes": (1, 240, "minutes"),
    "routine_attempts": (1, 20, "attempts"),
}


@dataclass(frozen=True)
class DeliveryPolicy:
    urgent_retry: timedelta = timedelta(hours=24)
    urgent_max_backoff: timedelta = timedelta(minutes=5)
    urgent_undelivered_after: timedelta = timedelta(minutes=10)
    routine_attempts: int = 5

    def retry_at(self, row: OutboxRow, now: datetime, wait: timedelta | None = None) -> datetime | None:
        """When to try `row` again after a send that just failed (not yet counted in `row.attempts`), or None to
        give it up. `wait`: how long the provider asked us to wait, if it said."""
        failures = row.attempts + 1
        backoff = FIRST_BACKOFF * (1 << min(failures - 1, 20))
        if row.priority is Priority.URGENT:
            last_try = row.created_at + self.urgent_retry
            if now >= last_try:
                return None
            # the last try falls at the end of the window, not after it
            return min(now + max(min(backoff, self.urgent_max_backoff), wait or timedelta(0)), last_try)
        if failures >= self.routine_attempts:
            return None
        return now + max(backoff, wait or timedelta(0))


def read_delivery(raw: Any, line: int, error: Callable[[int, str], None]) -> DeliveryPolicy:
    """The block checked; every problem goes to `error` with its line (and the defaults are returned)."""
    if raw is None:
        return DeliveryPolicy()
    if not isinstance(raw, LineMap):
        error(line, f"delivery must be a block with some of {', '.join(KEYS)}")
        return DeliveryPolicy()
    for key in raw:
        if key not in KEYS:
            error(raw.line_of(key), f"unknown key {key!r} in delivery")
    values: dict[str, int] = {}
    for key, (low, high, unit) in _LIMITS.items():
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            error(raw.line_of(key), f"delivery {key} must be a whole number from {low} to {high} {unit}, not {value!r}")
            continue
        values[key] = value
    default = DeliveryPolicy()
    policy = DeliveryPolicy(
        urgent_retry=timedelta(hours=values["urgent_retry_hours"]) if "urgent_retry_hours" in values
        else default.urgent_retry,
        urgent_max_backoff=timedelta(seconds=values["urgent_max_backoff_seconds"])
        if "urgent_max_backoff_seconds" in values else default.urgent_max_backoff,
        urgent_undelivered_after=timedelta(minutes=values["urgent_undelivered_minutes"])
        if "urgent_undelivered_minutes" in values else default.urgent_undelivered_after,
        routine_attempts=values.get("routine_attempts", default.routine_attempts),
    )
    return policy
