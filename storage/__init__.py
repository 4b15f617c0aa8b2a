"""Persistence: the `Storage` protocol, its record types, and the SQLite and in-memory implementations."""

from __future__ import annotations

import os
from typing import Literal, cast

from storage.interface import (
    FINISHED_SCHEDULE,
    RISK_LEVELS,
    AddressStatus,
    AnswerRecord,
    AnswerValue,
    AuditRecord,
    ChannelAddress,
    CoachTask,
    CoachTaskRecord,
    CommitResult,
    CommitStatus,
    Conversation,
    Enrollment,
    Escalation,
    EscalationRecord,
    EscalationStatus,
    EscalationTrigger,
    InboundRecord,
    JSONObject,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    OutboundRecord,
    OutboxRow,
    Participant,
    Profile,
    RetractedAnswer,
    ScheduledRecord,
    ScheduleOutcome,
    ScheduleRow,
    ScheduleStatus,
    ScoreRecord,
    StepRecord,
    Storage,
    TimerRecord,
)
from storage.memory import MemoryStorage
from storage.schema import (
    UnknownEscalationError,
    UnknownNotificationError,
    UnknownOutboxError,
    UnknownParticipantError,
)
from storage.sqlite import SqliteStorage


def _runner_from_environment() -> Literal["hybrid", "async"] | None:
    """`BOT_STORAGE_RUNNER=async` runs every statement through aiosqlite (see storage/sqlite.py for why
    the default hot path is the hybrid runner); unset means the default."""
    value = os.environ.get("BOT_STORAGE_RUNNER") or None
    if value not in (None, "hybrid", "async"):
        raise ValueError(f"BOT_STORAGE_RUNNER must be 'hybrid' or 'async', not {value!r}")
    return cast(Literal["hybrid", "async"] | None, value)


async def open_storage(db_path: str | os.PathLike[str]) -> Storage:
    """Open (creating if needed) the SQLite database at `db_path` and bring its schema up to date."""
    storage = SqliteStorage(db_path, runner=_runner_from_environment())
    try:
        await storage.migrate()
    except BaseException:
        await storage.close()
        raise
    return storage


__all__ = [
    "FINISHED_SCHEDULE",
    "RISK_LEVELS",
    "AddressStatus",
    "AnswerRecord",
    "AnswerValue",
    "AuditRecord",
    "ChannelAddress",
    "CoachTask",
    "CoachTaskRecord",
    "CommitResult",
    "CommitStatus",
    "Conversation",
    "Enrollment",
    "Escalation",
    "EscalationRecord",
    "EscalationStatus",
    "EscalationTrigger",
    "InboundRecord",
    "JSONObject",
    "Mark",
    "MarkRecord",
    "MemoryStorage",
    "Notification",
    "NotificationStatus",
    "OutboundRecord",
    "OutboxRow",
    "Participant",
    "Profile",
    "RetractedAnswer",
    "ScheduleOutcome",
    "ScheduleRow",
    "ScheduleStatus",
    "ScheduledRecord",
    "ScoreRecord",
    "SqliteStorage",
    "StepRecord",
    "Storage",
    "TimerRecord",
    "UnknownEscalationError",
    "UnknownNotificationError",
    "UnknownOutboxError",
    "UnknownParticipantError",
    "open_storage",
]
