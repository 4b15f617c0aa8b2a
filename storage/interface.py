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
class RetractedAnswer:
    """An answer the person took back (BACK past it onto another path): it no longer counts or exports."""

    run_seq: int
    item_id: str


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


class EscalationStatus(StrEnum):
    OPEN = "open"  # nobody has acknowledged it yet: deadlines run
    ACKNOWLEDGED = "acknowledged"  # a coach has it; it stays listed until closed with an outcome note
    CLOSED = "closed"


RISK_LEVELS = ("low", "moderate", "high")  # ordered: a later level is more urgent


@dataclass(frozen=True)
class EscalationRecord:
    """A risk signal raised by a step. Stored in the step's transaction.

    A participant has at most one escalation that is not closed: a new signal while one is open is added
    to it as another trigger (raising its level, and resetting its deadline, when the new level is higher).
    """

    level: str  # one of RISK_LEVELS
    trigger_kind: str  # "item" (a flow's risk rule), "text" (free-text scan) or "safety_check"
    trigger: JSONObject  # e.g. {"flow_id", "flow_version", "item_id", "answer", "raw_text"} or {"matched", "text"}
    at: datetime
    deadline_at: datetime  # when it must have been acknowledged at the latest


@dataclass(frozen=True)
class EscalationTrigger:
    level: str
    trigger_kind: str
    trigger: JSONObject
    at: datetime


@dataclass(frozen=True)
class Escalation:
    id: int
    participant_id: int
    participant_ref: str
    level: str
    status: EscalationStatus
    opened_at: datetime
    deadline_at: datetime | None  # None once acknowledged
    tier: int  # who has been notified: 0 on-duty coach(es), 1 + backup, 2 + clinical lead
    triggers: tuple[EscalationTrigger, ...]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    outcome_note: str | None = None


class NotificationStatus(StrEnum):
    PENDING = "pending"  # stored before the send is attempted
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class Notification:
    """One attempt to tell one coach about one escalation on one channel."""

    id: int
    escalation_id: int
    coach_id: str
    channel: str
    tier: int
    status: NotificationStatus
    created_at: datetime
    attempts: int = 0
    detail: str = ""  # why it failed (no message bodies)
    updated_at: datetime | None = None


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
    escalations: Sequence[EscalationRecord] = ()
    retracted: Sequence[RetractedAnswer] = ()


class CommitStatus(StrEnum):
    COMMITTED = "committed"
    DUPLICATE = "duplicate"  # the inbound message was already processed: nothing was written
    CONFLICT = "conflict"  # the conversation changed since it was loaded: nothing was written


@dataclass(frozen=True)
class CommitResult:
    status: CommitStatus
    revision: int  # the conversation's revision after the call
    outbox_ids: tuple[int, ...] = ()
    escalation_ids: tuple[int, ...] = ()  # the escalation each EscalationRecord was stored in (new or existing)


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

    # -- escalations (suicide-risk safety path) --

    async def escalations(self, only_open: bool = False) -> list[Escalation]:
        """All escalations, newest first; `only_open`: those not closed."""
        ...

    async def escalation(self, escalation_id: int) -> Escalation | None: ...

    async def due_escalations(self, now: datetime) -> list[Escalation]:
        """Unacknowledged escalations whose deadline has passed, oldest deadline first."""
        ...

    async def raise_tier(self, escalation_id: int, tier: int, deadline_at: datetime, at: datetime) -> bool:
        """Widen the circle (backup, clinical lead) and set the next deadline; False if no longer open."""
        ...

    async def acknowledge_escalation(self, escalation_id: int, coach_id: str, at: datetime) -> bool:
        """Record who acknowledged and when; False if it is not open (already acknowledged or closed)."""
        ...

    async def close_escalation(self, escalation_id: int, coach_id: str, note: str, at: datetime) -> bool:
        """Close with the coach's outcome note (required, non-empty); an open one is acknowledged by it too.

        False if already closed."""
        ...

    async def add_notification(self, escalation_id: int, coach_id: str, channel: str, tier: int,
                               at: datetime) -> Notification:
        """Store a pending notification before it is sent, so a crash cannot lose it."""
        ...

    async def update_notification(self, notification_id: int, status: NotificationStatus, at: datetime,
                                  detail: str = "") -> None:
        """Mark an attempt sent or failed (attempts + 1)."""
        ...

    async def notifications(self, escalation_id: int | None = None,
                            status: NotificationStatus | None = None) -> list[Notification]: ...

    async def recent_answers(self, participant_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The participant's latest non-superseded answers (export_answers' columns), newest first."""
        ...

    async def recent_scores(self, participant_id: int, limit: int = 10) -> list[dict[str, Any]]: ...
