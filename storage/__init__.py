"""Persistence: the ports (storage/ports.py), their record types and errors, and the SQL implementation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from storage.crypto import Keys
from storage.errors import (
    AlreadyTaken,
    InvalidRecord,
    NotFound,
    StorageClosed,
    StorageError,
    UnknownEscalationError,
    UnknownNotificationError,
    UnknownOutboxError,
    UnknownParticipantError,
)
from storage.ports import Storage
from storage.records import (
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
    UndeliveredRow,
)
from storage.sql.store import SqlStorage


async def open_storage(db_path: str | os.PathLike[str], *, runner: Literal["hybrid", "async"] | None = None,
                       key_environ: Mapping[str, str] | None = None, keys: Keys | None = None) -> Storage:
    """Open (creating if needed) the SQLite database at `db_path` and bring its schema up to date.

    `runner` picks how statements run (storage/sql/engine.py says why the hybrid one is the default); `key_environ`
    holds the key variables (storage/crypto.load_keys), which the bot takes from its settings."""
    storage = SqlStorage(db_path, runner=runner, key_environ=key_environ, keys=keys)
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
    "AlreadyTaken",
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
    "InvalidRecord",
    "JSONObject",
    "Mark",
    "MarkRecord",
    "NotFound",
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
    "SqlStorage",
    "StepRecord",
    "Storage",
    "StorageClosed",
    "StorageError",
    "UndeliveredRow",
    "UnknownEscalationError",
    "UnknownNotificationError",
    "UnknownOutboxError",
    "UnknownParticipantError",
    "open_storage",
]
