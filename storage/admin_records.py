"""What the administrators' pages read (bot/desk/views/admin_*.py): the channels' health and the audit log, a page
at a time. Counts, times, refs and reasons only: never a message body or a phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.records import AuditRecord

RECEIVED = "received"  # a message or update reached the bot on this channel (webhook or polling)
STATUS = "status"  # the provider reported on a message the bot sent (SMS delivery reports)
SIGNALS = (RECEIVED, STATUS)


@dataclass(frozen=True)
class Heartbeat:
    """When a channel last heard from its provider, per signal (kept at most a minute stale, bot/heartbeats.py)."""

    channel: str
    signal: str
    seen_at: datetime


@dataclass(frozen=True)
class ChannelOutbox:
    """One channel's outbox as the health page counts it."""

    channel: str
    waiting: int  # not sent yet and not given up
    due: int  # of those, the ones that may go now (the rest are held until a later time: a retry, quiet hours)
    oldest_due: datetime | None  # when the oldest of those that may go now was written
    retrying: int  # waiting after at least one failed attempt
    given_up: int  # given up since the time asked for
    latest_failure: str | None  # the reason of the newest failed attempt still waiting (an error code, no body)


@dataclass(frozen=True)
class GivenUpMessage:
    """A message that will never be sent, as the health page lists it: whose, on which channel, when and why."""

    outbox_id: int
    channel: str
    participant_ref: str
    urgent: bool  # a crisis reply
    written_at: datetime
    given_up_at: datetime
    reason: str  # the provider's error or our reason (never the message)


@dataclass(frozen=True)
class AuditQuery:
    """A search of the audit log: every given filter must match; newest first, a page at a time.

    `actor` and `subject` match exactly; `action` is a prefix ("alert" finds "alert.ack" and "alert.close");
    [`since`, `until`) bounds the time; `older_than` is the id of the last row of the previous page."""

    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    older_than: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class AuditEntry:
    id: int
    record: AuditRecord


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    more: bool  # there are older rows that match: the next page starts after the last entry
