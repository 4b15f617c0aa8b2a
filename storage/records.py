"""The record types storage takes and returns (storage/ports.py says which calls take which).

Everything one conversation step produces (new state, answers, scores, outbox messages, schedule changes,
audit entries, the inbound message that caused it) travels as one `StepRecord` and is committed in one
transaction by `commit_step`, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Any

JSONObject = Mapping[str, Any]
AnswerValue = int | float | str


@dataclass(frozen=True)
class Participant:
    id: int
    ref: str  # pseudonymous reference used by coaches and the CLI; never a name or phone number
    lang: str
    created_at: datetime


class AddressStatus(StrEnum):
    ACTIVE = "active"
    OPTED_OUT = "opted_out"  # the person said STOP: nothing more is sent there but the confirmation
    UNREACHABLE = "unreachable"  # the channel refuses (Telegram: bot blocked; SMS: repeated failures)


@dataclass(frozen=True)
class Identity:
    """Who an address belongs to and the address's status: what every inbound message needs, in one read."""

    participant: Participant
    status: AddressStatus


@dataclass(frozen=True)
class AddressChange:
    """A step's change to the participant's address on a channel (STOP, START, a blocked chat writing again),
    written in the step's transaction so a retried webhook cannot undo a newer choice."""

    channel: str
    address: str
    status: AddressStatus


@dataclass(frozen=True)
class ConsentChange:
    """The terms accepted in a step, recorded on the profile (and audited) in the step's transaction."""

    version: str
    channel: str | None


@dataclass(frozen=True)
class ChannelAddress:
    """How to reach a participant on one channel. An (channel, address) pair belongs to one participant."""

    participant_id: int
    channel: str  # "sms" or "telegram"
    address: str  # an E.164 phone number, or a Telegram chat id
    status: AddressStatus
    updated_at: datetime


@dataclass(frozen=True)
class Enrollment:
    """What an administrator enters to enrol a participant (the minimum the programme needs)."""

    ref: str  # pseudonymous id used everywhere else
    name: str  # shown to coaches only
    lang: str
    start_date: date | None = None
    coach_id: str | None = None
    phone: str | None = None  # E.164, already normalised
    cohort: str | None = None  # the group enrolled together (e.g. "bornholm-2026-1"), for outcome reports
    programme: str | None = None  # the programme chosen (its file's id); None: the deployment's default


@dataclass(frozen=True)
class Profile:
    participant: Participant
    name: str
    start_date: date | None
    coach_id: str | None
    consent_version: str | None
    consent_at: datetime | None
    cohort: str | None = None
    consent_channel: str | None = None  # where the terms were accepted ("sms", "telegram"); None: not known
    programme: str | None = None  # the programme chosen at enrolment; None: the deployment's default


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
class HeardRecord:
    """What an inbound message said and what became of it, kept with it in the inbox (issue 11): the text (sealed at
    rest), the engine's outcome ("answer", "keyword", "risk", "for_coach", ...; several joined by "+"), its detail
    (the flow and item answered, the keyword; never the text), and whether a coach must read it."""

    body: str | None  # None: the input had no text (a /start, an SMS START)
    outcome: str
    detail: JSONObject = field(default_factory=dict)
    for_coach: bool = False


@dataclass(frozen=True)
class CoachMessage:
    """A message a participant wrote for a human (flows/for_coach.py has the rule), as the coach's inbox shows it."""

    id: int  # the inbox row's id
    participant_id: int
    participant_ref: str
    channel: str
    body: str
    received_at: datetime
    detail: JSONObject  # where the person was (flow, item), never the text
    read_by: str | None = None
    read_at: datetime | None = None
    task_id: int | None = None  # the coach task it became while unread


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


class Priority(IntEnum):
    """Which outbox messages go first (lower first); within one priority a person's messages keep their order.

    URGENT: a reply carrying the crisis contacts. REPLY: the answer to what a participant just wrote or pressed.
    ROUTINE: scheduled and bulk messages (reminders, measurements, enrolment)."""

    URGENT = 0
    REPLY = 1
    ROUTINE = 2


@dataclass(frozen=True)
class OutboundRecord:
    """A message to send; `payload` is JSON (text, choices, ...) rendered before it is stored."""

    channel: str
    payload: JSONObject
    created_at: datetime
    priority: Priority = Priority.REPLY


class ScheduleStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time (or deferred to a later one)
    SENT = "sent"  # handled: what it asked for was done (a message, a questionnaire started)
    SKIPPED = "skipped"  # handled without sending, with a reason (stale, module done, paused, stopped...)
    CANCELLED = "cancelled"  # withdrawn before it was due (e.g. the person chose other exercise times)


FINISHED_SCHEDULE = frozenset({ScheduleStatus.SENT, ScheduleStatus.SKIPPED})


@dataclass(frozen=True)
class ScheduledRecord:
    """A bot-initiated event for one participant. `key` is unique per participant: planning the same event
    again updates a pending or cancelled row and never revives one that was already sent or skipped."""

    key: str  # e.g. "module:3", "wave:week4:open", "exercise:2026-12-01"
    kind: str  # e.g. "module", "nudge", "wave_open", "wave_remind", "wave_close", "exercise", "checkin"
    due_at: datetime
    data: JSONObject = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleRow:
    id: int
    participant_id: int
    key: str
    kind: str
    due_at: datetime
    data: JSONObject
    status: ScheduleStatus
    reason: str = ""  # why it was skipped, deferred or cancelled (never a message body)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ScheduleOutcome:
    """How a claimed schedule row ended, committed in the same transaction as the step it produced.

    The commit only happens while the row is still pending: otherwise nothing of the step is written and
    `commit_step` answers DUPLICATE, so a row handled twice (after a crash or by two processes) sends once."""

    schedule_id: int
    status: ScheduleStatus  # PENDING: deferred to `due_at`
    reason: str = ""
    due_at: datetime | None = None  # the new due time of a deferral


@dataclass(frozen=True)
class CoachTaskRecord:
    """Something a coach should do that is not an emergency: consider referral, check in after a TRE session."""

    kind: str  # e.g. "consider_referral", "consider_ending", "tre_checkin", "wellbeing_fall", "wave_missed"
    detail: JSONObject
    created_at: datetime
    due_at: datetime | None = None


@dataclass(frozen=True)
class CoachTask:
    id: int
    participant_id: int
    kind: str
    detail: JSONObject
    created_at: datetime
    due_at: datetime | None = None
    done_at: datetime | None = None
    done_by: str | None = None


@dataclass(frozen=True)
class MarkRecord:
    """A programme milestone kept for coaches and reports: a module done, a wave answered or missed."""

    kind: str  # "module_done", "wave_started", "wave_done", "wave_missed", "wave_run"
    key: str  # the module number or wave id
    detail: JSONObject
    at: datetime


@dataclass(frozen=True)
class Mark:
    participant_id: int
    kind: str
    key: str
    detail: JSONObject
    at: datetime


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
    audit: Sequence[AuditRecord] = ()
    lang: str | None = None  # when set, the participant's language is updated too
    escalations: Sequence[EscalationRecord] = ()
    retracted: Sequence[RetractedAnswer] = ()
    schedule_outcome: ScheduleOutcome | None = None  # the claimed schedule row this step handled
    cancel_schedule_kinds: Sequence[str] = ()  # the participant's pending rows of these kinds are cancelled...
    cancel_schedule_keys: Sequence[str] = ()  # ...and those with these keys (a timer withdrawn)...
    schedule: Sequence[ScheduledRecord] = ()  # ...before these are planned (upsert unless finished)
    tasks: Sequence[CoachTaskRecord] = ()
    marks: Sequence[MarkRecord] = ()
    heard: HeardRecord | None = None  # kept with `inbound` (the text sealed): what it said and what became of it
    address: AddressChange | None = None  # applied after the rest, only when the step commits
    consent: ConsentChange | None = None


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
    attempts: int = 0
    priority: Priority = Priority.REPLY


@dataclass(frozen=True)
class UndeliveredRow:
    """An outbox message that did not get through: given up, or (urgent ones) still unsent past a deadline.
    `detail` is the last reason (an error code or status; never a message body)."""

    row: OutboxRow
    detail: str | None
    given_up_at: datetime | None
