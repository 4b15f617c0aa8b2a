"""The suicide-risk safety path, tested like the safety feature it is: every path, with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.deployment import Coach
from flows.inputs import Resume, StartFlow, Text
from storage.interface import Enrollment, EscalationStatus, InboundRecord, NotificationStatus
from tests.transcript import Chat, play

FLOWS = Path(__file__).resolve().parent.parent / "flows" / "definitions"
SCREEN = """\
id: screen
version: 1
languages: [da, en]
title: {da: Screening, en: Screening}
steps:
  - id: mood
    type: scale
    min: 0
    max: 10
    text: {da: "Hvordan er dit humør?", en: "How is your mood?"}
  - id: dead
    type: choice
    choices:
      - {value: 0, label: {da: Slet ikke, en: Not at all}}
      - {value: 1, label: {da: Adskillige dage, en: Several days}}
      - {value: 2, label: {da: Mere end halvdelen af dagene, en: More than half the days}}
      - {value: 3, label: {da: Næsten hver dag, en: Nearly every day}}
    text: {da: "Tanker om, at du hellere ville være død?", en: "Thoughts that you would be better off dead?"}
  - id: sleep
    type: scale
    min: 0
    max: 10
    text: {da: "Hvordan sover du?", en: "How do you sleep?"}
risk:
  - if: "dead >= 1"
    level: moderate
"""


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
    (flows / "screen.yaml").write_text(SCREEN, encoding="utf-8")
    async with open_app(str(tmp_path / "bot.db"), clock, flows, coach_channels={"console": coaches}) as app:
        yield app


async def test_item_rule_sends_safety_reply_escalates_and_offers_the_check(
        safe_app: App, coaches: CapturingCoachChannel) -> None:
    chat = await Chat.open(safe_app, "p-17")
    await play(chat, """
        > (start screen)
        < (1/3) Hvordan er dit humør?
        > 4
        < (2/3) Tanker om, at du hellere ville være død?
        > 1
        < Tak, fordi du fortæller mig det. Det er vigtigt, og du skal ikke bære det alene.
        < ring 1813
        < psykiatriske akutmodtagelse
        < Livslinien: 70 201 201.
        < ring 112.
        < En coach har fået besked og kontakter dig så hurtigt som muligt.
        < Vil du svare på nogle få korte spørgsmål om, hvordan du har det lige nu?
        > nej
        < Det er helt i orden. En coach kontakter dig stadig.
        < Vil du fortsætte med det spørgeskema, du var i gang med? Svar ja eller nej.
        > ja
        < Godt. Vi fortsætter, hvor du slap.
        < (3/3) Hvordan sover du?
        > 5
        < Tak for dine svar.
    """)  # issue 11 replaced "Velkommen tilbage" + the next item at once with asking first
    [escalation] = await safe_app.storage.escalations()
    assert (escalation.level, escalation.status, escalation.participant_ref) == (
        "moderate", EscalationStatus.OPEN, "p-17")
    [trigger] = escalation.triggers
    assert trigger.trigger_kind == "item"
    assert {k: trigger.trigger[k] for k in ("flow_id", "item_id", "answer", "raw_text")} == {
        "flow_id": "screen", "item_id": "dead", "answer": 1, "raw_text": "1"}
    assert escalation.deadline_at == escalation.opened_at + timedelta(hours=2)
    assert [coach for coach, _ in coaches.sent] == ["coach"]
    alert = coaches.sent[0][1]
    assert "Risikoalarm #1 (moderat) for deltager p-17" in alert and "screen dead = 1" in alert
    answers = await safe_app.storage.export_answers()
    assert [(a["item_id"], a["value"]) for a in answers] == [("mood", 4), ("dead", 1), ("sleep", 5)]


async def test_free_text_in_the_middle_of_a_questionnaire_then_it_resumes(
        safe_app: App, coaches: CapturingCoachChannel) -> None:
    chat = await Chat.open(safe_app, "p-18")
    await chat.start("pss10")
    await chat.say("2")
    await play(chat, """
        > jeg orker ikke mere, jeg tænker på selvmord
        < Tak, fordi du fortæller mig det.
        < Vil du svare på nogle få korte spørgsmål
        > ja
        < Her er nogle få spørgsmål om, hvordan du har det
        < Har du inden for den sidste måned ønsket, at du var død
        > ja
        < faktisk haft tanker om at slå dig selv ihjel?
        > nej
        < Har du nogensinde gjort noget
        > nej
        < Tak, fordi du fortalte os det.
        < Vil du fortsætte med det spørgeskema, du var i gang med?
        > ja
        < Godt. Vi fortsætter, hvor du slap.
        < (2/10)
    """)  # issue 11: asked before the questionnaire goes on (it went straight to (2/10) before)
    for _ in range(9):
        reply = await chat.say("2")
    assert "Din score er 20 ud af 40." in reply
    [escalation] = await safe_app.storage.escalations()
    assert escalation.level == "moderate"  # the text (moderate) and the check (low) share one escalation
    kinds = [(t.trigger_kind, t.level) for t in escalation.triggers]
    assert kinds == [("text", "moderate"), ("safety_check", "low")]
    assert escalation.triggers[0].trigger["text"] == "jeg orker ikke mere, jeg tænker på selvmord"
    assert len(coaches.sent) == 1  # one alert: the second trigger joined the open escalation


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


async def test_high_risk_shows_112_first_and_holds_routine_flows(safe_app: App) -> None:
    chat = await Chat.open(safe_app, "p-19")
    reply = await chat.say("jeg har en plan om at tage mit liv i nat")
    lines = reply.splitlines()
    assert lines[0].startswith("Tak, fordi du fortæller mig det.")
    assert lines[1] == "Du kan altid tage på nærmeste psykiatriske akutmodtagelse. Den har åbent døgnet rundt."
    assert lines[2] == "Er du i akut fare, så ring 112."
    [escalation] = await safe_app.storage.escalations()
    assert escalation.level == "high" and escalation.deadline_at == escalation.opened_at + timedelta(minutes=15)
    assert await chat.start("pss10") == ""  # no routine questionnaire while a high escalation is open
    assert (await chat.say("nej")).startswith("Det er helt i orden.")
    assert "Du har ikke noget spørgeskema i gang" in await chat.say("hej")  # the person is always answered
    await safe_app.desk.handle("coach", f"OK {escalation.id}")
    closed = await safe_app.desk.handle("coach", f"LUK {escalation.id} Ringet op, aftale i morgen")
    assert "#1 er lukket" in (closed or "")
    assert "(1/10)" in await chat.start("pss10")


async def test_acknowledged_in_time_is_not_re_escalated(safe_app: App, clock: FakeClock,
                                                        coaches: CapturingCoachChannel) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("I want to kill myself")
    clock.advance(timedelta(minutes=10))
    assert "Kvitteret for #1" in (await safe_app.desk.handle("coach", "OK 1") or "")
    clock.advance(timedelta(hours=3))
    await safe_app.escalations.tick()
    assert len(coaches.sent) == 1
    escalation = await safe_app.storage.escalation(1)
    assert escalation is not None and escalation.acknowledged_by == "coach" and escalation.tier == 0
    assert "allerede kvitteret" in (await safe_app.desk.handle("backup", "OK 1") or "")


async def test_no_ack_goes_to_backup_then_clinical_lead(safe_app: App, clock: FakeClock,
                                                        coaches: CapturingCoachChannel) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("jeg vil slå mig selv ihjel i aften")  # high: 15 minutes
    assert [c for c, _ in coaches.sent] == ["coach"]
    clock.advance(timedelta(minutes=14))
    await safe_app.escalations.tick()
    assert [c for c, _ in coaches.sent] == ["coach"]
    clock.advance(timedelta(minutes=1))
    await safe_app.escalations.tick()
    assert [c for c, _ in coaches.sent] == ["coach", "coach", "backup"]
    assert coaches.sent[1][1].startswith("Ikke kvitteret endnu: risikoalarm #1 (høj)")
    clock.advance(timedelta(minutes=15))
    await safe_app.escalations.tick()
    assert [c for c, _ in coaches.sent[3:]] == ["coach", "backup", "lead"]
    await safe_app.desk.handle("lead", "OK 1")
    clock.advance(timedelta(hours=1))
    await safe_app.escalations.tick()
    assert len(coaches.sent) == 6
    actions = [a.action for a in await safe_app.storage.audit_entries()]
    assert actions.count("escalation.re_escalated") == 2


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


async def test_i_am_fine_from_the_participant_never_closes_it(safe_app: App) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("tanker om selvmord")
    await chat.say("nej")
    await chat.say("jeg har det fint nu, luk det bare")
    [escalation] = await safe_app.storage.escalations()
    assert escalation.status is EscalationStatus.OPEN


async def test_routine_start_is_refused_during_the_safety_check(safe_app: App) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("selvmord")
    await chat.say("ja")
    assert await chat.feed(StartFlow("pss10")) == ""
    state = await safe_app.loop.state_of(chat.participant)
    assert state.run is not None and state.run.flow_id == "safety_check"


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


async def test_out_of_hours_the_reply_says_no_coach_is_reading(safe_app: App, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=12))  # Monday 22:00 in Copenhagen
    chat = await Chat.open(safe_app)
    await play(chat, """
        > selvmord
        < Livslinien: 70 201 201.
        < Coaches læser ikke med om aftenen, om natten og i weekenden.
        < En coach har fået besked
    """)


SCREEN_WITH_MESSAGE = SCREEN.replace("""  - id: sleep
    type: scale""", """  - id: thanks
    type: message
    text: {da: "Tak for det svar.", en: "Thanks for that answer."}
  - id: sleep
    type: scale""").replace("id: screen", "id: screen2")


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


async def test_a_new_signal_after_acknowledgement_reaches_the_coach_who_has_it(
        safe_app: App, clock: FakeClock, coaches: CapturingCoachChannel) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("jeg tager mit liv i nat")
    await safe_app.desk.handle("coach", "OK 1")
    clock.advance(timedelta(hours=5))
    await chat.say("nej")
    await chat.say("jeg har pillerne klar nu, farvel for altid")
    assert [c for c, _ in coaches.sent] == ["coach", "coach"]
    assert "farvel for altid" in coaches.sent[1][1]


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


async def test_declining_before_a_message_step_then_continuing(safe_app: App, tmp_path: Path) -> None:
    (tmp_path / "flows" / "screen2.yaml").write_text(SCREEN_WITH_MESSAGE, encoding="utf-8")
    async with open_app(str(tmp_path / "other.db"), safe_app.clock, tmp_path / "flows",
                        coach_channels={"console": CapturingCoachChannel()}) as app:
        chat = await Chat.open(app)
        await play(chat, """
            > (start screen2)
            > 5
            > 2
            < Vil du svare på nogle få korte spørgsmål
            > STOP
            < Det er helt i orden.
            < Spørgeskemaet er sat på pause.
            > FORTSÆT
            < Velkommen tilbage.
            < Tak for det svar.
            < (3/3) Hvordan sover du?
            > 6
            < Tak for dine svar.
        """)
        assert [(a["item_id"], a["value"]) for a in await app.storage.export_answers()] == [
            ("mood", 5), ("dead", 2), ("sleep", 6)]


async def test_the_questionnaire_survives_an_expired_safety_check(safe_app: App, clock: FakeClock) -> None:
    chat = await Chat.open(safe_app)
    await chat.start("pss10")
    await chat.say("2")
    await chat.say("selvmord")
    await chat.say("ja")
    clock.advance(timedelta(days=2))  # the safety check (1 day) expires unanswered
    await play(chat, """
        > hej
        < Det spørgeskema, du var i gang med, er lukket
        < Spørgeskemaet er sat på pause. Skriv FORTSÆT
        > FORTSÆT
        < Velkommen tilbage.
        < (2/10)
    """)


async def test_an_unanswered_offer_lapses_and_does_not_block_routine_flows(safe_app: App, clock: FakeClock) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("selvmord")
    assert await chat.start("pss10") == ""  # just offered: routine waits
    clock.advance(timedelta(days=2))
    assert "(1/10)" in await chat.start("pss10")


async def test_unclear_answers_to_the_offer_end_it_gently(safe_app: App) -> None:
    chat = await Chat.open(safe_app)
    await chat.start("pss10")
    await play(chat, """
        > selvmord
        < Vil du svare på nogle få korte spørgsmål
        > måske
        < Vil du svare på nogle få korte spørgsmål
        > hvad
        < Vil du svare på nogle få korte spørgsmål
        > ved ikke
        < Det er helt i orden. En coach kontakter dig stadig.
        < Spørgeskemaet er sat på pause.
    """)


async def test_under_a_hold_the_questionnaire_comes_back_paused(safe_app: App) -> None:
    chat = await Chat.open(safe_app)
    await chat.start("pss10")
    await chat.say("2")
    await chat.say("jeg tager mit liv i nat")
    await chat.say("ja")
    for answer in ["nej", "nej", "nej"]:
        reply = await chat.say(answer)
    assert "Spørgeskemaet er sat på pause." in reply and "(2/10)" not in reply
    assert "(2/10)" not in await chat.feed(Resume())  # not even when the person comes back
    await safe_app.desk.handle("coach", "LUK 1 Talt med personen, plan lagt")
    assert "(2/10)" in await chat.say("FORTSÆT")


async def test_coach_desk_refuses_odd_numbers_and_empty_notes(safe_app: App) -> None:
    chat = await Chat.open(safe_app)
    await chat.say("selvmord")
    help_text = "Kommandoer: LISTE"
    for odd in ["OK ²", "OK ١", "VIS 99999999999999999999", "OK", "OK abc"]:
        assert (await safe_app.desk.handle("coach", odd) or "").startswith(help_text), odd
    assert "Kvitteret for #1" in (await safe_app.desk.handle("coach", "OK #1") or "")
    assert "LUK 1 <note>" in (await safe_app.desk.handle("coach", "LUK 1 .") or "")


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
