"""Changing booked appointments on SQL (issue 15): cancelling one, moving it to another time, and booking the group
sessions a programme declares for a cohort. Part of the `Appointments` port (storage/desk_ports.py).

Each change is one transaction through the writer, so a crash leaves all of it or none:
- cancelling withdraws every attendee's pending reminders (schedule rows `appointment:<id>:...`) and plans the notice
  that tells them (a schedule row too: the engine writes it in their language and waits out the quiet hours);
- moving does the same and plans the reminders of the new time under new keys (`appointment:<id>:m<moves>:...`, so a
  reminder already sent for the old time never stops one for the new), and closes the coach's open "asked to move
  it" tasks of that appointment: the move is the answer;
- booking a cohort's declared sessions finds each by its `series` (unique: booked once, whoever runs it, however
  often), books the ones not booked yet and gives the members not in one yet a place with their reminders; a session
  cancelled or begun is left alone. Members beyond the session's max size get a coach task, once each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.appointment_records import AppointmentBooking, CohortMember, SessionSlot, SlotBooked
from storage.records import AuditRecord, CoachTaskRecord, ScheduledRecord, ScheduleStatus
from storage.sql import schema as s
from storage.sql.appointments import MOVE_MARK, booking_of, insert_appointment
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import dump_json, require_utc
from storage.sql.rows import audit_row, task_row
from storage.sql.schedule import ProgrammeOp, plan_schedule, unknown_among
from storage.sql.schedule_rows import schedule_rows

CANCELLED = "appointment.cancelled"
MOVED = "appointment.moved"
JOINED = "appointment.joined"
FULL = "group_sessions.full"
FULL_TASK = "group_sessions_full"  # a member beyond a declared session's max size: the administrator decides
DONE = "done"  # what a change answers: done, or why not
UNKNOWN, WAS_CANCELLED, BEGUN = "unknown", "cancelled", "begun"
_ap, _at, _sch, _tk, _p = s.appointments, s.appointment_attendees, s.schedule, s.coach_tasks, s.participants
Plan = Callable[[int, AppointmentBooking, int], list[ScheduledRecord]]  # (id, booking as now, moves) -> events


def _attendees(conn: Connection, appointment_id: int) -> list[int]:
    return list(conn.scalars(select(_at.c.participant_id).where(_at.c.appointment_id == appointment_id)
                             .order_by(_at.c.participant_id)))


def _withdraw_reminders(conn: Connection, appointment_id: int, participant_ids: Sequence[int], reason: str,
                        at: datetime) -> None:
    """Every pending reminder or notice of the appointment (its keys start `appointment:<id>:`) is cancelled."""
    if participant_ids:
        conn.execute(update(_sch).where(
            _sch.c.participant_id.in_(list(participant_ids)), _sch.c.kind == "appointment",
            _sch.c.key.like(f"appointment:{appointment_id}:%"), _sch.c.status == ScheduleStatus.PENDING.value,
        ).values(status=ScheduleStatus.CANCELLED.value, reason=reason, claimed_until=None, updated_at=at))


def _plan(conn: Connection, participant_ids: Sequence[int], events: list[ScheduledRecord], at: datetime) -> None:
    plan_schedule(conn, schedule_rows([(pid, e) for pid in participant_ids for e in events], at))


def _audit(conn: Connection, actor: str, action: str, appointment_id: int, at: datetime,
           detail: Mapping[str, Any]) -> None:
    conn.execute(insert(s.audit_log), audit_row(AuditRecord(actor, action, f"appointment:{appointment_id}", at,
                                                            dict(detail))))


def _unchangeable(row: Any, at: datetime) -> str | None:
    """Why the appointment cannot be cancelled or moved (unknown, already cancelled, begun); None when it can."""
    if row is None:
        return UNKNOWN
    if row.cancelled_at is not None:
        return WAS_CANCELLED
    return BEGUN if row.starts_at <= at else None


@dataclass(frozen=True)
class CancelAppointment(ProgrammeOp):
    appointment_id: int
    actor: str
    at: datetime
    notice: Plan

    def run(self, conn: Connection) -> str:
        row = conn.execute(select(_ap).where(_ap.c.id == self.appointment_id)).first()
        refused = _unchangeable(row, self.at)
        if refused is not None:
            return refused
        assert row is not None
        conn.execute(update(_ap).where(_ap.c.id == row.id).values(cancelled_at=self.at, cancelled_by=self.actor))
        people = _attendees(conn, row.id)
        _withdraw_reminders(conn, row.id, people, "appointment cancelled", self.at)
        _plan(conn, people, self.notice(row.id, booking_of(row), row.moves), self.at)
        _audit(conn, self.actor, CANCELLED, row.id, self.at, {"attendees": len(people)})
        return DONE


@dataclass(frozen=True)
class MoveAppointment(ProgrammeOp):
    appointment_id: int
    starts_at: datetime
    actor: str
    done_by: str  # who closes the "asked to move it" tasks (a coach id, or the operator)
    at: datetime
    plan: Plan  # the new time's reminders and the notice of the move

    def run(self, conn: Connection) -> str:
        row = conn.execute(select(_ap).where(_ap.c.id == self.appointment_id)).first()
        refused = _unchangeable(row, self.at)
        if refused is not None:
            return refused
        assert row is not None
        moves = row.moves + 1
        conn.execute(update(_ap).where(_ap.c.id == row.id).values(starts_at=self.starts_at, moves=moves,
                                                                  moved_at=self.at))
        people = _attendees(conn, row.id)
        _withdraw_reminders(conn, row.id, people, "appointment moved", self.at)
        moved = replace(booking_of(row), starts_at=self.starts_at)
        _plan(conn, people, self.plan(row.id, moved, moves), self.at)
        asked = dump_json({"appointment": str(row.id)})
        conn.execute(update(_tk).where(_tk.c.kind == MOVE_MARK, _tk.c.detail == asked, _tk.c.done_at.is_(None),
                                       _tk.c.participant_id.in_(people)).values(done_at=self.at,
                                                                                 done_by=self.done_by))
        _audit(conn, self.actor, MOVED, row.id, self.at, {"attendees": len(people), "moves": moves})
        return DONE


@dataclass(frozen=True)
class BookSessions(ProgrammeOp):
    """One declared series for a cohort: each slot booked or joined, the members over its size told about."""

    slots: tuple[SessionSlot, ...]
    over: tuple[int, ...]  # members beyond the max size, in enrolment order
    over_detail: Mapping[str, str | int]  # cohort, session id, max size
    actor: str
    at: datetime
    plan: Plan  # reminders still ahead at `at`

    def run(self, conn: Connection) -> tuple[list[SlotBooked], list[int]] | Exception:
        wanted = {pid for slot in self.slots for pid in slot.participant_ids} | set(self.over)
        refused = unknown_among(conn, wanted)
        if refused is not None:
            return refused
        done = [self._slot(conn, slot) for slot in self.slots]
        told = [pid for pid in self.over if self._tell(conn, pid)]
        return done, told

    def _slot(self, conn: Connection, slot: SessionSlot) -> SlotBooked:
        series = str(slot.booking.series)
        row = conn.execute(select(_ap).where(_ap.c.series == series)).first()
        if row is None:
            if slot.booking.starts_at <= self.at or not slot.participant_ids:
                return SlotBooked(series, None, False, (), False)
            people = sorted(slot.participant_ids)
            booked = insert_appointment(conn, slot.booking, people, lambda i: self.plan(i, slot.booking, 0))
            return SlotBooked(series, booked, True, tuple(people), True)
        if row.cancelled_at is not None or row.starts_at <= self.at:
            return SlotBooked(series, row.id, False, (), False)
        there = set(_attendees(conn, row.id))
        added = sorted(set(slot.participant_ids) - there)
        if added:
            conn.execute(insert(_at), [{"appointment_id": row.id, "participant_id": pid} for pid in added])
            _plan(conn, added, self.plan(row.id, booking_of(row), row.moves), self.at)
            _audit(conn, self.actor, JOINED, row.id, self.at, {"attendees": len(added)})
        return SlotBooked(series, row.id, False, tuple(added), True)

    def _tell(self, conn: Connection, participant_id: int) -> bool:
        """A task for the member's coach and the administrators, once per member and series; whether it is new."""
        task = task_row(participant_id, CoachTaskRecord(FULL_TASK, dict(self.over_detail), self.at))
        made = conn.execute(select(_tk.c.id).where(_tk.c.participant_id == participant_id, _tk.c.kind == FULL_TASK,
                                                   _tk.c.detail == task["detail"])).first()
        if made is not None:
            return False
        conn.execute(insert(_tk), task)
        ref = conn.execute(select(_p.c.ref).where(_p.c.id == participant_id)).scalar_one()
        conn.execute(insert(s.audit_log), audit_row(AuditRecord(self.actor, FULL, f"participant:{ref}", self.at,
                                                                dict(self.over_detail))))
        return True


class AppointmentChangeMethods(StoreBase):
    """The `Appointments` port's changes: cancel, move, a cohort's declared sessions."""

    async def cancel_appointment(self, appointment_id: int, actor: str, at: datetime, notice: Plan) -> str:
        """Cancel it, withdraw its pending reminders and plan `notice` for each attendee, audited; "done", or
        "unknown", "cancelled" (already) or "begun", writing nothing."""
        op = CancelAppointment(appointment_id, actor, require_utc(at), notice)
        return cast(str, await self._writer.submit(Kind.PROGRAMME, op))

    async def move_appointment(self, appointment_id: int, starts_at: datetime, actor: str, done_by: str,
                               at: datetime, plan: Plan) -> str:
        """Move it to `starts_at`: old reminders withdrawn, `plan` (new reminders, the notice) for each attendee,
        their open "asked to move it" tasks done by `done_by`, audited; "done", or why not as `cancel_appointment`."""
        op = MoveAppointment(appointment_id, require_utc(starts_at), actor, done_by, require_utc(at), plan)
        return cast(str, await self._writer.submit(Kind.PROGRAMME, op))

    async def book_sessions(self, slots: Sequence[SessionSlot], over: Sequence[int],
                            over_detail: Mapping[str, str | int], actor: str, at: datetime,
                            plan: Plan) -> tuple[list[SlotBooked], list[int]]:
        """One declared series for a cohort in one transaction: what each slot did, and the members over the max
        size newly given a task (those told before are not told again)."""
        op = BookSessions(tuple(slots), tuple(over), dict(over_detail), actor, require_utc(at), plan)
        try:
            return cast(tuple[list[SlotBooked], list[int]], await self._writer.submit(Kind.PROGRAMME, op))
        except IntegrityError:  # another process booked one of these sessions just now (PostgreSQL): join it
            return cast(tuple[list[SlotBooked], list[int]], await self._writer.submit(Kind.PROGRAMME, op))

    async def cohort_members(self, cohort: str) -> list[CohortMember]:
        """The cohort's participants in enrolment order, with their start dates, when they were enrolled and the
        programme they chose."""
        query = (select(_p.c.id, _p.c.ref, s.profiles.c.start_date, _p.c.created_at, s.profiles.c.programme)
                 .join_from(s.profiles, _p, s.profiles.c.participant_id == _p.c.id)
                 .where(s.profiles.c.cohort == cohort).order_by(_p.c.id))
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [CohortMember(row.id, row.ref, row.start_date, row.created_at, row.programme) for row in rows]
