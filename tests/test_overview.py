"""The coaches' overview, as a coach types it: their own participants only, every look in the audit log."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot import people
from bot.app import App, open_app
from bot.clock import FakeClock
from bot.deployment import DEFAULT_PATH
from storage.records import Enrollment, Participant
from tests.conftest import app_without_consent, without_consent
from tests.programme_world import World
from tests.test_programme import START, answers


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0, tzinfo=UTC)) as opened:
        yield opened


async def enrol(app: App, ref: str, coach: str) -> Participant:
    return await app.storage.enroll(Enrollment(ref, f"Navn {ref}", "da", START, coach), app.clock.now())


async def test_a_coach_sees_their_own_participants_and_an_administrator_sees_everyone(app: App) -> None:
    await enrol(app, "p-anna", "lead")
    await app.storage.enroll(Enrollment("p-bo", "Bo Hansen", "da", START, "backup"), app.clock.now())
    await enrol(app, "p-carl", "coach")
    own = await app.desk.handle("coach", "DELTAGERE")
    assert own is not None and own.splitlines() == [
        "p-carl: uge –, moduler 0/8, PSS-10 –, WHO-5 –, opgaver 0, alarmer 0"]
    everyone = await app.desk.handle("lead", "deltagere")  # role: admin
    assert everyone is not None and [line.split(":")[0] for line in everyone.splitlines()] == [
        "p-anna", "p-bo", "p-carl"]
    refused = await app.desk.handle("coach", "PERSON p-bo")
    assert refused == "p-bo er ikke en af dine deltagere."
    assert await app.desk.handle("coach", "NOTE p-bo Ringede i dag") == "p-bo er ikke en af dine deltagere."
    assert [m for m in await app.storage.marks() if m.kind == "coach_note"] == []
    actions = [(e.actor, e.action, e.subject) for e in await app.storage.audit_entries()]
    assert ("coach:coach", "overview.refused", "participant") in actions
    assert ("coach:lead", "overview.listed", "participants") in actions
    assert ("coach:lead", "overview.listed", "participant:p-bo") in actions  # whose figures the list showed
    assert ("coach:coach", "overview.listed", "participant:p-bo") not in actions
    assert all("Bo Hansen" not in str(e.detail) and "Bo Hansen" not in e.subject for e in
               await app.storage.audit_entries())


async def test_someone_without_a_coach_is_open_to_the_duty_roster_who_reads_their_messages(app: App) -> None:
    """Their messages reach the coaches on the duty roster (bot/messages.py `may_read`); whoever answers must be
    able to open their page (the number, the history): it said "not found"."""
    frida = await app.storage.enroll(Enrollment("p-frida", "Frida", "da", START, None), app.clock.now())
    anna = await enrol(app, "p-anna", "coach")
    no_coach, own = await app.storage.profile(frida.id), await app.storage.profile(anna.id)
    assert no_coach is not None and own is not None
    for coach_id in ("coach", "backup"):
        assert await people.may_open(app.storage, app.deployment, coach_id, no_coach)
        assert app.desk.messages.may_read(coach_id, no_coach)
    assert not await people.may_open(app.storage, app.deployment, "backup", own)  # someone else's: still closed
    assert [p.name for p in await people.search(app.storage, app.deployment, "backup", "frida")] == ["Frida"]


async def test_one_participant_over_time_with_notes_and_tasks(app: App) -> None:
    world = await World.open(app, START, ref="p-dina", coach="coach")
    low_week_4 = {("pss10", None): "2", ("checkin", "wellbeing"): "3", ("checkin", "words"): "Tung uge"}

    def respond(flow_id: str, step_id: str) -> str | None:
        if world.now() >= world.at(START + timedelta(days=13), 0):
            return low_week_4.get((flow_id, step_id)) or answers(flow_id, step_id)
        return answers(flow_id, step_id)

    world.responder = respond
    await world.run_until(world.at(START + timedelta(days=14), 12))
    await world.say("FÆRDIG 1")
    for said in ("TRE", "1", "15", "6", "3", "nej", "Rolig bagefter"):
        await world.say(said)
    assert await app.desk.handle("coach", "NOTE p-dina Talte om søvn; følger op fredag") == "Notat gemt for p-dina."
    view = await app.desk.handle("coach", "PERSON p-dina")
    assert view is not None
    lines = view.splitlines()
    assert lines[0] == "p-dina (Test Person): startede 16.03.2026, uge 3, coach coach, moduler gennemført: 1/8"
    assert "PSS-10: 16.03 20\nWHO-5 %: 16.03 60\nLivstilfredshed: 16.03 6" in view  # the baseline: 2s, 3s and 6
    assert "Check-in: 7/10, En rolig uge" in view and "Check-in: 3/10, Tung uge" in view
    assert "TRE: øvelser: 1, pr. uge: 1, gennemsnitlig ændring i spænding: -3" in view  # 6 -> 3
    assert "Notat 30.03 (coach): Talte om søvn; følger op fredag" in view
    [task] = await app.storage.coach_tasks()
    assert task.kind == "wellbeing_fall" and task.due_at == task.created_at + timedelta(days=2)
    assert f"Opgave #{task.id} p-dina: trivslen er faldet siden sidste check-in (from 7.0, to 3.0), senest " in view
    tasks = await app.desk.handle("coach", "OPGAVER")
    assert tasks is not None and tasks.startswith(f"Opgave #{task.id} p-dina")
    assert await app.desk.handle("backup", f"UDFØRT {task.id}") == (
        f"Der er ingen åben opgave #{task.id} for dine deltagere.")  # not theirs
    assert await app.desk.handle("coach", f"UDFØRT {task.id}") == f"Opgave #{task.id} er udført."
    assert await app.desk.handle("coach", "OPGAVER") == "Ingen åbne opgaver."
    overview = await app.desk.handle("coach", "DELTAGERE")
    assert overview == "p-dina: uge 3, moduler 1/8, PSS-10 20, WHO-5 60, opgaver 0, alarmer 0"
    actions = [(e.actor, e.action, e.subject) for e in await app.storage.audit_entries()]
    assert ("coach:coach", "overview.viewed", "participant:p-dina") in actions
    assert ("coach:coach", "note.written", "participant:p-dina") in actions
    assert ("coach:coach", "task.done", f"task:{task.id}") in actions


def coach_in_telegram(tmp_path: Path, chat_id: int) -> Path:
    """The shipped deployment with the coach reachable in a Telegram chat (and no consent block)."""
    text = without_consent(tmp_path).read_text(encoding="utf-8")
    text = text.replace("  - id: coach\n    name: Coach (demo)\n    channels: [console]",
                        f"  - id: coach\n    name: Coach (demo)\n    channels: [\"telegram:{chat_id}\", console]")
    path = tmp_path / "deployment-telegram-coach.yaml"
    path.write_text(text, encoding="utf-8")
    assert DEFAULT_PATH.is_file() and f"telegram:{chat_id}" in text
    return path


async def test_a_coach_uses_the_overview_in_their_telegram_chat(tmp_path: Path) -> None:
    from bot.channels.telegram import TelegramChannel
    from bot.rendering import Catalogs
    from tests.fakes.telegram import FakeTelegram

    coach_chat = 777
    clock = FakeClock(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    async with FakeTelegram(long_poll_cap=0.5) as fake, open_app(
            str(tmp_path / "bot.db"), clock, coach_channels={},
            deployment_path=coach_in_telegram(tmp_path, coach_chat)) as app:
        await enrol(app, "p-emil", "coach")

        def desk(chat_id: int) -> Callable[[str], Awaitable[str | None]] | None:
            coach = app.deployment.coach_in_telegram_chat(chat_id)
            return None if coach is None else functools.partial(app.desk.handle, coach.id)

        channel = TelegramChannel(app.storage, app.loop, Catalogs(), clock, fake.token, base_url=fake.base_url,
                                  per_chat_interval=0.0, poll_timeout=timedelta(seconds=1), coach_desk=desk)
        await channel.start()
        try:
            fake.user_sends_text(coach_chat, coach_chat, "deltagere")
            [reply] = await fake.wait_sent(coach_chat, 1)
            assert reply.text == "p-emil: uge 1, moduler 0/8, PSS-10 –, WHO-5 –, opgaver 0, alarmer 0"
            fake.user_sends_text(4242, 4242, "deltagere")  # anyone else is not at the desk: the usual explanation
            [stranger] = await fake.wait_sent(4242, 1)
            assert "p-emil" not in stranger.text
            # Telegram delivers an update again (a lost confirmation): a coach's command is acted on once, and a
            # stranger is not explained to twice
            command = fake.user_sends_text(coach_chat, coach_chat, "deltagere")
            await fake.wait_sent(coach_chat, 2)
            fake.redeliver(command)
            fake.redeliver(fake.user_sends_text(4242, 4242, "hallo"))
            await fake.wait_sent(4242, 2)
            fake.user_sends_text(coach_chat, coach_chat, "deltagere")  # a new command is answered
            await fake.wait_sent(coach_chat, 3)
            await asyncio.sleep(0.5)
            assert (len(fake.sent_to(coach_chat)), len(fake.sent_to(4242))) == (3, 2)
        finally:
            await channel.stop()
    assert date(2026, 3, 16) == START


async def test_an_alert_is_open_to_those_who_must_act_on_it_not_to_every_coach(tmp_path: Path) -> None:
    from flows.inputs import Text

    text = without_consent(tmp_path).read_text(encoding="utf-8")  # a fourth coach, not in the duty roster
    text = text.replace("\nroster:", "\n  - id: dina\n    name: Dina (coach)\n    channels: [console]\n\nroster:")
    deployment = tmp_path / "four-coaches.yaml"
    deployment.write_text(text, encoding="utf-8")
    clock = FakeClock(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=deployment, coach_channels={}) as app:
        bo = await app.storage.enroll(Enrollment("p-bo", "Bo Hansen", "da", START, "backup"), clock.now())
        await app.storage.enroll(Enrollment("p-eva", "Eva Holm", "da", START, "dina"), clock.now())
        await app.loop.handle(bo, Text("jeg har tænkt på selvmord"), "console")
        await app.loop.settle()
        [alert] = await app.storage.escalations()
        for allowed in ("coach", "backup", "lead"):  # on duty, Bo's own coach and backup, administrator
            assert (await app.desk.handle(allowed, f"VIS {alert.id}") or "").startswith(f"#{alert.id} ")
        assert await app.desk.handle("dina", f"VIS {alert.id}") == f"Der er ingen alarm #{alert.id}."
        assert await app.desk.handle("dina", f"OK {alert.id}") == f"Der er ingen alarm #{alert.id}."
        assert await app.desk.handle("dina", "LISTE") == "Der er ingen åbne alarmer."
        assert (await app.storage.escalation(alert.id)).status == "open"  # type: ignore[union-attr]
        actions = [(e.actor, e.action) for e in await app.storage.audit_entries()]
        assert ("coach:dina", "escalation.refused") in actions
