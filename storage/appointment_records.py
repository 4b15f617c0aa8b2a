"""Appointments as the storage keeps them (issue 15): a booked talk or group session, and who is expected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

ATTENDED = "attended"
MISSED = "missed"


@dataclass(frozen=True)
class AppointmentBooking:
    kind: str  # screening, group, coaching, counselling, follow_up (flows/phrases.py APPOINTMENT_KINDS)
    starts_at: datetime
    minutes: int
    place: str
    video: str
    booked_by: str
    created_at: datetime
    cohort: str | None = None
    series: str | None = None  # a programme's declared group session: "programme:cohort:session:w1-mon"


@dataclass(frozen=True)
class Attendee:
    participant_id: int
    ref: str
    attendance: str | None = None  # None until a coach marks it: ATTENDED or MISSED
    marked_by: str | None = None
    marked_at: datetime | None = None
    confirmed: bool = False  # the participant answered a reminder with OK
    move_asked: bool = False  # ...or asked to move it


@dataclass(frozen=True)
class Appointment:
    id: int
    booking: AppointmentBooking  # starts_at: the time it is now at, after any move
    attendees: tuple[Attendee, ...]
    moves: int = 0  # how often its time was changed (each change plans reminders under new keys)
    moved_at: datetime | None = None  # the last change; confirmations and move requests before it are history
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None

    @property
    def ends_at(self) -> datetime:
        return self.booking.starts_at + timedelta(minutes=self.booking.minutes)


@dataclass(frozen=True)
class SessionSlot:
    """One declared group session to book for a cohort (its `booking.series` names it for good), and who is in it."""

    booking: AppointmentBooking
    participant_ids: tuple[int, ...]


@dataclass(frozen=True)
class SlotBooked:
    """What booking a slot did: a new appointment, places added to the one booked before, or nothing (it was
    cancelled, or has begun)."""

    series: str
    appointment_id: int | None
    created: bool
    added: tuple[int, ...]  # the participants given a place (and reminders) now
    ahead: bool  # booked, not cancelled, not begun


@dataclass(frozen=True)
class CohortMember:
    participant_id: int
    ref: str
    start_date: date | None  # None: enrolled without one (the programme then starts on the day of enrolment)
    enrolled_at: datetime
    programme: str | None = None  # the programme chosen at enrolment; None: none recorded (the default's)
