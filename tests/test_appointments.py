"""Appointments through time (issue 15): booked, reminded the day before and two hours before (a reminder due in
the quiet hours waits for the morning), confirmed, asked to move (the coach's inbox gets it), and a no-show that
becomes a coach task. The real app, scheduler and loop on a SQLite file, with a fake clock (tests/programme_world.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.appointments import BookingError, BookingRequest, book
from storage.records import ScheduleStatus
from tests.conftest import app_without_consent
from tests.programme_world import World
from tests.test_programme import answers

START = date(2026, 3, 16)  # a Monday
COACH = "coach:coach"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0).astimezone()) as opened:
        yield opened


def reminders(world: World, *whens: str) -> list[str]:
    """The timeline's reminders of these appointments, as "Tue 17.03 14:00 | when"."""
    return [f"{world.local(at)} | {when}" for at, text in world.timeline for when in whens if when in text]


async def test_two_talks_reminded_confirmed_moved_and_a_no_show(app: App) -> None:
    world = await World.open(app, START, coach="coach")
    world.responder = answers
    talk, group = await book(app.storage, [
        BookingRequest("screening", "18-03-2026 14:00", 45, place="Rådhuset, lokale 2", people=("p-world",)),
        BookingRequest("group", "19.03.2026 kl. 09.00", 180, video="https://video.example.dk/gruppe",
                       people=("p-world",)),
    ], COACH, app.clock.now())
    await world.run_until(world.at(date(2026, 3, 18), 13))
    talk_when, group_when = "onsdag den 18. marts kl. 14.00", "torsdag den 19. marts kl. 09.00"
    assert reminders(world, talk_when, group_when) == [
        f"Tue 17.03 14:00 | {talk_when}",  # the day before, at the same time
        f"Wed 18.03 09:00 | {group_when}",
        f"Wed 18.03 12:00 | {talk_when}",  # two hours before
    ]
    sent = next(text for _, text in world.timeline if talk_when in text)
    assert "Rådhuset, lokale 2" in sent
    assert (await world.say("OK"))[0].endswith(f"{talk_when}.")  # the last reminder's: the talk's

    await world.run_until(world.at(date(2026, 3, 19), 8, 30))
    # two hours before 09:00 is 07:00, in the quiet hours (21-08): it waits for 08:00
    assert reminders(world, group_when)[-1] == f"Thu 19.03 08:00 | {group_when}"
    two_hours = next(r for r in await world.rows() if r.key == f"appointment:{group}:two_hours")
    assert two_hours.status is ScheduleStatus.SENT
    assert "https://video.example.dk/gruppe" in world.timeline[-1][1] or any(
        "https://video.example.dk/gruppe" in text for _, text in world.timeline if group_when in text)
    await world.say("flyt")

    inbox = await app.storage.coach_messages([world.participant.id])
    assert [(m.body, m.detail) for m in inbox] == [("flyt", {"appointment": str(group)})]
    booked = {a.id: a for a in await app.storage.appointments()}
    assert [(a.confirmed, a.move_asked) for a in booked[talk].attendees] == [(True, False)]
    assert [(a.confirmed, a.move_asked) for a in booked[group].attendees] == [(False, True)]
    tasks = await app.storage.coach_tasks()
    assert [(t.kind, t.detail) for t in tasks] == [("appointment_move", {"appointment": str(group)})]

    # the screening talk was missed: the coach marks it, and a task follows it up (once, even if marked twice)
    assert await app.storage.mark_attendance(talk, world.participant.id, False, "coach", app.clock.now())
    assert await app.storage.mark_attendance(talk, world.participant.id, False, "coach", app.clock.now())
    assert await app.storage.mark_attendance(group, world.participant.id, True, "coach", app.clock.now())
    tasks = await app.storage.coach_tasks()
    assert [(t.kind, t.detail) for t in tasks] == [("appointment_move", {"appointment": str(group)}),
                                                  ("appointment_missed", {"appointment": talk})]
    booked = {a.id: a for a in await app.storage.appointments()}
    assert [a.attendance for a in booked[talk].attendees] == ["missed"]
    assert [a.attendance for a in booked[group].attendees] == ["attended"]
    audit = [(e.action, e.detail.get("attendance")) for e in await app.storage.audit_entries()
             if e.action.startswith("appointment.")]
    assert audit.count(("appointment.booked", None)) == 2
    assert audit.count(("appointment.attendance", "missed")) == 2


async def test_an_ok_without_a_reminder_waiting_is_not_a_confirmation(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await book(app.storage, [BookingRequest("coaching", "20-03-2026 10:00", place="Jobcentret",
                                               people=("p-world",))], COACH, app.clock.now())
    await world.run_until(world.at(date(2026, 3, 18), 12))  # before the first reminder
    await world.say("OK")
    [appointment] = await app.storage.appointments()
    assert [(a.confirmed, a.move_asked) for a in appointment.attendees] == [(False, False)]


async def test_a_booking_with_problems_names_them_all_and_saves_nothing(app: App) -> None:
    await World.open(app, START)
    with pytest.raises(BookingError) as refused:
        await book(app.storage, [
            BookingRequest("coaching", "20-03-2026 10:00", place="Jobcentret", people=("p-world",)),
            BookingRequest("yoga", "31-02-2026 10:00", people=("p-nobody",)),
        ], COACH, app.clock.now())
    assert refused.value.problems == (
        "kind 'yoga' is not one of screening, group, coaching, counselling, follow_up",
        "time '31-02-2026 10:00' is not a date and time like 24-12-2026 14:00",
        "give a place or a video link",
        "no participant 'p-nobody'",
    )
    assert await app.storage.appointments() == []
