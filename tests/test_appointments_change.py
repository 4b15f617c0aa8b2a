"""A booked talk moved and then cancelled by the coach (issue 15), through time: the participant asks to move it, the
coach moves it late in the evening (the notice of the new time waits for the morning, the old time's reminder never
comes, the request's task is done), the participant confirms the new time, and the coach cancels it after its
day-before reminder (the notice says so kindly, the two-hours reminder is withdrawn, an OK is no longer a
confirmation). The real app, scheduler and loop on a SQLite file, with a fake clock (tests/programme_world.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.appointment_changes import cancel, move
from bot.appointments import BookingError, BookingRequest, book
from bot.clock import COPENHAGEN
from tests.conftest import app_without_consent
from tests.programme_world import World
from tests.test_programme import answers

START = date(2026, 3, 16)  # a Monday
COACH = "coach:coach"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0, tzinfo=COPENHAGEN)) as opened:
        yield opened


def about(world: World, *words: str) -> list[str]:
    """The timeline's messages mentioning any of `words`, as "Fri 20.03 08:00 | first line"."""
    return [f"{world.local(at)} | {text.splitlines()[0]}" for at, text in world.timeline
            if any(w in text for w in words)]


async def statuses(world: World, appointment_id: int) -> dict[str, tuple[str, str]]:
    return {r.key: (r.status.value, r.reason) for r in await world.rows()
            if r.key.startswith(f"appointment:{appointment_id}:")}


async def test_moved_after_a_request_then_cancelled_the_participant_told_each_time(app: App) -> None:
    world = await World.open(app, START, coach="coach")
    world.responder = answers
    [talk] = await book(app.storage, [BookingRequest("coaching", "20-03-2026 10:00", 45, place="Jobcentret",
                                                     people=("p-world",))], COACH, app.clock.now())
    await world.run_until(world.at(date(2026, 3, 19), 11))
    old_when, new_when = "fredag den 20. marts kl. 10.00", "tirsdag den 24. marts kl. 13.00"
    assert about(world, old_when) == [f"Thu 19.03 10:00 | Påmindelse: Din coachingsamtale er {old_when}."]
    assert (await world.say("FLYT"))[0] == "Tak. Din coach kontakter dig for at finde en anden tid."
    [asked] = await app.storage.coach_tasks()
    assert (asked.kind, asked.detail) == ("appointment_move", {"appointment": str(talk)})

    world.set_clock(world.at(date(2026, 3, 19), 22, 30))  # the coach moves it late in the evening
    assert await move(app.storage, talk, "24.03.2026 kl. 13.00", COACH, "coach", app.clock.now()) == (
        world.at(date(2026, 3, 24), 13))
    assert await statuses(world, talk) == {
        f"appointment:{talk}:day_before": ("sent", ""),
        f"appointment:{talk}:two_hours": ("cancelled", "appointment moved"),  # Friday 08:00: never sent
        f"appointment:{talk}:m1:moved": ("pending", ""),
        f"appointment:{talk}:m1:day_before": ("pending", ""),
        f"appointment:{talk}:m1:two_hours": ("pending", ""),
    }
    assert [(t.kind, t.done_by) for t in await app.storage.coach_tasks(only_open=False)] == [
        ("appointment_move", "coach")]  # the move answers the request
    [listed] = await app.storage.appointments()
    assert (listed.booking.starts_at, listed.moves) == (world.at(date(2026, 3, 24), 13), 1)
    assert [(a.confirmed, a.move_asked) for a in listed.attendees] == [(False, False)]  # the request is answered

    await world.run_until(world.at(date(2026, 3, 20), 12))
    moved = "Fri 20.03 08:00 | Bemærk: Din coachingsamtale er flyttet til tirsdag den 24. marts kl. 13.00."
    assert about(world, old_when, new_when) == [  # the notice waited out the quiet hours; no reminder of Friday 10:00
        f"Thu 19.03 10:00 | Påmindelse: Din coachingsamtale er {old_when}.", moved]
    notice = next(text for _, text in world.timeline if "flyttet" in text)
    assert "Sted: Jobcentret." in notice and "Skriv OK for at bekræfte" in notice
    assert (await world.say("OK"))[0] == f"Tak for din bekræftelse. Vi ses {new_when}."
    [listed] = await app.storage.appointments()
    assert [(a.confirmed, a.move_asked) for a in listed.attendees] == [(True, False)]

    await world.run_until(world.at(date(2026, 3, 23), 21, 30))  # the new time's day-before reminder, then
    await cancel(app.storage, talk, COACH, app.clock.now())  # cancelled in the evening
    await world.run_until(world.at(date(2026, 3, 24), 9))
    assert about(world, new_when)[1:] == [
        f"Mon 23.03 13:00 | Påmindelse: Din coachingsamtale er {new_when}.",
        f"Tue 24.03 08:00 | Vi beklager: Din coachingsamtale {new_when} er aflyst.",
    ]
    cancelled = next(text for _, text in world.timeline if "aflyst" in text)
    assert cancelled.splitlines()[-1] == (
        "Du skal ikke gøre noget. Din coach kontakter dig, hvis der skal findes en ny tid.")
    assert (await statuses(world, talk))[f"appointment:{talk}:m1:two_hours"] == ("cancelled", "appointment cancelled")
    assert (await statuses(world, talk))[f"appointment:{talk}:m1:cancelled"] == ("sent", "")
    await world.say("OK")  # answering Monday's reminder: it is no longer waiting for one
    confirmations = [m for m in await app.storage.marks(world.participant.id) if m.kind == "appointment_confirmed"]
    assert len(confirmations) == 1  # Friday's
    await world.run_until(world.at(date(2026, 3, 25), 12))
    assert about(world, new_when)[-1].startswith("Tue 24.03 08:00 | Vi beklager")  # nothing after the cancellation

    [listed] = await app.storage.appointments()
    assert listed.cancelled_at == world.at(date(2026, 3, 23), 21, 30) and listed.cancelled_by == COACH
    with pytest.raises(BookingError) as again:
        await cancel(app.storage, talk, COACH, app.clock.now())
    assert again.value.problems == (f"appointment {talk} is already cancelled",)
    with pytest.raises(BookingError) as moving:
        await move(app.storage, talk, "30-03-2026 10:00", COACH, "coach", app.clock.now())
    assert moving.value.problems == (f"appointment {talk} is already cancelled",)
    audit = [e.action for e in await app.storage.audit_entries() if e.subject == f"appointment:{talk}"]
    assert sorted(audit) == ["appointment.booked", "appointment.cancelled", "appointment.moved"]


async def test_in_english_and_what_cannot_be_changed(app: App) -> None:
    world = await World.open(app, START, lang="en")
    [talk, passed] = await book(app.storage, [
        BookingRequest("group", "18-03-2026 09:00", 180, video="https://video.example.dk/g", people=("p-world",)),
        BookingRequest("screening", "16-03-2026 09:00", 45, place="Rådhuset", people=("p-world",)),
    ], COACH, app.clock.now())
    await cancel(app.storage, talk, COACH, app.clock.now())
    await world.run_until(world.at(date(2026, 3, 15), 13))
    assert about(world, "cancelled") == [
        "Sun 15.03 12:00 | We are sorry: the group session Wednesday 18 March at 09:00 is cancelled."]
    assert world.timeline[-1][1].splitlines()[-1] == (
        "You do not need to do anything. Your coach will contact you if a new time is needed.")

    await world.run_until(world.at(date(2026, 3, 16), 10))
    with pytest.raises(BookingError) as begun:
        await move(app.storage, passed, "20-03-2026 10:00", COACH, "coach", app.clock.now())
    assert begun.value.problems == (f"appointment {passed} has begun, so it cannot be changed",)
    with pytest.raises(BookingError) as unknown:
        await cancel(app.storage, 999, COACH, app.clock.now())
    assert unknown.value.problems == ("there is no appointment 999",)
    for when, problem in (("20-13-2026 10:00", "time '20-13-2026 10:00' is not a date and time like 24-12-2026 14:00"),
                          ("15-03-2026 10:00", "time '15-03-2026 10:00' has passed")):
        with pytest.raises(BookingError) as refused:
            await move(app.storage, passed, when, COACH, "coach", app.clock.now())
        assert refused.value.problems == (problem,)
