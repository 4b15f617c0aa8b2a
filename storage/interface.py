"""The narrow storage interface: a few async methods named after the tasks the bot performs.

Everything one conversation step produces (new state, answers, scores, outbox messages, schedule changes,
audit entries, the inbound message that caused it) travels as one `StepRecord` and is committed in one
transaction by `commit_step`, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from storage.crypto import Keys

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


class Storage(Protocol):
    """What the bot needs from persistence. Implementations: SQLite (default) and in-memory."""

    @property
    def keys(self) -> Keys:
        """The keys contact details are sealed with (storage/crypto.py); tools use them for research pseudonyms."""
        ...

    async def migrate(self) -> None: ...

    async def close(self) -> None: ...

    async def get_or_create_participant(self, ref: str, lang: str, now: datetime) -> Participant: ...

    async def participant(self, participant_id: int) -> Participant | None:
        """The participant with this id, enrolled or not (None when unknown): a scheduled event is handled for
        anyone who has a conversation, not only for those with a programme profile."""
        ...

    async def load_conversation(self, participant_id: int) -> Conversation: ...

    async def commit_step(self, step: StepRecord) -> CommitResult: ...

    async def pending_outbox(self, channel: str, limit: int = 100, *, now: datetime | None = None,
                             only_urgent_for: Collection[int] = ()) -> list[OutboxRow]:
        """Unsent rows of `channel`, most urgent first (`Priority`), oldest first within a priority; rows
        deferred past `now` (or at all, without `now`) and rows given up are left out, and so are the rows of a
        participant that come after one of their deferred rows in that order (messages keep their order).
        `only_urgent_for`: participants the caller cannot send ordinary messages to now (busy, paced): only
        their URGENT rows are returned, so they do not fill the `limit`."""
        ...

    async def mark_sent(self, outbox_id: int, at: datetime) -> None: ...

    async def claimable_outbox(self, channel: str, claimer: str, limit: int, now: datetime,
                               only_urgent_for: Collection[int] = ()) -> list[OutboxRow]:
        """`pending_outbox` as `claimer` sees it: without the rows under another claimer's live lease, nor the rows
        of a person that come after one (storage/claims.py). A read: `claim_outbox` decides."""
        ...

    async def claim_outbox(self, channel: str, claimer: str, outbox_ids: Sequence[int], now: datetime,
                           lease_until: datetime) -> list[int]:
        """Hold the rows for `claimer` until `lease_until`, those that are still to send and due, not under another
        claimer's live lease, and each with every row before it in the person's sending order on the channel claimed
        by `claimer` too; returns their ids. Recording the row's outcome (`mark_sent`, `mark_delivery`,
        `defer_outbox`, `give_up_outbox`) ends the lease."""
        ...

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
        """Widen the circle (backup, clinical lead) and set the next deadline; False if it is no longer open
        or its deadline has not passed at `at` (so two watchers cannot raise it twice)."""
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

    # -- enrolment, channel addresses and delivery (Telegram and SMS) --

    async def enroll(self, enrollment: Enrollment, now: datetime) -> Participant:
        """Create the participant with their profile (and SMS address when a phone is given).

        Raises ValueError when the ref, or the phone number on SMS, already belongs to someone."""
        ...

    async def profile(self, participant_id: int) -> Profile | None: ...

    async def participant_by_address(self, channel: str, address: str) -> Participant | None: ...

    async def first_sighting(self, channel: str, message_id: str, at: datetime) -> bool:
        """True the first time a message that belongs to no participant is seen (a coach's command, a stranger's
        message): a redelivery is not acted on twice. Participants' messages are deduplicated by their step."""
        ...

    async def forget_sighting(self, channel: str, message_id: str) -> None:
        """The message could not be acted on: let its redelivery be."""
        ...

    async def identify(self, channel: str, address: str) -> Identity | None:
        """The participant an address belongs to, with the address's status (one read per inbound message)."""
        ...

    async def addresses(self, participant_id: int) -> list[ChannelAddress]: ...

    async def set_address(self, participant_id: int, channel: str, address: str, status: AddressStatus,
                          at: datetime) -> None:
        """Add or update the participant's address on a channel (one address per participant and channel).

        Raises ValueError when the address already belongs to another participant."""
        ...

    async def add_link_code(self, participant_id: int, code_digest: str, expires_at: datetime, at: datetime) -> None:
        """Store a one-time code (only its digest) that links a Telegram account to the participant."""
        ...

    async def redeem_link_code(self, code_digest: str, channel: str, address: str, at: datetime) -> Participant | None:
        """Use a code once: if it exists, is unused and not expired, mark it used, set the address (active) and
        return the participant; otherwise None (nothing changes)."""
        ...

    async def record_consent(self, participant_id: int, version: str, at: datetime, channel: str | None = None) -> None:
        """Record that the participant accepted the terms of `version` at `at` on `channel` (audited)."""
        ...

    # -- data protection (storage/person.py): access, erasure, retention --

    async def person_data(self, participant_id: int) -> dict[str, list[dict[str, Any]]] | None:
        """Everything stored about the participant, by table: names and addresses decrypted, JSON-ready; None for
        an unknown id."""
        ...

    async def erase_participants(self, participant_ids: Sequence[int], actor: str, reason: str, at: datetime,
                                 keep_scores: bool = False) -> list[dict[str, int] | None]:
        """Erase everything about them (reason "request" or "retention"), audited with no personal data; with
        `keep_scores` their scores stay under a new anonymous participant. Per distinct id: rows removed by table,
        or None when unknown. Leaves no trace in the file (SQLite: VACUUM and an emptied WAL)."""
        ...

    async def start_dates(self) -> list[tuple[Participant, date | None]]:
        """Every participant (not the anonymous holders of kept scores) with their programme's start date, None
        when never enrolled."""
        ...

    async def mark_delivery(self, outbox_id: int, provider_id: str | None, status: str, at: datetime,
                            detail: str = "") -> None:
        """Record what the provider said about an outbox message ("sent", "delivered", "undelivered",
        "failed"); `provider_id` is e.g. Twilio's MessageSid, so status callbacks can find the row."""
        ...

    async def outbox_by_provider_id(self, provider_id: str) -> OutboxRow | None: ...

    async def defer_outbox(self, outbox_id: int, not_before: datetime, at: datetime, detail: str = "") -> None:
        """A send failed or was rate-limited: count the attempt and keep it unsent until `not_before`
        (`pending_outbox` skips it until then)."""
        ...

    async def give_up_outbox(self, outbox_id: int, at: datetime, detail: str) -> None:
        """Stop trying to send this row (e.g. the person opted out or the provider refuses for good)."""
        ...

    async def undelivered_urgent(self, created_before: datetime, limit: int = 100) -> list[UndeliveredRow]:
        """URGENT rows no coach has been told about yet (`mark_undelivered_told`) that were given up, or are still
        unsent and were written at or before `created_before`; oldest first."""
        ...

    async def mark_undelivered_told(self, outbox_id: int, at: datetime) -> None:
        """A coach has been told that this urgent row did not get through: `undelivered_urgent` leaves it out."""
        ...

    async def given_up_messages(self, participant_id: int, limit: int = 20) -> list[UndeliveredRow]:
        """The participant's outbox rows that were given up, newest first, with the reason (for the coach)."""
        ...

    async def add_schedule(self, entries: Sequence[tuple[int, ScheduledRecord]], at: datetime) -> int:
        """Plan bot-initiated events (participant id, event) in one transaction, with `commit_step`'s upsert
        rule: a pending or cancelled row with the same key is re-planned, a sent or skipped one is left alone.
        Returns how many rows were inserted or re-planned."""
        ...

    async def claim_schedule(self, now: datetime, limit: int, lease_until: datetime) -> list[ScheduleRow]:
        """Take up to `limit` pending rows due at `now` that nobody holds (earliest first) and hold them
        until `lease_until`. A holder that crashes loses the lease; the row is claimed again after it."""
        ...

    async def schedule_of(self, participant_id: int) -> list[ScheduleRow]:
        """All of the participant's schedule rows, by due time."""
        ...

    async def coach_tasks(self, only_open: bool = True, participant_id: int | None = None) -> list[CoachTask]:
        """Tasks oldest first (by created_at, then id); `only_open`: those not done yet."""
        ...

    async def complete_task(self, task_id: int, coach_id: str, at: datetime) -> bool:
        """Mark an open task done; False if it does not exist or is already done."""
        ...

    async def marks(self, participant_id: int | None = None) -> list[Mark]:
        """Programme milestones in the order they were stored (oldest first)."""
        ...

    async def flow_scores(self, participant_id: int, flow_id: str) -> list[ScoreRecord]:
        """The participant's scores of one flow, oldest first (e.g. their TRE log sessions)."""
        ...

    async def add_mark(self, participant_id: int, record: MarkRecord) -> None:
        """A mark outside a conversation step (a coach's note, kind "coach_note")."""
        ...

    async def participant_ids(self, coach_id: str | None = None) -> list[int]:
        """Enrolled participants (with a profile): one coach's, or everyone's when `coach_id` is None."""
        ...

    # -- messages for a human (storage/messages.py) --

    async def coach_messages(self, participant_ids: Sequence[int] | None = None,
                             read_limit: int = 20) -> list[CoachMessage]:
        """Messages for a coach (of these participants, or everyone's): every unread one, oldest first, then the
        `read_limit` latest read ones, newest first."""
        ...

    async def mark_messages_read(self, message_ids: Sequence[int], coach_id: str, at: datetime) -> int:
        """Mark unread messages read by the coach (audited per message, "message.read"); the tasks they became are
        done with it. Returns how many were unread."""
        ...

    async def task_unread_messages(self, received_before: datetime, at: datetime, due_at: datetime) -> list[int]:
        """Each message for a coach still unread that came before `received_before` becomes a coach task
        ("message_unread"), once. Returns the new tasks' ids."""
        ...
