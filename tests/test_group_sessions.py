"""Seed 001's group course through time (issue 15): a programme file declaring group sessions twice a week in weeks
1-4 (Mondays and Thursdays 09:00-12:00, up to 15 people). A cohort of three enrolled together gets the eight
sessions with their reminders (the day before, and two hours before: 07:00 is in the quiet hours, so 08:00); a fourth
enrolled in week 2 joins only the sessions still ahead; enrolling, re-running the booking and restarting the app book
nothing twice; a cohort bigger than the max size is reported, not split; a randomised cohort's control arm gets no
sessions. The real app on a SQLite file, a fake clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import COPENHAGEN
from bot.group_sessions import book_cohort_sessions
from bot.settings import reload_settings
from flows.programme import Programme
from storage.allocation_records import CONTROL, PROGRAMME, Draw, RandomisedCohort
from storage.records import Enrollment, ScheduleStatus
from tests.cohort_world import CohortWorld
from tests.conftest import app_without_consent, without_consent

ROOT = Path(__file__).resolve().parents[1]
GENTOFTE = ROOT / "tests" / "programmes" / "gentofte_groups.yaml"
START = date(2026, 3, 16)  # a Monday: the course's first session
COHORT = "gentofte-1"
GROUP = "Gruppemødet"  # the Danish reminders' word for a group session


@pytest.fixture
def gentofte(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BOT_PROGRAMME", str(GENTOFTE))
    reload_settings()
    yield
    reload_settings()


@pytest.fixture
async def app(tmp_path: Path, gentofte: None) -> AsyncIterator[App]:
    friday_before = datetime(2026, 3, 13, 12, 0, tzinfo=COPENHAGEN)
    async with app_without_consent(tmp_path, friday_before) as opened:
        yield opened


def programme_of(app: App) -> Programme:
    programme = app.registry.library.programme
    assert programme is not None and programme.id == "gentofte_groups"
    return programme


async def group_reminders(app: App, participant_id: int) -> list[str]:
    return sorted(r.key for r in await app.storage.schedule_of(participant_id) if r.kind == "appointment")


async def test_a_cohort_of_three_then_a_fourth_in_week_2_and_nothing_booked_twice(app: App, tmp_path: Path) -> None:
    world = CohortWorld(app, programme_of(app))
    anna, bo, carl = [await world.enrol(name, START, COHORT) for name in ("Anna", "Bo", "Carl")]
    sessions = await app.storage.appointments()
    assert len(sessions) == 8
    assert {(a.booking.kind, a.booking.minutes, a.booking.place, a.booking.cohort) for a in sessions} == {
        ("group", 180, "Gentofte Rådhus, mødelokale 2", COHORT)}
    assert all([p.ref for p in a.attendees] == sorted([anna.ref, bo.ref, carl.ref]) for a in sessions)
    assert [world.local(a.booking.starts_at) for a in sessions] == [
        "Mon 16.03 09:00", "Thu 19.03 09:00", "Mon 23.03 09:00", "Thu 26.03 09:00",
        "Mon 30.03 09:00", "Thu 02.04 09:00", "Mon 06.04 09:00", "Thu 09.04 09:00"]  # the clocks change on 29.03
    assert [len(await group_reminders(app, p.id)) for p in (anna, bo, carl)] == [16, 16, 16]
    assert [invite.group_sessions.series[0].booked if invite.group_sessions else None
            for invite in world.invites] == [8, 0, 0]  # the first enrolment booked them, the others joined
    assert [invite.group_sessions.series[0].places if invite.group_sessions else None
            for invite in world.invites] == [8, 8, 8]

    await world.run_until(world.at(date(2026, 3, 24), 12))  # Tuesday of week 2
    first_week = [
        "Sun 15.03 09:00 | Påmindelse: Gruppemødet er mandag den 16. marts kl. 09.00.",  # the day before
        "Mon 16.03 08:00 | Påmindelse: Gruppemødet er mandag den 16. marts kl. 09.00.",  # 07:00 is quiet: 08:00
        "Wed 18.03 09:00 | Påmindelse: Gruppemødet er torsdag den 19. marts kl. 09.00.",
        "Thu 19.03 08:00 | Påmindelse: Gruppemødet er torsdag den 19. marts kl. 09.00.",
        "Sun 22.03 09:00 | Påmindelse: Gruppemødet er mandag den 23. marts kl. 09.00.",
        "Mon 23.03 08:00 | Påmindelse: Gruppemødet er mandag den 23. marts kl. 09.00.",
    ]
    assert world.lines(anna, GROUP) == world.lines(bo, GROUP) == world.lines(carl, GROUP) == first_week
    deferred = next(r for r in await app.storage.schedule_of(anna.id) if r.key.endswith(":two_hours"))
    assert (deferred.status, world.local(deferred.due_at)) == (ScheduleStatus.SENT, "Mon 16.03 08:00")
    assert "Sted: Gentofte Rådhus, mødelokale 2." in world.texts(anna, GROUP)[0]

    dorte = await world.enrol("Dorte", None, COHORT)  # enrolled on Tuesday of week 2: the five sessions ahead
    joined = [a for a in await app.storage.appointments() if dorte.ref in [p.ref for p in a.attendees]]
    assert [world.local(a.booking.starts_at) for a in joined] == [
        "Thu 26.03 09:00", "Mon 30.03 09:00", "Thu 02.04 09:00", "Mon 06.04 09:00", "Thu 09.04 09:00"]
    assert len(await group_reminders(app, dorte.id)) == 10
    assert len(await app.storage.appointments()) == 8

    # running the booking again, and again after a restart, books nothing and plans no reminder twice
    before = {p.id: await app.storage.schedule_of(p.id) for p in world.people}
    again = await book_cohort_sessions(app.storage, world.programme, COHORT, app.clock.now(), "admin:test")
    assert [(s.booked, s.places, s.ahead, s.over) for s in again.series] == [(0, 0, 5, ())]
    assert {p.id: await app.storage.schedule_of(p.id) for p in world.people} == before

    await world.run_until(world.at(date(2026, 4, 10), 12))
    assert world.lines(dorte, GROUP) == [
        "Wed 25.03 09:00 | Påmindelse: Gruppemødet er torsdag den 26. marts kl. 09.00.",
        "Thu 26.03 08:00 | Påmindelse: Gruppemødet er torsdag den 26. marts kl. 09.00.",
        "Sun 29.03 09:00 | Påmindelse: Gruppemødet er mandag den 30. marts kl. 09.00.",  # summer time from today
        "Mon 30.03 08:00 | Påmindelse: Gruppemødet er mandag den 30. marts kl. 09.00.",
        "Wed 01.04 09:00 | Påmindelse: Gruppemødet er torsdag den 2. april kl. 09.00.",
        "Thu 02.04 08:00 | Påmindelse: Gruppemødet er torsdag den 2. april kl. 09.00.",
        "Sun 05.04 09:00 | Påmindelse: Gruppemødet er mandag den 6. april kl. 09.00.",
        "Mon 06.04 08:00 | Påmindelse: Gruppemødet er mandag den 6. april kl. 09.00.",
        "Wed 08.04 09:00 | Påmindelse: Gruppemødet er torsdag den 9. april kl. 09.00.",
        "Thu 09.04 08:00 | Påmindelse: Gruppemødet er torsdag den 9. april kl. 09.00.",
    ]
    assert world.lines(anna, GROUP)[:6] == first_week and len(world.lines(anna, GROUP)) == 16
    assert world.lines(anna, GROUP)[6:] == world.lines(dorte, GROUP)

    clock = app.clock
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=without_consent(tmp_path),
                        coach_channels={}) as restarted:
        after = await book_cohort_sessions(restarted.storage, programme_of(restarted), COHORT, clock.now(), "admin:x")
        assert [(s.booked, s.places, s.ahead) for s in after.series] == [(0, 0, 0)]  # all of them have begun
        assert len(await restarted.storage.appointments()) == 8
    booked = [e for e in await app.storage.audit_entries() if e.action == "appointment.booked"]
    assert len(booked) == 8


async def test_a_cohort_over_the_max_size_is_reported_not_split(app: App) -> None:
    small = replace(programme_of(app), group_sessions=tuple(replace(s, max_size=3)
                                                             for s in programme_of(app).group_sessions))
    world = CohortWorld(app, small)
    people = [await world.enrol(name, START, COHORT) for name in ("Anna", "Bo", "Carl", "Dorte")]
    report = world.invites[-1].group_sessions
    assert report is not None and report.over
    assert report.lines() == [
        f"cohort {COHORT}, group sessions 'group_course': 0 booked, 0 places given, 8 ahead",
        f"  1 member(s) beyond the 3 places are not booked: {people[3].ref}. Move them to another cohort, or raise "
        "max_size in the programme file and run `appointments sessions` again.",
    ]
    sessions = await app.storage.appointments()
    assert len(sessions) == 8 and all(len(a.attendees) == 3 for a in sessions)  # one group, not two
    assert await group_reminders(app, people[3].id) == []
    tasks = await app.storage.coach_tasks()
    assert [(t.participant_id, t.kind, t.detail) for t in tasks] == [
        (people[3].id, "group_sessions_full", {"cohort": COHORT, "sessions": "group_course", "max_size": 3})]

    again = await book_cohort_sessions(app.storage, small, COHORT, app.clock.now(), "admin:test")
    assert again.series[0].over == (people[3].ref,) and again.series[0].told == ()  # told once
    assert len(await app.storage.coach_tasks()) == 1
    # the administrator raises the max size: the fourth gets the places that are still ahead
    roomier = replace(small, group_sessions=tuple(replace(s, max_size=4) for s in small.group_sessions))
    app.clock.set(world.at(date(2026, 3, 17), 12))  # type: ignore[attr-defined]
    raised = await book_cohort_sessions(app.storage, roomier, COHORT, app.clock.now(), "admin:test")
    assert [(s.booked, s.places, s.ahead, s.over) for s in raised.series] == [(0, 7, 7, ())]
    assert len(await group_reminders(app, people[3].id)) == 14


async def test_the_control_arm_of_a_randomised_cohort_gets_no_group_sessions(app: App) -> None:
    now = app.clock.now()
    await app.storage.randomise_cohort(RandomisedCohort(COHORT, "scripted", "test", "admin:test", now))
    arms = (CONTROL, PROGRAMME, CONTROL, PROGRAMME)
    enrolled = [(await app.storage.enroll_allocated(
        Enrollment(f"p-{i}", f"Person {i}", "da", START, "coach", cohort=COHORT), now,
        lambda _, arm=arm: Draw(arm, 0, 4), "admin:test"))[0] for i, arm in enumerate(arms)]
    report = await book_cohort_sessions(app.storage, programme_of(app), COHORT, now, "admin:test")
    assert [(s.booked, s.places) for s in report.series] == [(8, 16)]
    sessions = await app.storage.appointments()
    assert {tuple(p.ref for p in a.attendees) for a in sessions} == {(enrolled[1].ref, enrolled[3].ref)}
