"""Nothing is given up silently (issue 11, point 6): a day-long outage of Telegram or Twilio, and a routine
message that is given up.

End to end: the real python-telegram-bot and twilio SDK against the fakes on localhost, a real SQLite file, and a
fixed clock that the test moves through the day. The coach on duty is alerted on Telegram and by SMS; whichever
carrier is down, they are told on the other one that the crisis reply has not got through, once, and the reply
is delivered when the carrier is back.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
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
from bot.deployment import Coach
from bot.escalation import CoachChannel
from bot.rendering import Catalogs
from bot.web import create_web_app
from storage.records import AddressStatus, Enrollment, NotificationStatus, OutboundRecord, Priority, StepRecord
from tests.conftest import T0, without_consent
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio, serve
from tests.test_telegram import until
from tests.transcript import Chat

OUR_NUMBER = "+4570000000"
PHONE = "+4520000001"
CHAT = 424242
COACH_PHONE = "+4588888888"
COACH_CHAT = 777000
RISKY = "jeg tænker på selvmord"
CRISIS = "Tak, fordi du fortæller mig det."
NOT_THROUGH = "Krisebeskeden til deltager p-out er ikke nået frem på"


@dataclass
class World:
    app: App
    clock: FakeClock
    twilio: FakeTwilio
    telegram: FakeTelegram
    sms: SmsChannel
    tg: TelegramChannel
    url: str
    http: httpx.AsyncClient

    async def text(self, body: str) -> None:
        headers, form = self.twilio.signed_inbound(f"{self.url}/twilio/sms", From=PHONE, To=OUR_NUMBER, Body=body)
        assert (await self.http.post(f"{self.url}/twilio/sms", data=form, headers=headers)).status_code == 200

    def sms_to(self, number: str) -> list[str]:
        return [m["body"] for m in self.twilio.sent if m["to"] == number]

    def telegram_to(self, chat: int) -> list[str]:
        return [m.text for m in self.telegram.sent_to(chat)]

    async def live_through(self, hours: float, later: timedelta = timedelta(minutes=5)) -> None:
        """Move the clock on, a little at a time, sending what is due and telling coaches what is overdue, as the
        running bot does every few seconds: 30-second steps for the first 20 minutes, then steps of `later`."""
        end = self.clock.now() + timedelta(hours=hours)
        while self.clock.now() < end:
            step = timedelta(seconds=30) if self.clock.now() - T0 < timedelta(minutes=20) else later
            self.clock.advance(min(step, end - self.clock.now()))
            await self.sms.deliver_pending()
            await self.tg.deliver_pending()
            await self.app.undelivered.tick()


@asynccontextmanager
async def world(tmp_path: Path, clock: FakeClock, max_backoff: str = "300") -> AsyncIterator[World]:
    """Both channels; the coach on duty is alerted on Telegram first, then by SMS."""
    text = without_consent(tmp_path).read_text(encoding="utf-8").replace(
        "    name: Coach (demo)\n    channels: [console]",
        f'    name: Coach (demo)\n    channels: ["telegram:{COACH_CHAT}", "sms:{COACH_PHONE}"]').replace(
        "urgent_max_backoff_seconds: 300", f"urgent_max_backoff_seconds: {max_backoff}")
    deployment = tmp_path / "coach.yaml"
    deployment.write_text(text, encoding="utf-8")
    coach_channels: dict[str, CoachChannel] = {}
    async with FakeTwilio() as twilio, FakeTelegram(long_poll_cap=0.5) as telegram, open_app(
            str(tmp_path / "bot.db"), clock, coach_channels=coach_channels, deployment_path=deployment) as app:
        sender = TwilioSender(twilio.account_sid, twilio.auth_token, OUR_NUMBER, api_base_url=twilio.url)
        sms = SmsChannel(app.storage, app.loop, sender, Catalogs(), clock, None, segments_per_second=1000)
        tg = TelegramChannel(app.storage, app.loop, Catalogs(), clock, telegram.token, base_url=telegram.base_url,
                             per_chat_interval=0.0, poll_timeout=timedelta(seconds=1))
        coach_channels.update(sms=SmsCoachChannel(sender, sms.pacer), telegram=TelegramCoachChannel(tg.bot))
        web = create_web_app(app.storage, sms, twilio.auth_token, public_base_url="")
        await tg.start()
        try:
            async with serve(web) as url, httpx.AsyncClient() as http:
                web.state.public_base_url = url
                yield World(app, clock, twilio, telegram, sms, tg, url, http)
        finally:
            await tg.stop()
            await app.loop.settle()
            await sender.close()


async def the_crisis_row(app: App) -> Any:
    """The one crisis reply still waiting to be sent, on either channel."""
    later = T0 + timedelta(days=9)
    waiting = [*await app.storage.pending_outbox("telegram", now=later),
               *await app.storage.pending_outbox("sms", now=later)]
    [row] = [r for r in waiting if r.priority is Priority.URGENT]
    return row


async def test_a_day_long_telegram_outage_the_coach_is_told_by_sms_and_the_reply_arrives_after_it(
        tmp_path: Path, clock: FakeClock) -> None:
    async with world(tmp_path, clock) as w:
        participant = await w.app.storage.enroll(Enrollment("p-out", "Test Person", "da"), clock.now())
        await w.app.storage.set_address(participant.id, "telegram", str(CHAT), AddressStatus.ACTIVE, clock.now())
        w.telegram.fail_next("sendMessage", 502, "Bad Gateway", times=10**6)  # Telegram is down, for everyone
        w.telegram.user_sends_text(CHAT, CHAT, RISKY)
        await until(lambda: w.sms_to(COACH_PHONE))  # the risk alert: Telegram failed, so by SMS
        assert w.sms_to(COACH_PHONE)[0].startswith("Risikoalarm #1")
        await w.live_through(hours=23.5)
        told = [body for body in w.sms_to(COACH_PHONE) if body.startswith(NOT_THROUGH)]
        assert len(told) == 1 and told[0].startswith(f"{NOT_THROUGH} telegram siden mandag den 23. november 2026")
        assert "prøves igen indtil tirsdag den 24. november 2026 kl. 10.00" in told[0]
        assert w.telegram_to(CHAT) == []  # nothing got through all day...
        crisis = await the_crisis_row(w.app)  # ...and the crisis reply was never given up
        tries = [c for c in w.telegram.calls_of("sendMessage") if c.params.get("chat_id") == CHAT]
        assert 200 < len(tries) < 400  # tried all day, backing off to one try in five minutes
        assert crisis.attempts == len(tries)

        w.telegram.clear_faults()  # Telegram is back
        await w.live_through(hours=0.1)
        await until(lambda: len(w.telegram_to(CHAT)) >= 2)
        first, second = w.telegram_to(CHAT)[:2]
        assert first.startswith(CRISIS) and second.startswith("Vil du svare")  # the crisis reply first
        audit = [(e.action, dict(e.detail)) for e in await w.app.storage.audit_entries()]
        assert ("outbox.undelivered_told", {"outbox_id": crisis.id, "channel": "telegram", "given_up": False,
                                            "coaches": ["coach"]}) in audit


async def test_a_day_long_twilio_outage_the_coach_is_told_on_telegram_and_the_reply_arrives_after_it(
        tmp_path: Path, clock: FakeClock) -> None:
    async with world(tmp_path, clock, max_backoff="3600") as w:  # a deployment that backs off to one try an hour
        await w.app.storage.enroll(Enrollment("p-out", "Test Person", "da", phone=PHONE), clock.now())
        await w.text("hej")
        await w.sms.deliver_pending()
        assert len(w.sms_to(PHONE)) == 1
        w.twilio.fail_next(10**6, status=503, code=20500)  # Twilio is down, for everyone
        await w.text(RISKY)
        await until(lambda: w.telegram_to(COACH_CHAT))  # the risk alert on Telegram, the coach's first channel
        await w.live_through(hours=23.9, later=timedelta(minutes=30))
        told = [t for t in w.telegram_to(COACH_CHAT) if t.startswith(NOT_THROUGH)]
        assert len(told) == 1 and told[0].startswith(f"{NOT_THROUGH} sms siden")
        assert not any(body.startswith(NOT_THROUGH) for body in w.sms_to(COACH_PHONE))  # not on the broken one
        crisis = await the_crisis_row(w.app)
        assert 30 < crisis.attempts < 60  # 2, 4, ... 2048 s apart, then hourly
        assert crisis.attempts == sum(m["to"] == PHONE for m in w.twilio.rejected)
        w.twilio.clear_faults()
        await w.live_through(hours=0.1)
        after = w.sms_to(PHONE)[1:]
        assert after[0].startswith(CRISIS) and after[1].startswith("Vil du svare")


async def test_a_crisis_reply_that_can_never_be_delivered_is_told_at_once(tmp_path: Path, clock: FakeClock) -> None:
    async with world(tmp_path, clock) as w:
        participant = await w.app.storage.enroll(Enrollment("p-out", "Test Person", "da"), clock.now())
        await w.app.storage.set_address(participant.id, "telegram", str(CHAT), AddressStatus.ACTIVE, clock.now())
        w.telegram.block(CHAT)  # the person blocked the bot: Telegram refuses for good
        w.telegram.user_sends_text(CHAT, CHAT, RISKY)
        await until(lambda: w.telegram_to(COACH_CHAT))  # the risk alert
        await w.tg.deliver_pending()
        given_up = await w.app.storage.given_up_messages(participant.id)
        [gone] = [g for g in given_up if g.row.priority is Priority.URGENT]
        assert gone.detail == "403 forbidden"
        assert await w.app.undelivered.tick() == 1  # no need to wait ten minutes: it will never get through
        [told] = [t for t in w.sms_to(COACH_PHONE) if t.startswith("Krisebeskeden")]  # not on the failing channel
        assert told.startswith("Krisebeskeden til deltager p-out kunne ikke leveres på telegram (403 forbidden)")
        assert await w.app.undelivered.tick() == 0  # once


async def test_a_given_up_routine_message_is_on_the_persons_page_with_the_reason_and_time(
        tmp_path: Path, clock: FakeClock) -> None:
    async with world(tmp_path, clock) as w:
        participant = await w.app.storage.enroll(Enrollment("p-out", "Test Person", "da", coach_id="coach",
                                                            phone=PHONE), clock.now())
        reminder = "Modul 2 er klar: Stress og søvn. Læs det, når det passer dig."
        step = StepRecord(participant.id, 0, (await w.app.loop.state_of(participant)).to_json(), clock.now(),
                          outbox=[OutboundRecord("sms", {"text": reminder}, clock.now(), Priority.ROUTINE)])
        await w.app.storage.commit_step(step)
        w.twilio.fail_next(5, status=503, code=20500)
        for wait in (0, 2, 4, 8, 16):  # the back-off between the five tries
            clock.advance(timedelta(seconds=wait))
            await w.sms.deliver_pending()
        assert len(w.twilio.rejected) == 5 and w.sms_to(PHONE) == []
        assert await w.app.undelivered.tick() == 0  # routine: nobody is alerted, it waits on the person's page
        page = await w.app.desk.handle("coach", "PERSON p-out")
        assert page is not None
        assert page.splitlines()[-1] == (  # when it was given up (Copenhagen time), why, and how it began
            "Ikke leveret (sms, 23.11 10:00, opgivet: HTTP 503): Modul 2 er klar: Stress og søvn. Læs det, når det "
            "passer di…")
        entries = await w.app.storage.audit_entries()
        assert any((e.actor, e.action, e.subject, dict(e.detail)) == (
            "coach:coach", "overview.viewed", "participant:p-out", {"given_up": 1}) for e in entries)
        assert any(e.action == "outbox.given_up" and e.subject == "participant:p-out" for e in entries)
        assert all(reminder[:20] not in str(e.detail) for e in entries)  # the message itself is not in the log


class UnreachableCoachChannel:
    """A coach channel that is down all day."""

    name = "console"

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        raise ConnectionError("down")


async def test_a_coach_alert_no_channel_takes_is_retried_with_back_off_all_day(
        tmp_path: Path, clock: FakeClock) -> None:
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=without_consent(tmp_path),
                        coach_channels={"console": UnreachableCoachChannel()}) as app:
        await (await Chat.open(app, "p-out")).say(RISKY)
        while clock.now() < T0 + timedelta(hours=24, minutes=1):  # the watcher ticks every 20 s; 5-minute steps later
            clock.advance(timedelta(seconds=20) if clock.now() < T0 + timedelta(minutes=20) else timedelta(minutes=5))
            await app.escalations.tick()
        tries = sorted({n.created_at for n in await app.storage.notifications(1) if n.coach_id == "coach"})
        gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
        assert gaps[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]  # backing off...
        assert 270 <= len(tries) <= 300  # ...to one try in five minutes (urgent_max_backoff_seconds), all day
        assert tries[-1] >= T0 + timedelta(hours=23, minutes=55)  # still trying after a day: never given up
        assert all(n.status is NotificationStatus.FAILED for n in await app.storage.notifications(1))
