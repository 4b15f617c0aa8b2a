"""The storage ports: small protocols named after what callers do, each a handful of methods.

A bot module that needs one role takes that port (the dispatcher an `Outbox`, the escalation watcher
`Escalations`); `Storage`, the union of them all plus opening and closing, is what the app wires. Everything one
conversation step produces travels as one `StepRecord` and is committed in one transaction by `commit_step`,
before anything is sent. The one implementation is `storage.sql.store.SqlStorage`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from storage.crypto import Keys
from storage.desk_ports import Allocations as Allocations
from storage.desk_ports import Appointments as Appointments
from storage.desk_ports import AuditSearch as AuditSearch
from storage.desk_ports import Caseloads as Caseloads
from storage.desk_ports import ChannelHealth as ChannelHealth
from storage.desk_ports import DeskAccounts as DeskAccounts
from storage.desk_ports import PersonHistory as PersonHistory
from storage.records import (
    AddressStatus,
    AuditRecord,
    ChannelAddress,
    CoachMessage,
    CoachTask,
    CommitResult,
    Conversation,
    Enrollment,
    Escalation,
    Identity,
    JSONObject,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    OutboxRow,
    Participant,
    Priority,
    Profile,
    ScheduledRecord,
    ScheduleRow,
    ScoreRecord,
    StepRecord,
    UndeliveredRow,
)
from storage.report_rows import OutcomeQuery, OutcomeRows

T = TypeVar("T")  # what the outcome report's consumer makes of the rows


class Conversations(Protocol):
    """A participant's conversation: who they are, their saved state, each step committed at once."""

    async def get_or_create_participant(self, ref: str, lang: str, now: datetime) -> Participant: ...

    async def participant(self, participant_id: int) -> Participant | None:
        """The participant with this id, enrolled or not (None when unknown): a scheduled event is handled for
        anyone who has a conversation, not only for those with a programme profile."""
        ...

    async def load_conversation(self, participant_id: int) -> Conversation: ...

    async def commit_step(self, step: StepRecord) -> CommitResult: ...

    async def remember_flow_version(self, flow_id: str, version: int, source: str, at: datetime) -> str | None:
        """Store a flow file's text the first time its (id, version) is seen.

        Returns the previously stored text when one exists for (id, version), else None, so the caller
        can tell an edited file whose version was not raised.
        """
        ...

    async def flow_version_source(self, flow_id: str, version: int) -> str | None: ...


class Outbox(Protocol):
    """Messages waiting to go out and what became of them: the dispatchers, channels and the undelivered watcher."""

    async def pending_outbox(self, channel: str, limit: int = 100, *, now: datetime | None = None,
                             only_urgent_for: Collection[int] = (), urgent_only: bool = False) -> list[OutboxRow]:
        """Unsent rows of `channel`, most urgent first (`Priority`), oldest first within a priority; rows
        deferred past `now` (or at all, without `now`) and rows given up are left out, and so are the rows of a
        participant that come after one of their deferred rows in that order (messages keep their order).
        `only_urgent_for`: participants the caller cannot send ordinary messages to now (busy, paced): only
        their URGENT rows are returned, so they do not fill the `limit`; `urgent_only`: only URGENT rows at all
        (a caller with no room for an ordinary message)."""
        ...

    async def mark_sent(self, outbox_id: int, at: datetime) -> None: ...

    async def claimable_outbox(self, channel: str, claimer: str, limit: int, now: datetime,
                               only_urgent_for: Collection[int] = (), urgent_only: bool = False) -> list[OutboxRow]:
        """`pending_outbox` as `claimer` sees it: without the rows under another claimer's live lease, nor the rows
        of a person that come after one (storage/sql/claims.py). A read: `claim_outbox` decides."""
        ...

    async def claim_outbox(self, channel: str, claimer: str, outbox_ids: Sequence[int], now: datetime,
                           lease_until: datetime) -> list[int]:
        """Hold the rows for `claimer` until `lease_until`, those that are still to send and due, not under another
        claimer's live lease, and each with every row before it in the person's sending order on the channel claimed
        by `claimer` too; returns their ids. Recording the row's outcome (`mark_sent`, `mark_delivery`,
        `defer_outbox`, `give_up_outbox`) ends the lease."""
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


class Directory(Protocol):
    """People and how to reach them: enrolment, profiles, addresses, link codes, consent, sightings."""

    async def enroll(self, enrollment: Enrollment, now: datetime) -> Participant:
        """Create the participant with their profile (and SMS address when a phone is given).

        Raises AlreadyTaken when the ref, or the phone number on SMS, already belongs to someone."""
        ...

    async def profile(self, participant_id: int) -> Profile | None: ...

    async def programme_of(self, participant_id: int) -> str | None:
        """The programme chosen at their enrolment (a programme file's id); None for someone enrolled before
        programmes were recorded or never enrolled (they follow the deployment's default programme)."""
        ...

    async def programme_choices(self) -> dict[int, str]:
        """Every recorded choice: participant id -> programme id (those without one are left out)."""
        ...

    async def participant_ids(self, coach_id: str | None = None, *, without_coach: bool = False) -> list[int]:
        """Enrolled participants (with a profile): one coach's, or everyone's when `coach_id` is None; only those
        without a coach with `without_coach`."""
        ...

    async def participant_by_address(self, channel: str, address: str) -> Participant | None: ...

    async def identify(self, channel: str, address: str) -> Identity | None:
        """The participant an address belongs to, with the address's status (one read per inbound message)."""
        ...

    async def addresses(self, participant_id: int) -> list[ChannelAddress]: ...

    async def set_address(self, participant_id: int, channel: str, address: str, status: AddressStatus,
                          at: datetime) -> None:
        """Add or update the participant's address on a channel (one address per participant and channel).

        Raises AlreadyTaken when the address already belongs to another participant."""
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

    async def first_sighting(self, channel: str, message_id: str, at: datetime) -> bool:
        """True the first time a message that belongs to no participant is seen (a coach's command, a stranger's
        message): a redelivery is not acted on twice. Participants' messages are deduplicated by their step."""
        ...

    async def forget_sighting(self, channel: str, message_id: str) -> None:
        """The message could not be acted on: let its redelivery be."""
        ...


class Escalations(Protocol):
    """The suicide-risk safety path: escalations and the notifications sent about them (bot/escalation.py)."""

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


class Schedule(Protocol):
    """Bot-initiated events: planned, claimed under a lease, listed (bot/scheduler.py)."""

    async def add_schedule(self, entries: Sequence[tuple[int, ScheduledRecord]], at: datetime) -> int:
        """Plan bot-initiated events (participant id, event) in one transaction, with `commit_step`'s upsert
        rule: a pending or cancelled row with the same key is re-planned, a sent or skipped one is left alone.
        Returns how many rows were inserted or re-planned."""
        ...

    async def claim_schedule(self, now: datetime, limit: int, lease_until: datetime) -> list[ScheduleRow]:
        """Take up to `limit` pending rows due at `now` that nobody holds (earliest first) and hold them
        until `lease_until`. A holder that crashes loses the lease; the row is claimed again after it. On a server
        database, where several processes claim, a claim takes whole people (all their due rows, people by their
        earliest; the first person's earliest `limit` if they alone have more) and passes over people someone else
        is handling (storage/sql/claims.py)."""
        ...

    async def after_bulk_plan(self) -> None:
        """Many rows were just planned (a cohort's programme): let the database's planner know the table as it is
        now, or the next claims are planned for the table as it was (PostgreSQL: a claim of 1,000 due rows out of a
        million took over a second instead of milliseconds until autovacuum came by)."""
        ...

    async def schedule_of(self, participant_id: int) -> list[ScheduleRow]:
        """All of the participant's schedule rows, by due time."""
        ...

    async def next_pending_due(self, participant_id: int, after: datetime) -> datetime | None:
        """When the participant's earliest pending row due after `after` is due; with none, their earliest pending
        row's (one overdue); None with nothing pending. What a clock that jumps from event to event needs (the
        preview and the simulator, bot/preview.py), without reading every row of a programme at each jump."""
        ...


class CoachWork(Protocol):
    """What a coach works from: tasks, milestones, the messages inbox, a person's recent answers and scores."""

    async def coach_tasks(self, only_open: bool = True, participant_id: int | None = None) -> list[CoachTask]:
        """Tasks oldest first (by created_at, then id); `only_open`: those not done yet."""
        ...

    async def complete_task(self, task_id: int, coach_id: str, at: datetime) -> bool:
        """Mark an open task done; False if it does not exist or is already done."""
        ...

    async def marks(self, participant_id: int | None = None) -> list[Mark]:
        """Programme milestones in the order they were stored (oldest first)."""
        ...

    async def add_mark(self, participant_id: int, record: MarkRecord) -> None:
        """A mark outside a conversation step (a coach's note, kind "coach_note")."""
        ...

    async def flow_scores(self, participant_id: int, flow_id: str) -> list[ScoreRecord]:
        """The participant's scores of one flow, oldest first (e.g. their TRE log sessions)."""
        ...

    async def recent_answers(self, participant_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The participant's latest non-superseded answers (export_answers' columns), newest first."""
        ...

    async def recent_scores(self, participant_id: int, limit: int = 10) -> list[dict[str, Any]]: ...

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

    async def coach_message(self, message_id: int) -> CoachMessage | None:
        """One message for a coach (read or not), by its id; None if there is none (or it was not for a coach)."""
        ...

    async def send_coach_reply(self, participant_id: int, channel: str, payload: JSONObject, coach_id: str,
                               at: datetime, *, message_id: int | None = None, priority: Priority = Priority.REPLY,
                               not_before: datetime | None = None) -> int:
        """A coach's reply, in one transaction: the message it answers (if any) read by the coach, the payload in
        the outbox on `channel` (held back until `not_before`), and "message.replied" in the audit log. Returns the
        outbox id; UnknownParticipantError for no such participant."""
        ...


class Records(Protocol):
    """Data in bulk and about one person: exports, the outcome report's rows, access, erasure, retention."""

    async def export_answers(self) -> list[dict[str, Any]]: ...

    async def export_scores(self) -> list[dict[str, Any]]: ...

    async def read_outcomes(self, query: OutcomeQuery, consume: Callable[[Iterator[OutcomeRows]], T]) -> T:
        """Every row the outcome report needs (storage/report_rows.py), a chunk of participants at a time from one
        snapshot, handed to `consume` off the event loop (which must be done with them when it returns); returns
        what `consume` returns."""
        ...

    async def cohorts(self) -> list[str]:
        """The cohorts participants were enrolled in, sorted (a mistyped --cohort gets a helpful error)."""
        ...

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


class Audit(Protocol):
    """Who did what, kept for accountability (never message bodies or phone numbers)."""

    async def record_audit(self, entry: AuditRecord) -> None: ...

    async def audit_entries(self, limit: int = 1000) -> list[AuditRecord]: ...


class AuditedRecords(Records, Audit, Protocol):
    """Records read for someone (an export, one person's data) and the audit log the reading is recorded in."""


class Storage(Conversations, Outbox, Directory, Escalations, Schedule, CoachWork, Records, Audit, DeskAccounts,
              Allocations, PersonHistory, Caseloads, Appointments, ChannelHealth, AuditSearch, Protocol):
    """Everything the bot needs from persistence, for wiring (bot/app.py): every port, plus opening and closing."""

    @property
    def keys(self) -> Keys:
        """The keys contact details are sealed with (storage/crypto.py); tools use them for research pseudonyms."""
        ...

    async def migrate(self) -> None: ...

    async def close(self) -> None: ...
