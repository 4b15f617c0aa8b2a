"""Cancelling and moving a booked appointment (issue 15), from the desk or the command line.

Either way every attendee is told, kindly and in their own language: the notice is a schedule row of kind
`appointment` due at once (flows/appointments.py writes it, waits out the quiet hours, and drops it once the
appointment it is about has begun), in the same transaction that withdraws the old reminders (storage), so nobody is
reminded of a cancelled time nor told twice. Moving plans the new time's reminders under new keys, and the notice
of the move asks for OK or MOVE as a reminder does.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from bot.appointments import (
    TIME_PASSED,
    TIME_UNREADABLE,
    BookingError,
    BookingProblem,
    event_key,
    parse_when,
    reminder_data,
    reminder_plan,
)
from flows.appointments import CANCELLED_NOTICE, MOVED_NOTICE
from flows.phrases import N_
from flows.programme import Kind
from storage.appointment_records import AppointmentBooking
from storage.ports import Storage
from storage.records import ScheduledRecord

CANCELLED, MOVED = CANCELLED_NOTICE, MOVED_NOTICE  # a notice's data["notice"]
NO_APPOINTMENT = N_("there is no appointment {id}")
ALREADY_CANCELLED = N_("appointment {id} is already cancelled")
HAS_BEGUN = N_("appointment {id} has begun, so it cannot be changed")
_REFUSALS = {"unknown": NO_APPOINTMENT, "cancelled": ALREADY_CANCELLED, "begun": HAS_BEGUN}


def notice(name: str, appointment_id: int, booking: AppointmentBooking, moves: int,
           at: datetime) -> ScheduledRecord:
    """A notice to each attendee, due at once: "cancelled" (of the time it was at) or "moved" (to the new time)."""
    return ScheduledRecord(event_key(appointment_id, moves, name), Kind.APPOINTMENT, at,
                           {**reminder_data(appointment_id, booking), "notice": name})


def cancel_notice(appointment_id: int, booking: AppointmentBooking, moves: int, *, at: datetime
                  ) -> list[ScheduledRecord]:
    return [notice(CANCELLED, appointment_id, booking, moves, at)]


def move_plan(appointment_id: int, booking: AppointmentBooking, moves: int, *, at: datetime
              ) -> list[ScheduledRecord]:
    """The notice of the move, then the new time's reminders still ahead."""
    return [notice(MOVED, appointment_id, booking, moves, at), *reminder_plan(appointment_id, booking, moves, at)]


def _refused(result: str, appointment_id: int) -> None:
    if result != "done":
        raise BookingError([BookingProblem(_REFUSALS[result], {"id": appointment_id})])


async def cancel(storage: Storage, appointment_id: int, actor: str, now: datetime) -> None:
    """Cancel it and tell its attendees; BookingError when it is unknown, cancelled already or has begun."""
    _refused(await storage.cancel_appointment(appointment_id, actor, now, partial(cancel_notice, at=now)),
             appointment_id)


async def move(storage: Storage, appointment_id: int, when: str, actor: str, done_by: str, now: datetime) -> datetime:
    """Move it to `when` (as Danes write it) and tell its attendees; the new time. BookingError when the time is not
    one, has passed, or the appointment cannot be changed."""
    starts = parse_when(when)
    if starts is None:
        raise BookingError([BookingProblem(TIME_UNREADABLE, {"time": repr(when)})])
    if starts <= now:
        raise BookingError([BookingProblem(TIME_PASSED, {"time": repr(when)})])
    _refused(await storage.move_appointment(appointment_id, starts, actor, done_by, now, partial(move_plan, at=now)),
             appointment_id)
    return starts
