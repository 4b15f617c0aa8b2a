"""Cancelling, moving and a cohort's declared group sessions on SQLite and PostgreSQL
(storage/sql/appointment_changes.py): each change in one transaction with the reminders it withdraws and plans; a
declared session booked once by its key, joined by who is not in it yet, left alone once cancelled or begun; a member
over the max size told once; and revision 0009 keeping the appointments booked before it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from storage import Enrollment, SqlStorage
from storage.appointment_records import AppointmentBooking, SessionSlot
from storage.records import MarkRecord, ScheduledRecord
from storage.sql import schema as s
from storage.upgrade import alembic_config, head

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STARTS = T + timedelta(days=3)
Plan = Callable[[int, AppointmentBooking, int], list[ScheduledRecord]]


def plan(appointment_id: int, booking: AppointmentBooking, moves: int) -> list[ScheduledRecord]:
    prefix = f"appointment:{appointment_id}:" + (f"m{moves}:" if moves else "")
    return [ScheduledRecord(prefix + "day_before", "appointment", booking.starts_at - timedelta(days=1),
                            {"appointment": str(appointment_id)})]


def notice(name: str) -> Plan:
    def made(appointment_id: int, booking: AppointmentBooking, moves: int) -> list[ScheduledRecord]:
        return [ScheduledRecord(f"appointment:{appointment_id}:m{moves}:{name}", "appointment", T, {})]
    return made


async def rows_of(store: SqlStorage, participant_id: int) -> list[tuple[str, str, str]]:
    return [(r.key, r.status.value, r.reason) for r in await store.schedule_of(participant_id)]


async def test_move_then_cancel(store: SqlStorage) -> None:
    anna = await store.enroll(Enrollment("p-anna", "Anna", "da", T.date(), "coach"), T)
    booking = AppointmentBooking("coaching", STARTS, 45, "Jobcentret", "", "coach:coach", T)
    talk = await store.book_appointment(booking, [anna.id], lambda i: plan(i, booking, 0))
    await store.add_mark(anna.id, MarkRecord("appointment_move", str(talk), {}, T + timedelta(minutes=5)))
    [asked] = [a.move_asked for a in (await store.appointments())[0].attendees]
    assert asked

    later = STARTS + timedelta(days=1)
    moved_at = T + timedelta(hours=1)

    def move_plan(i: int, b: AppointmentBooking, moves: int) -> list[ScheduledRecord]:
        return plan(i, b, moves) + notice("moved")(i, b, moves)

    assert await store.move_appointment(talk + 99, later, "coach:coach", "coach", moved_at, move_plan) == "unknown"
    assert await store.move_appointment(talk, later, "coach:coach", "coach", moved_at, move_plan) == "done"
    assert await rows_of(store, anna.id) == [
        (f"appointment:{talk}:m1:moved", "pending", ""),
        (f"appointment:{talk}:day_before", "cancelled", "appointment moved"),
        (f"appointment:{talk}:m1:day_before", "pending", ""),
    ]
    [listed] = await store.appointments()
    assert (listed.booking.starts_at, listed.moves, listed.moved_at) == (later, 1, moved_at)
    assert [(a.confirmed, a.move_asked) for a in listed.attendees] == [(False, False)]  # asked before the move
    await store.add_mark(anna.id, MarkRecord("appointment_confirmed", str(talk), {}, moved_at + timedelta(hours=1)))
    [listed] = await store.appointments()
    assert [(a.confirmed, a.move_asked) for a in listed.attendees] == [(True, False)]

    cancel_at = moved_at + timedelta(hours=2)
    assert await store.cancel_appointment(talk, "coach:coach", cancel_at, notice("cancelled")) == "done"
    assert await store.cancel_appointment(talk, "coach:coach", cancel_at, notice("cancelled")) == "cancelled"
    assert await store.move_appointment(talk, later, "coach:coach", "coach", cancel_at, move_plan) == "cancelled"
    assert await rows_of(store, anna.id) == [
        (f"appointment:{talk}:m1:moved", "cancelled", "appointment cancelled"),  # not sent yet: no longer news
        (f"appointment:{talk}:m1:cancelled", "pending", ""),
        (f"appointment:{talk}:day_before", "cancelled", "appointment moved"),
        (f"appointment:{talk}:m1:day_before", "cancelled", "appointment cancelled"),
    ]
    [listed] = await store.appointments()
    assert (listed.cancelled_at, listed.cancelled_by) == (cancel_at, "coach:coach")

    begun = await store.book_appointment(booking, [anna.id], lambda i: plan(i, booking, 0))
    assert await store.cancel_appointment(begun, "coach:coach", STARTS, notice("cancelled")) == "begun"
    audit = sorted(e.action for e in await store.audit_entries() if e.subject == f"appointment:{talk}")
    assert audit == ["appointment.booked", "appointment.cancelled", "appointment.moved"]


async def test_declared_sessions_booked_once_joined_and_over_the_size(store: SqlStorage) -> None:
    people = [await store.enroll(Enrollment(f"p-{name}", name, "da", date(2026, 11, 23), "coach", cohort="hold-1"), T)
              for name in ("anna", "bo", "carl")]
    await store.enroll(Enrollment("p-else", "Else", "da", date(2026, 11, 23), "coach", cohort="hold-2"), T)
    assert [(m.ref, m.start_date, m.enrolled_at) for m in await store.cohort_members("hold-1")] == [
        ("p-anna", date(2026, 11, 23), T), ("p-bo", date(2026, 11, 23), T), ("p-carl", date(2026, 11, 23), T)]
    anna, bo, carl = (p.id for p in people)

    def slot(week: int, starts: datetime, *pids: int) -> SessionSlot:
        return SessionSlot(AppointmentBooking("group", starts, 180, "Rådhuset", "", "admin:x", T, "hold-1",
                                              f"p:hold-1:course:w{week}-mon"), pids)

    first = [slot(1, T - timedelta(hours=1), anna, bo), slot(2, STARTS, anna, bo)]  # week 1 has begun
    detail = {"cohort": "hold-1", "sessions": "course", "max_size": 2}
    done, told = await store.book_sessions(first, [carl], detail, "admin:x", T, plan)
    assert [(d.created, d.added, d.ahead) for d in done] == [(False, (), False), (True, (anna, bo), True)]
    assert told == [carl]
    again, told = await store.book_sessions(first, [carl], detail, "admin:x", T, plan)
    assert [(d.appointment_id, d.created, d.added) for d in again] == [(None, False, ()), (done[1].appointment_id,
                                                                                        False, ())]
    assert told == []  # told once
    [booked] = await store.appointments()
    assert booked.booking.series == "p:hold-1:course:w2-mon"
    joined, _ = await store.book_sessions([slot(2, STARTS, anna, bo, carl)], [], detail, "admin:x", T, plan)
    assert joined[0].added == (carl,)
    assert [r.key for r in await store.schedule_of(carl)] == [f"appointment:{booked.id}:day_before"]
    assert [(t.participant_id, t.kind, t.detail) for t in await store.coach_tasks()] == [
        (carl, "group_sessions_full", detail)]
    assert await store.cancel_appointment(booked.id, "admin:x", T, notice("cancelled")) == "done"
    after, _ = await store.book_sessions([slot(2, STARTS, anna, bo, carl)], [], detail, "admin:x", T, plan)
    assert [(d.created, d.added, d.ahead) for d in after] == [(False, (), False)]  # cancelled stays cancelled
    assert len(await store.appointments()) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else (
        f"sqlite:///{tmp_path}/bot.sqlite")
    made = create_engine(url)
    try:
        yield made
    finally:
        made.dispose()


def test_revision_0009_keeps_what_was_booked_and_makes_a_series_unique(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0008")
        conn.execute(insert(s.appointments).values(  # a booking made before the revision: its columns only
            kind="group", starts_at=STARTS, minutes=180, place="Rådhuset", video="", cohort="hold-1",
            booked_by="coach:coach", created_at=T))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), head())
        row = conn.execute(select(s.appointments)).one()
        assert (row.kind, row.moves, row.moved_at, row.cancelled_at, row.cancelled_by, row.series) == (
            "group", 0, None, None, None, None)
        twice = {"kind": "group", "starts_at": STARTS, "minutes": 180, "place": "", "video": "https://v.example.dk",
                 "booked_by": "admin:x", "created_at": T, "series": "p:hold-1:course:w1-mon"}
        conn.execute(insert(s.appointments), twice)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(s.appointments), twice)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
        assert conn.exec_driver_sql("SELECT count(*) FROM appointments").scalar_one() == 2

