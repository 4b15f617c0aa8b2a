"""The desk's Messages page in a real browser: a coach reads what a participant wrote on Telegram and answers, and the
answer goes out through the bot (the outbox, the real dispatcher and Telegram channel, the fake Bot API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from bot.channels.telegram import TelegramChannel
from bot.enroll import EnrolmentRequest, enrol
from bot.settings import reload_settings
from storage.records import Participant
from tests.desk.live import LiveDesk, screenshot
from tests.fakes.telegram import BotMessage, FakeTelegram

CHAT = USER = 4242
CALL_ME = "jeg har det rigtig skidt, kan I ringe til mig på 12345678"


class Telegram:
    """The fake Bot API and the bot's real Telegram channel, both on the live desk's loop."""

    def __init__(self, live: LiveDesk) -> None:
        self.live = live
        self.fake = FakeTelegram(long_poll_cap=0.5)
        self.channel: TelegramChannel

    def __enter__(self) -> Telegram:
        async def start() -> None:
            await self.fake.__aenter__()
            app = self.live.app
            self.channel = TelegramChannel(app.storage, app.loop, app.desk.catalogs, self.live.clock, self.fake.token,
                                           base_url=self.fake.base_url, per_chat_interval=0.0,
                                           poll_timeout=timedelta(seconds=1))
            await self.channel.start()
        self.live.run(start())
        return self

    def __exit__(self, *_: object) -> None:
        self.live.run(self.channel.stop())
        self.live.run(self.fake.__aexit__(None, None, None))

    def linked(self, name: str, lang: str = "da") -> Participant:
        """Enrolled with a Telegram link, and the link opened in the chat."""
        async def go() -> Participant:
            invite = await enrol(self.live.app.storage, EnrolmentRequest(name, telegram=True, lang=lang, coach="coach"),
                                 ["coach"], self.live.clock.now(), "stress_test_bot")
            assert invite.telegram_link is not None
            self.fake.user_sends_command(CHAT, USER, f"/start {invite.telegram_link.split('?start=')[1]}")
            await self.fake.wait_sent(CHAT)
            return invite.participant
        return self.live.run(go())

    def says(self, text: str) -> list[BotMessage]:
        """The participant writes; returns what the bot answered."""
        async def go() -> list[BotMessage]:
            before = len(self.fake.sent_to(CHAT))
            self.fake.user_sends_text(CHAT, USER, text)
            return (await self.fake.wait_sent(CHAT, before + 1))[before:]
        return self.live.run(go())

    def received(self, count: int) -> list[str]:
        """The chat's messages once there are `count` (waits for the dispatcher)."""
        return [m.text for m in self.live.run(self.fake.wait_sent(CHAT, count))]

    def count(self) -> int:
        async def go() -> int:
            return len(self.fake.sent_to(CHAT))
        return self.live.run(go())


@pytest.fixture
def telegram(live: LiveDesk) -> Iterator[Telegram]:
    with Telegram(live) as running:
        yield running


def test_a_coach_reads_a_message_and_answers_it_through_the_bot(live: LiveDesk, telegram: Telegram,
                                                               page: Page) -> None:
    telegram.linked("Anna Jensen")
    telegram.says(CALL_ME)
    [message] = live.run(live.app.storage.coach_messages())
    live.log_in(page, "coach", "/messages")
    card = page.locator(f"#message-{message.id}")
    expect(card).to_contain_text("Anna Jensen")
    expect(card).to_contain_text(CALL_ME)
    expect(card).to_contain_text("Ulæst")
    page.select_option(f"#canned-{message.id}", label="Tak, jeg ringer")  # her language's texts: Danish
    box = page.locator(f"#reply-{message.id}")
    expect(box).to_have_value("Tak for din besked. Jeg ringer til dig i løbet af i dag.")
    box.fill("Tak for din besked, Anna. Jeg ringer til dig kl. 14.")
    screenshot(page, "messages")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "messages-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    before = telegram.count()
    card.get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("status")).to_contain_text(f"#{message.id}")
    sent = telegram.received(before + 1)[-1]  # through the outbox and the dispatcher to her chat
    assert sent.endswith("\nTak for din besked, Anna. Jeg ringer til dig kl. 14.")
    assert "Coach (demo)" in sent  # who writes: a person, not the bot
    answered = live.run(live.app.storage.coach_message(message.id))
    assert answered is not None and answered.read_by == "coach"  # answering it is reading it
    expect(page.locator(f"#message-{message.id}")).to_contain_text("læst af Coach (demo)")
    audit = [(a.actor, a.action, dict(a.detail)) for a in live.run(live.app.storage.audit_entries())]
    assert ("coach:coach", "message.read", {"message_id": message.id}) in audit
    assert any(action == "message.replied" and detail["channel"] == "telegram" and detail["not_before"] is None
               for actor, action, detail in audit if actor == "coach:coach")
    assert ("coach:coach", "messages.viewed") in {(a, b) for a, b, _ in audit}
    assert CALL_ME not in str(audit) and "Jeg ringer" not in str(audit)


def test_a_reply_for_a_carrier_this_bot_has_no_settings_for_says_so(live: LiveDesk, telegram: Telegram, page: Page,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The reply is queued either way; but "on its way" when this bot cannot send on that channel left the coach
    believing the person had been answered."""
    telegram.linked("Anna Jensen")
    telegram.says(CALL_ME)
    [message] = live.run(live.app.storage.coach_messages())
    live.log_in(page, "coach", "/messages")
    page.locator(f"#reply-{message.id}").fill("Jeg ringer til dig kl. 14.")
    page.locator(f"#message-{message.id}").get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("alert")).to_contain_text("ingen Telegram sat op")  # this desk's settings have none
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    reload_settings()
    try:
        telegram.says("kan du ringe lidt senere i stedet, jeg er ude at gå")
        [later] = [m for m in live.run(live.app.storage.coach_messages()) if m.id != message.id]
        page.goto(f"{live.url}/messages")
        page.locator(f"#reply-{later.id}").fill("Jeg ringer kl. 15.")
        page.locator(f"#message-{later.id}").get_by_role("button", name="Send svar").click()
        expect(page.get_by_role("status")).to_contain_text(f"#{later.id}")
        expect(page.get_by_role("alert")).to_have_count(0)
    finally:
        monkeypatch.undo()
        reload_settings()


def test_a_reply_written_at_night_waits_for_the_morning_unless_sent_now(live: LiveDesk, telegram: Telegram,
                                                                      page: Page) -> None:
    telegram.linked("Anna Jensen")
    telegram.says(CALL_ME)
    telegram.says("og jeg kan ikke sove")
    first, second = live.run(live.app.storage.coach_messages())
    live.clock.advance(timedelta(hours=12))  # Monday 22:00 in Copenhagen: the programme's quiet hours
    live.log_in(page, "coach", "/messages")
    before = telegram.count()
    page.fill(f"#reply-{first.id}", "Jeg ringer i morgen tidlig")
    page.locator(f"#message-{first.id}").get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("status")).to_contain_text("24.11.2026 08.00")  # when it goes
    page.fill(f"#reply-{second.id}", "Ring 1813 hvis det bliver værre i nat")
    page.check(f"#now-{second.id}")
    page.locator(f"#message-{second.id}").get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("status")).to_contain_text("på vej")
    assert telegram.received(before + 1)[-1].endswith("Ring 1813 hvis det bliver værre i nat")  # sent now
    assert telegram.count() == before + 1  # the other waits
    live.clock.advance(timedelta(hours=10))  # Tuesday 08:00
    assert telegram.received(before + 2)[-1].endswith("Jeg ringer i morgen tidlig")


def test_a_coach_marks_a_message_read_and_another_coach_does_not_see_it(live: LiveDesk, telegram: Telegram,
                                                                       page: Page) -> None:
    telegram.linked("Anna Jensen")
    telegram.says(CALL_ME)
    [message] = live.run(live.app.storage.coach_messages())
    live.log_in(page, "backup", "/messages")  # not her coach, and she has one: not for the backup to read
    expect(page.locator(f"#message-{message.id}")).to_have_count(0)
    refused = page.request.get(f"{live.url}/messages/{message.id}/canned?canned=0")
    assert refused.status == 404
    page.context.clear_cookies()
    live.log_in(page, "coach", "/messages")
    page.locator(f"#message-{message.id}").get_by_role("button", name="Markér som læst").click()
    expect(page.get_by_role("status")).to_contain_text(f"#{message.id}")
    read = live.run(live.app.storage.coach_message(message.id))
    assert read is not None and read.read_by == "coach"
    actions = {(a.actor, a.action) for a in live.run(live.app.storage.audit_entries())}
    assert {("coach:backup", "message.refused"), ("coach:coach", "message.read")} <= actions
