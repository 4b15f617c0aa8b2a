"""A questionnaire's expiry through the real scheduler, loop and SQLite file: a leased schedule row like every other
scheduled event, fired once and answered by exactly one outcome, for anyone who has a conversation."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.clock import FakeClock
from bot.scheduler import ProgrammeScheduler
from flows.inputs import StartFlow, Text
from flows.state import State
from storage.records import Enrollment, Participant

EXPIRED = timedelta(days=8)  # pss10 expires after seven days


async def console(_: Participant) -> str:
    return "console"


async def stored_state(app: App, participant: Participant) -> tuple[State, int]:
    saved = await app.storage.load_conversation(participant.id)
    assert saved.state is not None
    return State.from_json(saved.state), saved.revision


async def test_an_expiry_fires_for_someone_without_a_programme_profile(app: App, clock: FakeClock) -> None:
    someone = await app.storage.get_or_create_participant("console-demo", "da", clock.now())  # never enrolled
    assert await app.storage.profile(someone.id) is None
    await app.loop.handle(someone, StartFlow("pss10"), "console")
    assert (await stored_state(app, someone))[0].run is not None
    clock.advance(EXPIRED)
    await ProgrammeScheduler(app.storage, app.loop, app.clock, console).tick()
    state, _ = await stored_state(app, someone)
    assert state.run is None and state.expired_unseen  # closed while they were away; said when they write


async def test_a_run_set_aside_for_the_safety_check_has_its_expiry_fired_once(app: App, clock: FakeClock) -> None:
    person = await app.storage.enroll(Enrollment("p-aside", "Navn", "da"), clock.now())
    await app.loop.handle(person, StartFlow("pss10"), "console")
    await app.loop.handle(person, Text("jeg har tænkt på selvmord"), "console")  # moderate: the check is offered
    state, _ = await stored_state(app, person)
    assert state.run is None and state.suspended is not None  # the questionnaire waits for the safety check
    clock.advance(EXPIRED)
    scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, console)
    revisions = []
    for _ in range(3):
        await scheduler.tick()
        clock.advance(timedelta(minutes=10))  # past any lease: a row left due would be claimed again
        revisions.append((await stored_state(app, person))[1])
    assert revisions[0] == revisions[1] == revisions[2]  # one step for the expiry, not one per tick
    state, _ = await stored_state(app, person)
    assert state.suspended is not None  # not lost: it ends when the person next writes, expired
    [expiry] = [r for r in await app.storage.schedule_of(person.id) if r.kind == "run_expiry"]
    assert (expiry.status, expiry.reason) == ("skipped", "no open run with this timer")


async def test_an_expiry_is_one_schedule_row_fired_once_and_a_finished_run_withdraws_its_own(
        app: App, clock: FakeClock) -> None:
    person = await app.storage.get_or_create_participant("console-demo", "da", clock.now())
    await app.loop.handle(person, StartFlow("pss10"), "console")
    [expiry] = await app.storage.schedule_of(person.id)
    assert (expiry.key, expiry.kind, expiry.due_at, expiry.data, expiry.status) == (
        "timer:expire:1", "run_expiry", clock.now() + timedelta(days=7), {"key": "expire:1"}, "pending")
    await app.loop.handle(person, StartFlow("who5"), "console")  # pss10 abandoned: its expiry is withdrawn
    first, second = await app.storage.schedule_of(person.id)
    assert (first.key, first.status, second.key, second.status) == ("timer:expire:1", "cancelled",
                                                                    "timer:expire:2", "pending")
    clock.advance(EXPIRED)
    scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, console)
    report = await scheduler.tick()
    assert (report.timers, report.handled, report.failed) == (1, 0, 0)
    fired = (await app.storage.schedule_of(person.id))[1]
    assert (fired.status, fired.reason) == ("sent", "run.expired")
    assert (await stored_state(app, person))[0].expired_unseen
    assert (await scheduler.tick()).timers == 0  # answered once: nothing left to fire
