"""Crisis replies and coach alerts overtake a queue of reminders, on SMS and on Telegram (issue 11, point 5).

End to end at the shipped pacing: signed Twilio webhooks and Telegram updates in, the one dispatcher out through
the real twilio SDK and python-telegram-bot to the fakes on localhost, a real SQLite file, a fixed clock. 300
scheduled reminders are queued before a participant writes a risk statement; the crisis reply and the coach's
alert must reach the carrier while most of the reminders still wait, and every person's messages keep their
order. The queue takes a minute at the carrier's pace, so "before the queue drains" leaves seconds of slack for
a slow machine: the tests wait for what they check, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.app import App, open_app
from bot.channels.sms import SmsChannel, SmsCoachChannel, TwilioSender
from bot.channels.telegram import TelegramChannel, TelegramCoachChannel
from bot.clock import FakeClock
from bot.escalation import CoachChannel
from bot.rendering import Catalogs
from bot.web import create_web_app
from storage.records import AddressStatus, Enrollment, OutboundRecord, Priority, StepRecord
from tests.conftest import without_consent
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio, serve

OUR_NUMBER = "+4570000000"
COACH_PHONE = "+4588888888"
COACH_CHAT = 777000
RISKY = "jeg tænker på selvmord"
CRISIS = "Tak, fordi du fortæller mig det."
REMINDER = re.compile(r"^Påmindelse (\d+) til (p-\d+)")
FILLER = " Husk dagens øvelse: sæt dig godt til rette, træk vejret roligt og mærk efter, hvordan kroppen har det." * 2


async def until(condition: Callable[[], Any], timeout: float = 60.0) -> None:
    """Wait for something the bot does in its own time. The timeout only bounds a failing test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not get there in time")
        await asyncio.sleep(0.01)


def coach_on(tmp_path: Path, channel: str) -> Path:
    """The shipped deployment (without consent) with the coach on duty alerted on `channel`."""
    text = without_consent(tmp_path).read_text(encoding="utf-8").replace(
        "    name: Coach (demo)\n    channels: [console]", f'    name: Coach (demo)\n    channels: ["{channel}"]')
    path = tmp_path / "coach.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def queue_reminders(app: App, channel: str, refs: list[str], per_person: int) -> None:
    """`per_person` scheduled reminders for each participant, as the programme's scheduler writes them (ROUTINE)."""
    for ref in refs:
        participant = await app.storage.get_or_create_participant(ref, "da", app.clock.now())
        revision = (await app.storage.load_conversation(participant.id)).revision
        outbox = [OutboundRecord(channel, {"text": f"Påmindelse {i} til {ref}.{FILLER}"}, app.clock.now(),
                                 Priority.ROUTINE) for i in range(per_person)]
        state = (await app.loop.state_of(participant)).to_json()
        step = StepRecord(participant.id, revision, state, app.clock.now(), outbox=outbox)
        await app.storage.commit_step(step)


def in_order_per_person(texts: list[str]) -> bool:
    """Every person's reminders arrived in the order they were written (none skipped, none twice)."""
    seen: dict[str, list[int]] = {}
    for text in texts:
        found = REMINDER.match(text)
        if found:
            seen.setdefault(found.group(2), []).append(int(found.group(1)))
    return all(numbers == list(range(len(numbers))) for numbers in seen.values())


def offer_follows(after_crisis: list[str]) -> bool:
    """After the crisis reply comes the offer of the safety check (a reply), before the person's queued reminders:
    at most the one reminder that was already under way when the crisis reply overtook it arrives in between."""
    offer_at = next(i for i, t in enumerate(after_crisis) if t.startswith("Vil du svare"))
    return offer_at <= 1 and all(REMINDER.match(t) for t in after_crisis[:offer_at])


# --- SMS ------------------------------------------------------------------------------------------------------


@dataclass
class SmsWorld:
    app: App
    fake: FakeTwilio
    channel: SmsChannel
    url: str
    http: httpx.AsyncClient

    async def text(self, sender: str, body: str) -> httpx.Response:
        headers, form = self.fake.signed_inbound(f"{self.url}/twilio/sms", From=sender, To=OUR_NUMBER, Body=body)
        return await self.http.post(f"{self.url}/twilio/sms", data=form, headers=headers)

    def bodies(self, to: str | None = None) -> list[str]:
        return [m["body"] for m in self.fake.sent if to is None or m["to"] == to]


@asynccontextmanager
async def sms_world(tmp_path: Path, clock: FakeClock, segments_per_second: float) -> AsyncIterator[SmsWorld]:
    coach_channels: dict[str, CoachChannel] = {}
    async with FakeTwilio() as fake, open_app(str(tmp_path / "bot.db"), clock, coach_channels=coach_channels,
                                              deployment_path=coach_on(tmp_path, f"sms:{COACH_PHONE}")) as app:
        sender = TwilioSender(fake.account_sid, fake.auth_token, OUR_NUMBER, api_base_url=fake.url)
        channel = SmsChannel(app.storage, app.loop, sender, Catalogs(), clock, None, segments_per_second)
        coach_channels["sms"] = SmsCoachChannel(sender, channel.pacer)  # as `bot run` wires it
        web = create_web_app(app.storage, channel, fake.auth_token, public_base_url="")
        try:
            async with serve(web) as url, httpx.AsyncClient() as http:
                web.state.public_base_url = url
                yield SmsWorld(app, fake, channel, url, http)
        finally:
            await app.loop.settle()
            await sender.close()


async def test_on_sms_a_crisis_reply_and_the_coach_alert_overtake_300_queued_reminders(
        tmp_path: Path, clock: FakeClock) -> None:
    async with sms_world(tmp_path, clock, segments_per_second=10.0) as world:  # the shipped pace: 5 reminders/s
        phones = {f"p-{i:02d}": f"+45200000{i:02d}" for i in range(30)}
        for ref, phone in phones.items():
            await world.app.storage.enroll(Enrollment(ref, "N", "da", phone=phone), clock.now())
        await queue_reminders(world.app, "sms", list(phones), per_person=10)
        assert len(await world.app.storage.pending_outbox("sms", 1000, now=clock.now())) == 300
        dispatcher = asyncio.create_task(world.channel.run())
        try:
            await until(lambda: len(world.fake.sent) >= 3)  # the queue is draining at the carrier's pace
            assert (await world.text(phones["p-07"], RISKY)).status_code == 200  # p-07 has 10 reminders queued
            await until(lambda: any(b.startswith(CRISIS) for b in world.bodies(phones["p-07"])))
            reminders_before_crisis = sum(bool(REMINDER.match(b)) for b in world.bodies())
            await until(lambda: world.bodies(COACH_PHONE))
            reminders_before_alert = sum(bool(REMINDER.match(b)) for b in world.bodies())
            await until(lambda: any(b.startswith("Vil du svare") for b in world.bodies(phones["p-07"])))
        finally:
            dispatcher.cancel()
            await asyncio.gather(dispatcher, return_exceptions=True)
        assert reminders_before_crisis <= 50, reminders_before_crisis  # 250 or more still waited behind it
        assert reminders_before_alert <= 50, reminders_before_alert
        assert world.bodies(COACH_PHONE)[0].startswith("Risikoalarm #1 (moderat) for deltager p-07")
        own = world.bodies(phones["p-07"])
        crisis_at = next(i for i, b in enumerate(own) if b.startswith(CRISIS))
        assert all(REMINDER.match(b) for b in own[:crisis_at])  # only reminders already under way went first
        assert offer_follows(own[crisis_at + 1:])
        assert in_order_per_person(world.bodies())


# --- Telegram -------------------------------------------------------------------------------------------------


@asynccontextmanager
async def telegram_world(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[App, FakeTelegram, TelegramChannel]]:
    coach_channels: dict[str, CoachChannel] = {}
    async with FakeTelegram(long_poll_cap=0.5) as fake, open_app(
            str(tmp_path / "bot.db"), clock, coach_channels=coach_channels,
            deployment_path=coach_on(tmp_path, f"telegram:{COACH_CHAT}")) as app:
        channel = TelegramChannel(app.storage, app.loop, Catalogs(), clock, fake.token, base_url=fake.base_url,
                                  poll_timeout=timedelta(seconds=1))  # the shipped pace: 30/s, 1 a second a chat
        coach_channels["telegram"] = TelegramCoachChannel(channel.bot)
        try:
            yield app, fake, channel
        finally:
            await channel.stop()
            await app.loop.settle()


async def test_on_telegram_a_crisis_reply_and_the_coach_alert_overtake_300_queued_reminders(
        tmp_path: Path, clock: FakeClock) -> None:
    async with telegram_world(tmp_path, clock) as (app, fake, channel):
        chats = {f"p-{i:02d}": 500_000 + i for i in range(10)}  # 30 each: a minute a chat at one a second
        for ref, chat in chats.items():
            participant = await app.storage.enroll(Enrollment(ref, "N", "da"), clock.now())
            await app.storage.set_address(participant.id, "telegram", str(chat), AddressStatus.ACTIVE, clock.now())
        await queue_reminders(app, "telegram", list(chats), per_person=30)
        await channel.start()  # polling, and the dispatcher

        def texts(chat: int) -> list[str]:
            return [m.text for m in fake.sent_to(chat)]

        def reminders_sent() -> int:
            return sum(len(texts(chat)) for chat in chats.values())

        await until(lambda: reminders_sent() >= 3)
        chat = chats["p-04"]
        fake.user_sends_text(chat, chat, RISKY)
        await until(lambda: any(t.startswith(CRISIS) for t in texts(chat)))
        reminders_before_crisis = sum(bool(REMINDER.match(t)) for c in chats.values() for t in texts(c))
        await until(lambda: texts(COACH_CHAT))
        reminders_before_alert = sum(bool(REMINDER.match(t)) for c in chats.values() for t in texts(c))
        assert reminders_before_crisis <= 50, reminders_before_crisis  # 250 or more still waited behind it
        assert reminders_before_alert <= 50, reminders_before_alert
        assert texts(COACH_CHAT)[0].startswith("Risikoalarm #1 (moderat) for deltager p-04")
        own = texts(chat)
        crisis_at = next(i for i, t in enumerate(own) if t.startswith(CRISIS))
        assert all(REMINDER.match(t) for t in own[:crisis_at])
        await until(lambda: any(t.startswith("Vil du svare") for t in texts(chat)))
        assert offer_follows(texts(chat)[crisis_at + 1:])
        assert in_order_per_person([t for c in chats.values() for t in texts(c)])
