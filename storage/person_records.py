"""What a person's page on the coaches' desk reads besides the records the conversation keeps (bot/desk/).

Each message in and out as the coach needs to see it: an outbox row with what became of it (waiting, sent,
delivered, failed, given up), and an inbound message with its text opened and what the bot made of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.records import CoachTask, Escalation, JSONObject, Mark, OutboxRow, ScheduleRow, ScoreRecord


@dataclass(frozen=True)
class SentMessage:
    """An outbox row and its delivery: `delivery_status` is the provider's last word ("delivered", "failed"...)."""

    row: OutboxRow
    sent_at: datetime | None
    delivery_status: str | None
    delivery_detail: str | None  # an error code or reason, never a message body
    not_before: datetime | None  # deferred: not tried again before this
    given_up_at: datetime | None


@dataclass(frozen=True)
class ReceivedMessage:
    """A message the participant wrote, opened, with what became of it (`outcome`: "answer", "keyword", "risk"...)."""

    id: int
    participant_id: int
    channel: str
    body: str  # "" when the input had no text (a button, /start)
    received_at: datetime
    outcome: str | None
    detail: JSONObject
    for_coach: bool
    read_by: str | None
    read_at: datetime | None


@dataclass(frozen=True)
class PersonHistoryRows:
    """Everything a person's page shows of them, read in one transaction (one snapshot, one round trip)."""

    sent: list[SentMessage]  # newest first, up to the limit
    received: list[ReceivedMessage]  # newest first, up to the limit
    answers: list[dict[str, Any]]  # `recent_answers`' rows, newest first, up to the answers' limit
    scores: list[ScoreRecord]  # all of them, oldest first
    escalations: list[Escalation]  # newest first
    marks: list[Mark]  # in the order they were stored
    tasks: list[CoachTask]  # open and done, oldest first
    pending: list[ScheduleRow]  # the schedule's pending rows, by due time
