"""The ports of the coaches' and administrators' side: the desk's log-ins, a person's page, caseloads, and the
programme's appointments and randomised cohorts. Part of the union `storage.ports.Storage`; kept apart so that
neither module grows past what one reads at a sitting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from storage.admin_records import AuditPage, AuditQuery, ChannelOutbox, GivenUpMessage, Heartbeat
from storage.allocation_records import Allocation, Draw, RandomisedCohort
from storage.appointment_records import Appointment, AppointmentBooking, CohortMember, SessionSlot, SlotBooked
from storage.caseload import CaseloadPage, CaseloadQuery, CaseloadRow, TaskRow
from storage.desk_records import DeskChallenge, DeskSession, DeskUser, Passkey
from storage.person_records import PersonHistoryRows, ReceivedMessage, SentMessage
from storage.records import Enrollment, Escalation, Participant, Profile, ScheduledRecord


class DeskAccounts(Protocol):
    """The coaches' desk in the browser (bot/desk/): its own log-ins, passkeys, sessions and failed log-ins."""

    async def desk_user(self, coach_id: str) -> DeskUser | None: ...

    async def save_desk_user(self, user: DeskUser, replace: bool = False) -> None:
        """Create the log-in (AlreadyTaken when it exists), or with `replace` give it a new secret, ending its
        passkeys and sessions."""
        ...

    async def use_totp_step(self, coach_id: str, step: int) -> bool:
        """Spend the code of this 30-second step: False when it (or a later one) was used already."""
        ...

    async def passkeys(self, coach_id: str | None = None, credential_id: str | None = None) -> list[Passkey]: ...

    async def add_passkey(self, passkey: Passkey) -> None: ...

    async def use_passkey(self, credential_id: str, old_count: int, new_count: int, at: datetime) -> bool:
        """Record a signature's counter: False when another log-in moved it first (a cloned key, or a race)."""
        ...

    async def open_desk_session(self, session: DeskSession) -> None: ...

    async def desk_session(self, id_hash: str) -> DeskSession | None: ...

    async def touch_desk_session(self, id_hash: str, at: datetime) -> None: ...

    async def end_desk_sessions(self, *, id_hash: str | None = None, seen_before: datetime | None = None) -> int: ...

    async def login_failures(self, key: str, since: datetime) -> int: ...

    async def record_login_failure(self, key: str, at: datetime, forget_before: datetime) -> None: ...

    async def remove_passkey(self, coach_id: str, credential_id: str) -> bool:
        """Remove one of the coach's own passkeys: False when they have none by that id."""
        ...

    async def save_desk_challenge(self, challenge: DeskChallenge, now: datetime) -> None:
        """Keep a log-in's challenge, or an administrator's checked enrolment list until they confirm it (and
        forget every challenge expired by `now`)."""
        ...

    async def take_desk_challenge(self, id_hash: str, purpose: str, now: datetime) -> DeskChallenge | None:
        """The challenge, removed as it is read: a second take (in any process) gets None, as does an expired one."""
        ...


class Allocations(Protocol):
    """Randomised cohorts (issue 15): the opt-in, and each participant's arm, allocated as they are enrolled."""

    async def randomise_cohort(self, cohort: RandomisedCohort) -> RandomisedCohort:
        """Opt the cohort in (audited "cohort.randomised"); AlreadyTaken when it is already, InvalidRecord when
        someone was enrolled in it already (they would have no arm)."""
        ...

    async def randomised_cohort(self, cohort: str) -> RandomisedCohort | None: ...

    async def randomised_cohorts(self) -> list[RandomisedCohort]: ...

    async def enroll_allocated(self, enrollment: Enrollment, now: datetime, draw: Callable[[int], Draw],
                               actor: str) -> tuple[Participant, Allocation]:
        """`enroll`, and in the same transaction the cohort's next place: `draw(place)` says its arm (audited
        "participant.allocated" with who and when). InvalidRecord when the cohort is not randomised; nothing is
        written when the enrolment is refused."""
        ...

    async def allocation(self, participant_id: int) -> Allocation | None: ...

    async def allocations(self, cohort: str | None = None) -> list[Allocation]:
        """In sequence order: one cohort's, or every cohort's (by cohort)."""
        ...


class PersonHistory(Protocol):
    """One person's page on the coaches' desk: found by ref, their messages in and out, their escalations, and a
    coach's mark on one of their planned events. Each read is bounded to the person (and a limit)."""

    async def profile_by_ref(self, ref: str) -> Profile | None:
        """The enrolled participant with this ref, None when there is none (or no profile)."""
        ...

    async def sent_messages(self, participant_id: int, limit: int = 50) -> list[SentMessage]:
        """The participant's outbox rows with their delivery, newest first."""
        ...

    async def received_messages(self, participant_id: int, limit: int = 50) -> list[ReceivedMessage]:
        """What the participant wrote (opened), with what became of it, newest first."""
        ...

    async def escalations_of(self, participant_id: int) -> list[Escalation]:
        """The participant's escalations with their triggers, newest first."""
        ...

    async def person_history(self, participant_id: int, limit: int = 200, answers: int = 400) -> PersonHistoryRows:
        """Everything the person page shows, from one snapshot: the newest `limit` messages each way, the newest
        `answers` answers, every score, escalation, mark and task, and the pending schedule."""
        ...

    async def annotate_schedule(self, participant_id: int, schedule_id: int, changes: Mapping[str, Any],
                                at: datetime) -> bool:
        """Set keys of a pending schedule row's data (a value None removes the key), e.g. a coach's "skip this one",
        which the engine reads when the row comes due; False when the row is not the participant's or not pending."""
        ...


class Caseloads(Protocol):
    """A coach's participants a page at a time, with their figures (the desk's my-participants and tasks pages;
    storage/caseload.py): a few set-based statements per page, however many participants there are."""

    async def caseload(self, query: CaseloadQuery) -> CaseloadPage:
        """The participants in scope that match, ordered and paged in the database, with each one's figures (one
        snapshot); with `limit=None` only every match's id, in order, and how many."""
        ...

    async def caseload_rows(self, ids: Sequence[int], query: CaseloadQuery) -> list[CaseloadRow]:
        """The figures of these participants (in this order; unknown ids left out), as `caseload` gives them."""
        ...

    async def profile_names(self, coach_id: str | None = None) -> dict[int, str]:
        """Every enrolled participant's name by id, one coach's or everyone's (a search by name runs over these)."""
        ...

    async def tasks_of(self, coach_id: str | None, done_since: datetime | None = None) -> list[TaskRow]:
        """Open tasks of the coach's participants (everyone's for None), oldest first, with the tasks done since
        `done_since`; each with the person's ref and name."""


class Appointments(Protocol):
    """Talks and group sessions a coach books (issue 15), their reminders, and who came (bot/appointments.py)."""

    async def book_appointment(self, booking: AppointmentBooking, participant_ids: Sequence[int],
                               reminders: Callable[[int], list[ScheduledRecord]]) -> int:
        """Store it with its attendees and `reminders(appointment id)` planned for each, audited
        ("appointment.booked"), in one transaction; its id. Nothing is written when an id is unknown."""
        ...

    async def mark_attendance(self, appointment_id: int, participant_id: int, attended: bool, coach_id: str,
                              at: datetime) -> bool:
        """Attended or not (audited); a first "not attended" becomes a coach task ("appointment_missed"). False
        when the participant is not expected there."""
        ...

    async def appointments(self, since: datetime | None = None, until: datetime | None = None,
                           participant_ids: Sequence[int] | None = None) -> list[Appointment]:
        """Those starting in [since, until), by start time, with their attendees (only these participants when
        given), each with whether they confirmed or asked to move it."""
        ...

    async def cancel_appointment(self, appointment_id: int, actor: str, at: datetime,
                                 notice: Callable[[int, AppointmentBooking, int], list[ScheduledRecord]]) -> str:
        """Cancel it: its pending reminders withdrawn, `notice(id, booking, moves)` planned for each attendee, audited
        ("appointment.cancelled"), in one transaction; "done", or "unknown", "cancelled" or "begun" (nothing written).
        """
        ...

    async def move_appointment(self, appointment_id: int, starts_at: datetime, actor: str, done_by: str,
                               at: datetime,
                               plan: Callable[[int, AppointmentBooking, int], list[ScheduledRecord]]) -> str:
        """Move it: old reminders withdrawn, `plan(id, moved booking, moves)` planned for each attendee, their open
        "appointment_move" tasks of it done, audited ("appointment.moved"); "done" or why not."""
        ...

    async def book_sessions(self, slots: Sequence[SessionSlot], over: Sequence[int],
                            over_detail: Mapping[str, str | int], actor: str, at: datetime,
                            plan: Callable[[int, AppointmentBooking, int], list[ScheduledRecord]],
                            ) -> tuple[list[SlotBooked], list[int]]:
        """A cohort's declared sessions of one series, each booked once (by its `series`) or joined by who is not in
        it yet; members `over` the max size get a "group_sessions_full" task once. What each slot did, and who was
        newly told about."""
        ...

    async def cohort_members(self, cohort: str) -> list[CohortMember]:
        """The cohort's participants, in enrolment order, with their start dates and when they were enrolled."""
        ...

class ChannelHealth(Protocol):
    """The administrators' channel health page (bot/desk/views/admin_health.py): when each channel last heard from
    its provider, and its outbox counted per channel. No message bodies, no phone numbers."""

    async def record_heartbeat(self, channel: str, signal: str, at: datetime) -> None:
        """The channel heard from its provider at `at` (`storage.admin_records.SIGNALS`); an older time than the one
        kept changes nothing. The caller writes at most once a minute (bot/heartbeats.py)."""
        ...

    async def heartbeats(self) -> list[Heartbeat]:
        """Every channel's signals, by channel and signal."""
        ...

    async def outbox_health(self, now: datetime, given_up_since: datetime) -> list[ChannelOutbox]:
        """Per channel with anything waiting or given up since `given_up_since`: what waits, what may go at `now`
        and since when, what is being retried, what was given up. Read on the indexes of unsent and given-up
        rows, so it costs what waits, not what was ever sent."""
        ...

    async def given_up_since(self, since: datetime, limit: int = 20) -> list[GivenUpMessage]:
        """Messages given up since `since`, newest first, with whose they were and why (never the message)."""
        ...


class AuditSearch(Protocol):
    """The audit log searched by an administrator (bot/desk/views/admin_audit.py)."""

    async def search_audit(self, query: AuditQuery) -> AuditPage:
        """The rows that match, newest first, `query.limit` at a time, filtered and paged in the database (keyset:
        the page after the row `older_than`), on the indexes of time, subject and actor."""
        ...
