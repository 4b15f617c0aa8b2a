"""The `Appointments` port on SQLite and PostgreSQL: a booking with its reminders in one transaction, nothing written
for an unknown participant, attendance corrected without a second task, and erasure taking the attendance along."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import Enrollment, SqlStorage
from storage.appointment_records import AppointmentBooking
from storage.errors import UnknownParticipantError
from storage.records import ScheduledRecord

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STARTS = T + timedelta(days=3)


def reminders(appointment_id: int) -> list[ScheduledRecord]:
    return [ScheduledRecord(f"appointment:{appointment_id}:{name}", "appointment", STARTS - before,
                            {"appointment": str(appointment_id)})
            for name, before in (("day_before", timedelta(days=1)), ("two_hours", timedelta(hours=2)))]


async def test_book_list_mark_and_erase(store: SqlStorage) -> None:
    anna = await store.enroll(Enrollment("p-anna", "Anna", "da", T.date(), "coach"), T)
    bo = await store.enroll(Enrollment("p-bo", "Bo", "da", T.date(), "coach"), T)
    booking = AppointmentBooking("group", STARTS, 180, "Rådhuset", "", "coach:coach", T, "hold-1")
    with pytest.raises(UnknownParticipantError):
        await store.book_appointment(booking, [anna.id, 9999], reminders)
    assert await store.appointments() == [] and await store.schedule_of(anna.id) == []

    booked = await store.book_appointment(booking, [bo.id, anna.id], reminders)
    [listed] = await store.appointments(since=T)
    assert (listed.id, listed.booking, [a.ref for a in listed.attendees]) == (booked, booking, ["p-anna", "p-bo"])
    assert listed.ends_at == STARTS + timedelta(hours=3)
    assert [r.key for r in await store.schedule_of(anna.id)] == [f"appointment:{booked}:day_before",
                                                                 f"appointment:{booked}:two_hours"]
    assert await store.appointments(since=STARTS + timedelta(minutes=1)) == []
    [only_bo] = await store.appointments(participant_ids=[bo.id])
    assert [a.ref for a in only_bo.attendees] == ["p-bo"]

    assert not await store.mark_attendance(booked + 1, anna.id, False, "coach", T)
    assert await store.mark_attendance(booked, anna.id, False, "coach", STARTS)
    assert await store.mark_attendance(booked, anna.id, True, "coach", STARTS)  # corrected
    assert await store.mark_attendance(booked, anna.id, False, "coach", STARTS)  # and back: still one task
    assert [(t.participant_id, t.kind) for t in await store.coach_tasks()] == [(anna.id, "appointment_missed")]
    [listed] = await store.appointments()
    assert [(a.ref, a.attendance, a.marked_by) for a in listed.attendees] == [("p-anna", "missed", "coach"),
                                                                             ("p-bo", None, None)]
    [removed] = await store.erase_participants([anna.id], "admin:test", "request", STARTS)
    assert removed is not None and removed["appointment_attendees"] == 1
    [listed] = await store.appointments()
    assert [a.ref for a in listed.attendees] == ["p-bo"]
