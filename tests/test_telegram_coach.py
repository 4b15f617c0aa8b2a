"""A coach's Telegram chat: the alert comes with OK and Vis buttons that do what typing OK 12 and VIS 12 does, and the
chat has the desk's commands as its menu. The real python-telegram-bot against the fake Bot API on localhost."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.app import App, open_app
from bot.channels.telegram import TelegramChannel, TelegramCoachChannel
from bot.clock import FakeClock
from bot.escalation import CoachChannel
from flows.inputs import Text
from storage.records import Enrollment, EscalationStatus
from tests.conftest import T0
from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.test_overview import coach_in_telegram

COACH_CHAT = 777
PARTICIPANT_CHAT = 4242


@dataclass
class Desk:
    app: App
    fake: FakeTelegram
    channel: TelegramChannel

    async def alert(self, ref: str, name: str, words: str) -> tuple[int, BotMessage]:
        """`ref` writes `words`; the escalation's id and the alert as it arrives in the coach's chat."""
        before = len(self.fake.sent_to(COACH_CHAT))
        participant = await self.app.storage.enroll(Enrollment(ref, name, "da", None, "coach"), self.app.clock.now())
        await self.app.loop.handle(participant, Text(words), "console")
        await self.app.loop.settle()  # the coach is told in the background
        escalation = max(e.id for e in await self.app.storage.escalations() if e.participant_ref == ref)
        return escalation, (await self.fake.wait_sent(COACH_CHAT, before + 1))[before]

    async def press(self, message: BotMessage, label: str, chat: int = COACH_CHAT, **kwargs: object) -> str | None:
        """Press a button; the desk's answer in the chat, if it says something."""
        before, answered = len(self.fake.sent_to(chat)), len(self.fake.callback_answers)
        self.fake.user_presses_button(chat, chat, message.message_id, message.data_for(label), **kwargs)
        while len(self.fake.callback_answers) == answered:  # every press is answered (the spinner stops)
            await asyncio.sleep(0.01)
        sent = self.fake.sent_to(chat)
        return sent[-1].text if len(sent) > before else None


@asynccontextmanager
async def coach_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    coaches: dict[str, CoachChannel] = {}
    async with FakeTelegram(long_poll_cap=0.5) as fake, open_app(
            str(tmp_path / "bot.db"), FakeClock(T0), coach_channels=coaches,
            deployment_path=coach_in_telegram(tmp_path, COACH_CHAT)) as app:

        def desk(chat_id: int) -> Callable[[str], Awaitable[str | None]] | None:  # as bot/service.py does
            coach = app.deployment.coach_in_telegram_chat(chat_id)
            return None if coach is None else functools.partial(app.desk.handle, coach.id)

        channel = TelegramChannel(app.storage, app.loop, app.desk.catalogs, app.clock, fake.token,
                                  base_url=fake.base_url, per_chat_interval=0.0, poll_timeout=timedelta(seconds=1),
                                  coach_desk=desk)
        await channel.start()
        coaches["telegram"] = TelegramCoachChannel(channel.bot)
        try:
            yield Desk(app, fake, channel)
        finally:
            await channel.stop()


async def test_the_alert_s_buttons_show_it_and_acknowledge_it_as_the_typed_commands_do(tmp_path: Path) -> None:
    async with coach_desk(tmp_path) as desk:
        anna, alert = await desk.alert("p-anna", "Anna Jensen", "jeg vil ikke leve mere")
        assert f"#{anna}" in alert.text and "jeg vil ikke leve mere" in alert.text
        assert alert.buttons == [[("OK", f"coach:ok:{anna}"), ("Vis", f"coach:vis:{anna}")]]
        shown = await desk.press(alert, "Vis")
        assert shown == await desk.app.desk.handle("coach", f"VIS {anna}")  # what typing it answers
        assert shown is not None and "Anna Jensen" in shown and "jeg vil ikke leve mere" in shown
        acked = await desk.press(alert, "OK")
        escalation = await desk.app.storage.escalation(anna)
        assert escalation is not None and escalation.status is EscalationStatus.ACKNOWLEDGED
        assert escalation.acknowledged_by == "coach"
        assert acked is not None and f"#{anna}" in acked
        assert await desk.press(alert, "OK") == await desk.app.desk.handle("coach", f"OK {anna}")  # "already"
        actions = [(a.actor, a.action) for a in await desk.app.storage.audit_entries()]
        assert ("coach:coach", "escalation.viewed") in actions


async def test_a_press_is_acted_on_once_and_only_in_a_coach_s_chat(tmp_path: Path) -> None:
    async with coach_desk(tmp_path) as desk:
        anna, alert = await desk.alert("p-anna", "Anna Jensen", "jeg vil ikke leve mere")
        desk.fake.user_sends_text(PARTICIPANT_CHAT, PARTICIPANT_CHAT, "hej")  # someone who is not a coach
        [explained] = await desk.fake.wait_sent(PARTICIPANT_CHAT)
        forged = BotMessage(PARTICIPANT_CHAT, explained.message_id, explained.text,
                            {"inline_keyboard": [[{"text": "OK", "callback_data": f"coach:ok:{anna}"}]]})
        assert await desk.press(forged, "OK", chat=PARTICIPANT_CHAT, stale_client=True) is None
        escalation = await desk.app.storage.escalation(anna)
        assert escalation is not None and escalation.status is EscalationStatus.OPEN  # nothing done
        press = desk.fake.user_presses_button(COACH_CHAT, COACH_CHAT, alert.message_id, f"coach:vis:{anna}")
        await desk.fake.wait_sent(COACH_CHAT, 2)
        desk.fake.redeliver(press)  # Telegram sends the press again (a lost confirmation)
        desk.fake.user_sends_text(COACH_CHAT, COACH_CHAT, "/liste")  # from the menu; answered after the press
        await desk.fake.wait_sent(COACH_CHAT, 3)
        await asyncio.sleep(0.3)
        texts = [m.text for m in desk.fake.sent_to(COACH_CHAT)]
        assert len(texts) == 3 and f"#{anna}" in texts[2]  # alert, shown once, the list


async def test_coaches_get_their_own_command_menu_and_participants_keep_theirs(tmp_path: Path) -> None:
    async with coach_desk(tmp_path) as desk:
        assert desk.fake.command_names(scope=f"chat:{COACH_CHAT}") == [
            "liste", "vis", "ok", "luk", "frigiv", "deltagere", "opgaver", "beskeder", "soeg"]
        assert desk.fake.command_names() == ["help", "pause", "continue", "stop", "language"]
        assert desk.fake.command_names("da") == desk.fake.command_names()
        desk.fake.user_sends_text(COACH_CHAT, COACH_CHAT, "/deltagere")  # each menu entry is a desk command
        [answer] = await desk.fake.wait_sent(COACH_CHAT)
        assert answer.text == await desk.app.desk.handle("coach", "deltagere")
