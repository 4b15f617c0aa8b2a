"""A randomised cohort's control participant through six months, through the real scheduler, loop and SQLite file
with a fake clock (tests/programme_world.py): the measurement waves with their work status question and nothing
else of the programme; the programme's words are not theirs; the safety path is the same as for everyone."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.scheduler import ProgrammeScheduler, schedule_programme
from flows.arms import measurement_only
from storage.allocation_records import CONTROL, Draw, RandomisedCohort
from storage.records import Enrollment, Participant, ScheduleStatus
from tests.conftest import app_without_consent
from tests.programme_world import World

START = date(2026, 3, 16)
ANSWERS = {("pss10", None): "2", ("who5", None): "3", ("life_satisfaction", None): "6", ("safety_check", None): "nej",
           ("work_status", "work_status"): "1", ("work_status", "work_since_days"): "9"}
NO_RUN = "Tak for din besked. Du har ikke noget spørgeskema i gang lige nu. Skriv HJÆLP for at se, hvad du kan gøre."


def answers(flow_id: str, step_id: str) -> str | None:
    return ANSWERS.get((flow_id, step_id)) or ANSWERS.get((flow_id, None))


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0).astimezone()) as opened:
        yield opened


async def control_world(app: App) -> World:
    """Enrolled into a randomised cohort and drawn to the control arm, as `bot.enroll.enrol` does it."""
    programme = app.registry.library.programme
    assert programme is not None
    now = app.clock.now()
    await app.storage.randomise_cohort(RandomisedCohort("trial-1", "scripted", "test", "admin:test", now))
    participant, allocation = await app.storage.enroll_allocated(
        Enrollment("p-control", "Test Person", "da", START, cohort="trial-1"), now, lambda _: Draw(CONTROL, 0, 4),
        "admin:test")
    assert allocation.arm == CONTROL
    await schedule_programme(app.storage, measurement_only(programme), participant.id, START, now)
    world = World(app, participant, programme, ProgrammeScheduler(app.storage, app.loop, app.clock, _console))
    world.responder = answers
    return world


async def _console(_: Participant) -> str | None:
    return "console"


async def test_a_control_participant_gets_the_four_measurements_with_the_work_question_and_nothing_else(
        app: App) -> None:
    world = await control_world(app)
    await world.run_until(world.at(START + timedelta(days=200), 0))
    assert world.lines()[:3] == [
        "Mon 16.03 10:00 | Det er tid til en måling af, hvordan du har det. Den tager 5-10 minutter.",
        "Mon 16.03 10:00 | Nu kommer 10 spørgsmål om, hvordan du har haft det inden for den sidste måned. Svar "
        "med tallet ud for dit svar. Der er ingen rigtige eller forkerte svar. Du kan altid skrive HJÆLP, "
        "TILBAGE eller PAUSE.",
        "Mon 16.03 10:00 | (1/10) Hvor ofte inden for den sidste måned er du blevet oprevet over noget, der "
        "skete uventet?",
    ]
    openings = Counter(line[:9] for line in world.lines() if "Det er tid til en måling" in line)
    assert list(openings) == ["Mon 16.03", "Mon 13.04", "Mon 08.06", "Mon 14.09"]  # days 0, 28, 84 and 182
    assert not [line for line in world.lines() if any(word in line for word in ("Modul", "Tid til ugens",
                                                                                "check-in", "TRE"))]
    work = [text for text in world.heard if text.startswith("(1/2) Et spørgsmål om dit arbejde")]
    assert len(work) == 4 and work[0].splitlines()[:4] == [
        "(1/2) Et spørgsmål om dit arbejde. Hvordan er det lige nu?", "Svar med tallet ud for dit svar.",
        "1 = Fuldt sygemeldt", "2 = Delvist raskmeldt (arbejder på nedsat tid)"]
    assert sum(text.startswith("(2/2) Hvor mange dage har det været sådan?") for text in world.heard) == 4
    marks = await app.storage.marks(world.participant.id)
    assert [m.key for m in marks if m.kind == "wave_done"] == ["baseline", "week4", "end", "month6"]
    work_scores = await app.storage.flow_scores(world.participant.id, "work_status")
    assert [(s.score_id, s.value) for s in work_scores] == [("work_status", 1), ("work_since_days", 9)] * 4
    assert {r.kind for r in await world.rows()} <= {"wave_open", "wave_remind", "wave_close", "run_expiry"}
    assert [r for r in await world.rows() if r.status is ScheduleStatus.PENDING] == []
    assert await app.storage.coach_tasks() == []  # no week-4 evaluation for the control arm


async def test_the_programme_words_are_not_the_control_arms_but_the_crisis_reply_is(app: App) -> None:
    world = await control_world(app)
    await world.run_until(world.at(START, 12))  # the baseline answered
    world.responder = None
    for word in ("TRE", "FÆRDIG 1", "TIDER", "MINE"):
        assert await world.say(word) == [NO_RUN], word
    assert (await app.loop.state_of(world.participant)).run is None  # no TRE log, no exercise plan started
    assert (await world.say("PAUSE 7"))[0].startswith("Du får ingen påmindelser")  # the waves' reminders pause
    replies = "\n".join(await world.say("jeg vil tage mit liv i nat"))
    assert "112" in replies  # the safety reply, at once, as for everyone
    [escalation] = await app.storage.escalations()
    assert (escalation.participant_ref, escalation.level) == ("p-control", "high")
