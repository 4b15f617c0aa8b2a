"""Appointments as the storage keeps them (issue 15): a booked talk or group session, and who is expected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
    booking: AppointmentBooking
    attendees: tuple[Attendee, ...]

    @property
    def ends_at(self) -> datetime:
        return self.booking.starts_at + timedelta(minutes=self.booking.minutes)
