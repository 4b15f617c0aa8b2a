"""A coach pauses, stops and resumes a person's programme (the desk's person page, flows `CoachPause`), through the real
scheduler, loop and SQLite file with a fake clock: the programme's own messages wait or are skipped, the person's
words are still answered (a crisis reply first), and only a coach lifts what a coach set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from flows.inputs import CoachPause
from storage.records import Priority, ScheduleStatus
from tests.conftest import app_without_consent
from tests.programme_world import World
from tests.test_programme import answers

START = date(2026, 3, 16)  # a Monday


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0).astimezone()) as opened:
        yield opened


async def coach(world: World, action: str, until: datetime | None = None) -> None:
    await world.app.loop.handle(world.participant, CoachPause(action, "coach", "Indlagt på hospitalet", until),
                                "console")


async def test_a_pause_with_an_end_holds_the_module_until_it_ends_and_skips_the_reminders(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    await coach(world, "pause", world.at(START + timedelta(days=10), 0))
    assert (await app.loop.state_of(world.participant)).progress.coach_hold == "pause"
    await world.run_until(world.at(START + timedelta(days=9), 23))
    assert world.lines(since=world.at(START, 12)) == []  # module 2 (day 7), exercises, the check-in: nothing
    skipped = {r.key: r.reason for r in await world.rows() if r.status is ScheduleStatus.SKIPPED}
    assert skipped["exercise:2026-03-18"] == "paused by a coach"
    await world.run_until(world.at(START + timedelta(days=10), 11))
    assert any("Modul 2 er klar" in line for line in world.lines(since=world.at(START + timedelta(days=10), 0)))
    marks = [(m.kind, m.key, m.detail) for m in await app.storage.marks(world.participant.id)
             if m.kind.startswith("coach_")]
    assert marks == [("coach_pause", "coach", {"reason": "Indlagt på hospitalet",
                                               "until": world.at(START + timedelta(days=10), 0).isoformat()})]


async def test_a_stop_skips_everything_the_person_is_still_answered_and_only_a_coach_resumes(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    await coach(world, "stop")
    await world.run_until(world.at(START + timedelta(days=8), 12))
    assert world.lines(since=world.at(START, 12)) == []
    module = next(r for r in await world.rows() if r.key == "module:2")
    assert (module.status, module.reason) == (ScheduleStatus.SKIPPED, "stopped by a coach")
    replies = await world.say("jeg vil ikke leve mere")
    assert replies and "112" in "\n".join(replies)  # the crisis reply, as ever
    urgent = [m for m in await app.storage.sent_messages(world.participant.id) if m.row.priority == Priority.URGENT]
    assert urgent
    assert (await world.say("START"))[0]  # the person's START is theirs: it does not lift a coach's stop
    assert (await app.loop.state_of(world.participant)).progress.coach_hold == "stop"
    await coach(world, "resume")
    progress = (await app.loop.state_of(world.participant)).progress
    assert progress.coach_hold is None and not progress.coach_paused(world.now())
    await world.run_until(world.at(START + timedelta(days=14), 12))
    assert any("Modul 3 er klar" in line for line in world.lines(since=world.at(START + timedelta(days=8), 12)))
