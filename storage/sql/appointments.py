"""The `Appointments` port on SQL (issue 15): booking a talk or session with its reminders, listing, attendance.

A booking writes the appointment, its attendees, their reminders (schedule rows, bot/scheduler.py handles them
under leases, so once across processes) and its audit row in one transaction through the writer: a crash leaves
all of it or none. A coach marking someone missed makes a coach task ("appointment_missed") in the same
transaction. Whether a participant confirmed or asked to move it is read from their milestones
(flows/appointments.py), not stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, insert, select, update

from storage.appointment_records import ATTENDED, MISSED, Appointment, AppointmentBooking, Attendee
from storage.errors import InvalidRecord
from storage.records import AuditRecord, CoachTaskRecord, ScheduledRecord
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import require_utc
from storage.sql.rows import audit_row, task_row
from storage.sql.schedule import ProgrammeOp, plan_schedule, unknown_among
from storage.sql.schedule_rows import schedule_rows

BOOKED = "appointment.booked"
MARKED = "appointment.attendance"
MISSED_TASK = "appointment_missed"
CONFIRMED_MARK = "appointment_confirmed"  # flows/appointments.py CONFIRMED
MOVE_MARK = "appointment_move"  # flows/appointments.py MOVE_ASKED
_ap, _at, _p, _mk = s.appointments, s.appointment_attendees, s.participants, s.programme_marks
Reminders = Callable[[int], list[ScheduledRecord]]  # the appointment's id -> each attendee's reminders


@dataclass(frozen=True)
class Book(ProgrammeOp):
    booking: AppointmentBooking
    participant_ids: tuple[int, ...]
    reminders: Reminders

    def run(self, conn: Connection) -> int | Exception:
        b = self.booking
        wanted = set(self.participant_ids)
        if not wanted:
            return InvalidRecord("an appointment needs at least one participant")
        refused = unknown_among(conn, wanted)
        if refused is not None:
            return refused
        return insert_appointment(conn, b, sorted(wanted), self.reminders)


def insert_appointment(conn: Connection, b: AppointmentBooking, participant_ids: Sequence[int],
                       reminders: Reminders) -> int:
    """The appointment, its attendees, their reminders and the audit row; its id (participants known)."""
    row = {"kind": b.kind, "starts_at": b.starts_at, "minutes": b.minutes, "place": b.place, "video": b.video,
           "cohort": b.cohort, "booked_by": b.booked_by, "created_at": b.created_at, "series": b.series}
    appointment_id = int(conn.execute(insert(_ap).returning(_ap.c.id), row).scalar_one())
    conn.execute(insert(_at), [{"appointment_id": appointment_id, "participant_id": pid} for pid in participant_ids])
    planned = reminders(appointment_id)
    plan_schedule(conn, schedule_rows([(pid, r) for pid in participant_ids for r in planned], b.created_at))
    detail = {"kind": b.kind, "attendees": len(participant_ids), **({"cohort": b.cohort} if b.cohort else {})}
    record = AuditRecord(b.booked_by, BOOKED, f"appointment:{appointment_id}", b.created_at, detail)
    conn.execute(insert(s.audit_log), audit_row(record))
    return appointment_id


@dataclass(frozen=True)
class MarkAttendance(ProgrammeOp):
    appointment_id: int
    participant_id: int
    attended: bool
    coach_id: str
    at: datetime

    def run(self, conn: Connection) -> bool:
        key = (_at.c.appointment_id == self.appointment_id, _at.c.participant_id == self.participant_id)
        before = conn.execute(select(_at.c.attendance).where(*key)).first()
        if before is None:
            return False
        attendance = ATTENDED if self.attended else MISSED
        conn.execute(update(_at).where(*key).values(attendance=attendance, marked_by=self.coach_id,
                                                   marked_at=self.at))
        if attendance == MISSED:  # a no-show: a coach follows it up, once (a corrected mark makes no second task)
            task = task_row(self.participant_id, CoachTaskRecord(MISSED_TASK, {"appointment": self.appointment_id},
                                                                 self.at))
            tk = s.coach_tasks
            made = conn.execute(select(tk.c.id).where(tk.c.participant_id == self.participant_id,
                                                      tk.c.kind == MISSED_TASK, tk.c.detail == task["detail"])).first()
            if made is None:
                conn.execute(insert(tk), task)
        ref = conn.execute(select(_p.c.ref).where(_p.c.id == self.participant_id)).scalar_one()
        record = AuditRecord(f"coach:{self.coach_id}", MARKED, f"participant:{ref}", self.at,
                             {"appointment": self.appointment_id, "attendance": attendance})
        conn.execute(insert(s.audit_log), audit_row(record))
        return True


def booking_of(row: Any) -> AppointmentBooking:
    return AppointmentBooking(row.kind, row.starts_at, row.minutes, row.place, row.video, row.booked_by,
                              row.created_at, row.cohort, row.series)


class AppointmentMethods(StoreBase):
    """The `Appointments` port."""

    async def book_appointment(self, booking: AppointmentBooking, participant_ids: Sequence[int],
                               reminders: Reminders) -> int:
        """Store the appointment, its attendees and `reminders(id)` planned for each of them, audited, in one
        transaction; its id. UnknownParticipantError or InvalidRecord (nobody) write nothing."""
        booking = replace(booking, starts_at=require_utc(booking.starts_at),
                          created_at=require_utc(booking.created_at))
        op = Book(booking, tuple(participant_ids), reminders)
        return cast(int, await self._writer.submit(Kind.PROGRAMME, op))

    async def mark_attendance(self, appointment_id: int, participant_id: int, attended: bool, coach_id: str,
                              at: datetime) -> bool:
        """Record whether they came (audited; may be corrected); the first "missed" makes a coach task. False when
        they are not expected at that appointment."""
        op = MarkAttendance(appointment_id, participant_id, attended, coach_id, require_utc(at))
        return cast(bool, await self._writer.submit(Kind.PROGRAMME, op))

    async def appointments(self, since: datetime | None = None, until: datetime | None = None,
                           participant_ids: Sequence[int] | None = None) -> list[Appointment]:
        """Appointments starting in [since, until), by start time (then id), with their attendees (only those in
        `participant_ids` when given; an appointment left with none is left out)."""
        query = select(_ap).order_by(_ap.c.starts_at, _ap.c.id)
        if since is not None:
            query = query.where(_ap.c.starts_at >= require_utc(since))
        if until is not None:
            query = query.where(_ap.c.starts_at < require_utc(until))
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
            ids = [row.id for row in rows]
            people = select(_at, _p.c.ref).join_from(_at, _p, _at.c.participant_id == _p.c.id).where(
                _at.c.appointment_id.in_(ids)).order_by(_p.c.ref)
            if participant_ids is not None:
                people = people.where(_at.c.participant_id.in_(list(participant_ids)))
            attendees = (await conn.execute(people)).all()
            answered = select(_mk.c.participant_id, _mk.c.kind, _mk.c.key, _mk.c.at).where(
                _mk.c.kind.in_([CONFIRMED_MARK, MOVE_MARK]), _mk.c.key.in_([str(i) for i in ids]))
            marks = (await conn.execute(answered)).all()
        moved = {row.id: row.moved_at for row in rows}
        current = {(m.participant_id, m.kind, m.key) for m in marks  # an answer to the time it is at now
                   if moved[int(m.key)] is None or m.at >= moved[int(m.key)]}
        by_id: dict[int, list[Attendee]] = {}
        for a in attendees:
            key = str(a.appointment_id)
            by_id.setdefault(a.appointment_id, []).append(Attendee(
                a.participant_id, a.ref, a.attendance, a.marked_by, a.marked_at,
                confirmed=(a.participant_id, CONFIRMED_MARK, key) in current,
                move_asked=(a.participant_id, MOVE_MARK, key) in current))
        return [Appointment(row.id, booking_of(row), tuple(by_id[row.id]), row.moves, row.moved_at, row.cancelled_at,
                            row.cancelled_by) for row in rows if row.id in by_id]
