"""The suicide-risk safety path, tested like the safety feature it is: every path, with a fake clock.

The conversations of the safety path (what the person and the coaches are told, escalations, alerts, holds) are
transcripts: tests/transcripts/safety_*.txt and coach_desk_*.txt. Here: what a transcript cannot show (the triage
table against the state, failing and slow coach channels, restarts and crashes, a retried message, a broken engine).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.deployment import Coach
from flows.inputs import Text
from storage.records import Enrollment, EscalationStatus, InboundRecord, NotificationStatus
from tests.transcript import Chat

FLOWS = Path(__file__).resolve().parent.parent / "flows" / "definitions"


class CapturingCoachChannel:
    def __init__(self, name: str = "console", fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.sent: list[tuple[str, str]] = []

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        if self.fail:
            raise ConnectionError("channel down")
        self.sent.append((coach.id, text))


@pytest.fixture
def coaches() -> CapturingCoachChannel:
    return CapturingCoachChannel()


@pytest.fixture
async def safe_app(tmp_path: Path, clock: FakeClock, coaches: CapturingCoachChannel) -> AsyncIterator[App]:
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("pss10.yaml", "safety_check.yaml"):
        (flows / name).write_text((FLOWS / name).read_text(encoding="utf-8"), encoding="utf-8")
    async with open_app(str(tmp_path / "bot.db"), clock, flows, coach_channels={"console": coaches}) as app:
        yield app


@pytest.mark.parametrize(("answers", "level"), [
    (["nej", "nej", "nej"], None),
    (["ja", "nej", "nej"], "low"),
    (["nej", "ja", "nej", "nej", "nej", "nej"], "low"),
    (["nej", "ja", "ja", "nej", "nej", "nej"], "moderate"),
    (["nej", "nej", "ja", "nej"], "moderate"),  # behaviour more than 3 months ago
    (["nej", "ja", "nej", "ja", "nej", "nej"], "high"),
    (["nej", "ja", "nej", "nej", "ja", "nej"], "high"),
    (["nej", "nej", "ja", "ja"], "high"),  # behaviour within 3 months
])
async def test_safety_check_triage(safe_app: App, answers: list[str], level: str | None) -> None:
    chat = await Chat.open(safe_app)
    await chat.start("safety_check")
    for answer in answers:
        await chat.say(answer)
    state = await safe_app.loop.state_of(chat.participant)
    assert state.run is None, "the check should have finished"
    escalations = await safe_app.storage.escalations()
    assert (escalations[0].level if escalations else None) == level
    assert state.hold is (level == "high")


async def test_a_failing_coach_channel_is_recorded_retried_and_another_channel_used(
        tmp_path: Path, clock: FakeClock) -> None:
    config = (Path(__file__).resolve().parent.parent / "bot" / "deployment.yaml").read_text(encoding="utf-8")
    config = config.replace("    name: Coach (demo)\n    channels: [console]",
                            "    name: Coach (demo)\n    channels: [\"sms:+4512345678\", console]")
    (tmp_path / "deployment.yaml").write_text(config, encoding="utf-8")
    sms, console = CapturingCoachChannel("sms", fail=True), CapturingCoachChannel("console", fail=True)
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=tmp_path / "deployment.yaml",
                        coach_channels={"sms": sms, "console": console}) as app:
        chat = await Chat.open(app)
        reply = await chat.say("I wish I were dead")
        assert "Thank you for telling me" in reply or "Tak, fordi du fortæller mig det" in reply  # never silent
        notes = await app.storage.notifications(1)
        assert [(n.channel, n.status) for n in notes] == [("sms", NotificationStatus.FAILED),
                                                          ("console", NotificationStatus.FAILED)]
        clock.advance(timedelta(seconds=30))
        await app.escalations.tick()
        assert len(await app.storage.notifications(1)) == 2  # not before the retry interval
        console.fail = False
        clock.advance(timedelta(minutes=1))
        await app.escalations.tick()
        notes = await app.storage.notifications(1)
        assert [(n.channel, n.status) for n in notes][2:] == [("sms", NotificationStatus.FAILED),
                                                              ("console", NotificationStatus.SENT)]
        assert [c for c, _ in console.sent] == ["coach"]


async def test_the_same_risky_message_twice_makes_one_escalation(safe_app: App,
                                                                coaches: CapturingCoachChannel) -> None:
    chat = await Chat.open(safe_app)
    inbound = InboundRecord("sms", "SM-retry-1", safe_app.clock.now())
    first = await chat.feed(Text("jeg vil ikke leve længere"), inbound)
    again = await chat.feed(Text("jeg vil ikke leve længere"), inbound)
    assert "Tak, fordi du fortæller mig det." in first and again == ""
    assert len(await safe_app.storage.escalations()) == 1 and len(coaches.sent) == 1


async def test_non_coach_gets_nothing(safe_app: App) -> None:
    chat = await Chat.open(safe_app, "p-20")
    await chat.say("selvmord")
    assert await safe_app.desk.handle("p-20", "LIST") is None
    assert await safe_app.desk.handle("someone", "OK 1") is None
    escalation = await safe_app.storage.escalation(1)
    assert escalation is not None and escalation.status is EscalationStatus.OPEN
    listing = await safe_app.desk.handle("coach", "LISTE") or ""
    assert listing.startswith("#1 moderat, åben, deltager p-20")
    shown = await safe_app.desk.handle("coach", "VIS 1") or ""
    assert "»selvmord«" in shown
    assert "LUK 1 <note>" in (await safe_app.desk.handle("coach", "LUK 1") or "")


async def test_overdue_escalations_fire_at_once_after_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    db = str(tmp_path / "bot.db")
    first = CapturingCoachChannel()
    async with open_app(db, clock, coach_channels={"console": first}) as app:
        chat = await Chat.open(app)
        await chat.say("jeg vil tage mit liv i nat")
    assert [c for c, _ in first.sent] == ["coach"]
    clock.advance(timedelta(minutes=20))  # the bot was down past the 15-minute deadline
    second = CapturingCoachChannel()
    async with open_app(db, clock, coach_channels={"console": second}) as app:
        await app.escalations.tick()  # what `python -m bot chat` does at start
        assert [c for c, _ in second.sent] == ["coach", "backup"]
        escalation = await app.storage.escalation(1)
        assert escalation is not None and escalation.tier == 1
    clock.advance(timedelta(hours=1))  # down again, past two more deadlines: straight to the clinical lead
    third = CapturingCoachChannel()
    async with open_app(db, clock, coach_channels={"console": third}) as app:
        await app.escalations.tick()
        assert [c for c, _ in third.sent] == ["coach", "backup", "lead"]


class SlowCoachChannel(CapturingCoachChannel):
    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        await self.release.wait()
        await super().notify(coach, text, address)


async def test_the_safety_reply_never_waits_for_a_coach_channel(tmp_path: Path, clock: FakeClock) -> None:
    slow = SlowCoachChannel()
    async with open_app(str(tmp_path / "bot.db"), clock, coach_channels={"console": slow}) as app:
        participant = await app.storage.get_or_create_participant("p-30", "da", clock.now())
        await asyncio.wait_for(app.loop.handle(participant, Text("selvmord"), "console"), 5)
        [reply, *_] = await app.storage.pending_outbox("console")
        assert reply.payload["text"].startswith("Tak, fordi du fortæller mig det.")
        assert slow.sent == []  # the coach's channel is still busy; the person already has their answer
        slow.release.set()
        await app.loop.settle()
        assert [c for c, _ in slow.sent] == ["coach"]


async def test_a_level_rise_lost_in_a_crash_is_announced_at_restart(tmp_path: Path, clock: FakeClock) -> None:
    db = str(tmp_path / "bot.db")
    first = CapturingCoachChannel()
    async with open_app(db, clock, coach_channels={"console": first}) as app:
        chat = await Chat.open(app)
        await chat.say("selvmord")
        await chat.say("nej")
        clock.advance(timedelta(minutes=3))
        app.loop.escalation_listeners.clear()  # as if the process died before announcing the next signal
        await chat.say("jeg tager mit liv i nat")
    assert [c for c, _ in first.sent] == ["coach"]
    second = CapturingCoachChannel()
    async with open_app(db, clock, coach_channels={"console": second}) as app:
        await app.escalations.tick()
        assert [c for c, _ in second.sent] == ["coach"] and "(høj)" in second.sent[0][1]


async def test_if_the_engine_fails_a_risky_message_still_gets_the_safety_reply(
        safe_app: App, coaches: CapturingCoachChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.conversation

    def broken(*args: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(bot.conversation, "advance", broken)
    chat = await Chat.open(safe_app)
    reply = await chat.say("jeg tager mit liv i nat")
    assert reply.startswith("Tak, fordi du fortæller mig det.") and "ring 112" in reply
    assert "Undskyld, der gik noget galt hos os." in reply
    assert len(await safe_app.storage.escalations()) == 1 and [c for c, _ in coaches.sent] == ["coach"]


async def test_the_coach_hears_when_a_participant_becomes_unreachable(safe_app: App,
                                                                      coaches: CapturingCoachChannel) -> None:
    participant = await safe_app.storage.enroll(Enrollment("p-gone", "Gone", "da", coach_id="backup"),
                                                safe_app.clock.now())
    await safe_app.escalations.tell_unreachable(participant.id, "Telegram")
    assert coaches.sent == [("backup", "Deltager p-gone kan ikke længere nås på Telegram (har blokeret botten eller "
                                       "afmeldt sig). Kontakt vedkommende på en anden måde.")]
