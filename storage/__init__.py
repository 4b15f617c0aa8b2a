"""Persistence: the `Storage` protocol, its record types, and the SQLite and in-memory implementations."""

from __future__ import annotations

import os

from storage.interface import (
    AnswerRecord,
    AnswerValue,
    AuditRecord,
    CommitResult,
    CommitStatus,
    Conversation,
    InboundRecord,
    JSONObject,
    OutboundRecord,
    OutboxRow,
    Participant,
    ScoreRecord,
    StepRecord,
    Storage,
    TimerRecord,
)
from storage.memory import MemoryStorage
from storage.schema import UnknownParticipantError
from storage.sqlite import SqliteStorage


async def open_storage(db_path: str | os.PathLike[str]) -> Storage:
    """Open (creating if needed) the SQLite database at `db_path` and bring its schema up to date."""
    storage = SqliteStorage(db_path)
    try:
        await storage.migrate()
    except BaseException:
        await storage.close()
        raise
    return storage


__all__ = [
    "AnswerRecord",
    "AnswerValue",
    "AuditRecord",
    "CommitResult",
    "CommitStatus",
    "Conversation",
    "InboundRecord",
    "JSONObject",
    "MemoryStorage",
    "OutboundRecord",
    "OutboxRow",
    "Participant",
    "ScoreRecord",
    "SqliteStorage",
    "StepRecord",
    "Storage",
    "TimerRecord",
    "UnknownParticipantError",
    "open_storage",
]
