"""The narrow storage interface: a few async methods named after the tasks the bot performs.

Everything one conversation step produces (new state, answers, scores, outbox messages, timers, audit
entries, the inbound message that caused it) travels as one `StepRecord` and is committed in one
transaction by `commit_step`, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

JSONObject = Mapping[str, Any]
AnswerValue = int | float | str


@dataclass(frozen=True)
class Participant:
    id: int
    ref: str  # pseudonymous reference used by coaches and the CLI; never a name or phone number
    lang: str
    created_at: datetime


@dataclass(frozen=True)
class Conversation:
    """A participant's saved conversation state and its revision (optimistic concurrency)."""

    participant_id: int
    state: JSONObject | None  # None: no conversation saved yet
    revision: int  # 0 when nothing is saved yet


@dataclass(frozen=True)
class InboundRecord:
    """A received message, unique per (channel, channel_message_id): the dedupe key for retries."""

    channel: str
    channel_message_id: str
    received_at: datetime


@dataclass(frozen=True)
class AnswerRecord:
    """One item-level answer. A newer answer to the same (run, item) supersedes the older one."""

    run_seq: int
    flow_id: str
    flow_version: int
    item_id: str
    value: AnswerValue
    raw_text: str
    answered_at: datetime


@dataclass(frozen=True)
class ScoreRecord:
    run_seq: int
    flow_id: str
    flow_version: int
    score_id: str
    value: float
    band: str | None
    completed_at: datetime


@dataclass(frozen=True)
class OutboundRecord:
    """A message to send; `payload` is JSON (text, choices, ...) rendered before it is stored."""

    channel: str
    payload: JSONObject
    created_at: datetime


@dataclass(frozen=True)
class TimerRecord:
    """Schedule (due_at set) or cancel (due_at None) the participant's timer named `key`."""

    key: str
    due_at: datetime | None


@dataclass(frozen=True)
class AuditRecord:
    actor: str  # "participant:<ref>", "system", "admin:<name>", "coach:<id>"
    action: str  # e.g. "answer.recorded", "run.completed", "export.answers"
    subject: str  # e.g. "participant:<ref>"
    at: datetime
    detail: JSONObject = field(default_factory=dict)  # never message bodies or phone numbers


@dataclass(frozen=True)
class StepRecord:
    participant_id: int
    expected_revision: int  # the revision the step was computed from
    state: JSONObject
    at: datetime
    inbound: InboundRecord | None = None
    answers: Sequence[AnswerRecord] = ()
    scores: Sequence[ScoreRecord] = ()
    outbox: Sequence[OutboundRecord] = ()
    timers: Sequence[TimerRecord] = ()
    audit: Sequence[AuditRecord] = ()
    lang: str | None = None  # when set, the participant's language is updated too


class CommitStatus(StrEnum):
    COMMITTED = "committed"
    DUPLICATE = "duplicate"  # the inbound message was already processed: nothing was written
    CONFLICT = "conflict"  # the conversation changed since it was loaded: nothing was written


@dataclass(frozen=True)
class CommitResult:
    status: CommitStatus
    revision: int  # the conversation's revision after the call
    outbox_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class OutboxRow:
    id: int
    participant_id: int
    channel: str
    payload: JSONObject
    created_at: datetime


class Storage(Protocol):
    """What the bot needs from persistence. Implementations: SQLite (default) and in-memory."""

    async def migrate(self) -> None: ...

    async def close(self) -> None: ...

    async def get_or_create_participant(self, ref: str, lang: str, now: datetime) -> Participant: ...

    async def load_conversation(self, participant_id: int) -> Conversation: ...

    async def commit_step(self, step: StepRecord) -> CommitResult: ...

    async def pending_outbox(self, channel: str, limit: int = 100) -> list[OutboxRow]: ...

    async def mark_sent(self, outbox_id: int, at: datetime) -> None: ...

    async def remember_flow_version(self, flow_id: str, version: int, source: str, at: datetime) -> str | None:
        """Store a flow file's text the first time its (id, version) is seen.

        Returns the previously stored text when one exists for (id, version), else None, so the caller
        can tell an edited file whose version was not raised.
        """
        ...

    async def flow_version_source(self, flow_id: str, version: int) -> str | None: ...

    async def export_answers(self) -> list[dict[str, Any]]: ...

    async def export_scores(self) -> list[dict[str, Any]]: ...

    async def record_audit(self, entry: AuditRecord) -> None: ...

    async def audit_entries(self, limit: int = 1000) -> list[AuditRecord]: ...
