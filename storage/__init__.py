"""Persistence: the `Storage` protocol, its record types, and the SQLite and in-memory implementations."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from storage.crypto import Keys
from storage.interface import (
    FINISHED_SCHEDULE,
    RISK_LEVELS,
    AddressChange,
    AddressStatus,
    AnswerRecord,
    AnswerValue,
    AuditRecord,
    ChannelAddress,
    CoachTask,
    CoachTaskRecord,
    CommitResult,
    CommitStatus,
    ConsentChange,
    Conversation,
    Enrollment,
    Escalation,
    EscalationRecord,
    EscalationStatus,
    EscalationTrigger,
    Identity,
    InboundRecord,
    JSONObject,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    OutboundRecord,
    OutboxRow,
    Participant,
    Priority,
    Profile,
    RetractedAnswer,
    ScheduledRecord,
    ScheduleOutcome,
    ScheduleRow,
    ScheduleStatus,
    ScoreRecord,
    StepRecord,
    Storage,
    UndeliveredRow,
)
from storage.memory import MemoryStorage
from storage.schema import (
    UnknownEscalationError,
    UnknownNotificationError,
    UnknownOutboxError,
    UnknownParticipantError,
)
from storage.sqlite import SqliteStorage


async def open_storage(db_path: str | os.PathLike[str], *, runner: Literal["hybrid", "async"] | None = None,
                       key_environ: Mapping[str, str] | None = None, keys: Keys | None = None) -> Storage:
    """Open (creating if needed) the SQLite database at `db_path` and bring its schema up to date.

    `runner` picks how statements run (storage/sqlite.py says why the hybrid one is the default); `key_environ`
    holds the key variables (storage/crypto.load_keys), which the bot takes from its settings."""
    storage = SqliteStorage(db_path, runner=runner, key_environ=key_environ, keys=keys)
    try:
        await storage.migrate()
    except BaseException:
        await storage.close()
        raise
    return storage


__all__ = [
    "FINISHED_SCHEDULE",
    "RISK_LEVELS",
    "AddressChange",
    "AddressStatus",
    "AnswerRecord",
    "AnswerValue",
    "AuditRecord",
    "ChannelAddress",
    "CoachTask",
    "CoachTaskRecord",
    "CommitResult",
    "CommitStatus",
    "ConsentChange",
    "Conversation",
    "Enrollment",
    "Escalation",
    "EscalationRecord",
    "EscalationStatus",
    "EscalationTrigger",
    "Identity",
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
    "Priority",
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
    "UndeliveredRow",
    "UnknownEscalationError",
    "UnknownNotificationError",
    "UnknownOutboxError",
    "UnknownParticipantError",
    "open_storage",
]
