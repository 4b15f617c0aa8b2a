"""Channel health in the browser, as the administrator reads it: a message given up, one stuck, an SMS webhook silent
for hours in office hours and a Telegram bot that never heard anything, each said in words with what to check; no
message text or phone number on the page; a plain coach gets a 404."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from bot.settings import reload_settings
from storage.admin_records import RECEIVED
from storage.records import CommitStatus, Enrollment, OutboundRecord, Priority, StepRecord
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot

PHONE = "+4520123456"
SECRET_TEXT = "Hej Anna, her er dit spørgeskema"


@pytest.fixture
def channels_set_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The bot's settings have SMS (Twilio) and Telegram."""
    for name, value in (("TWILIO_ACCOUNT_SID", "AC" + "0" * 32), ("TWILIO_AUTH_TOKEN", "token"),
                        ("TWILIO_FROM", "+4570000000"), ("TELEGRAM_BOT_TOKEN", "123:abc"),
                        ("PUBLIC_BASE_URL", "https://bot.example.dk")):
        monkeypatch.setenv(name, value)
    reload_settings()
    try:
        yield
    finally:
        monkeypatch.undo()
        reload_settings()


def seeded(live: LiveDesk) -> None:
    """At 10:00 on a Monday (office hours): Anna's SMS written two hours ago still waits (nothing sends SMS), her
    Telegram message was given up (she blocked the bot); the last SMS webhook came four hours ago; Telegram never
    brought anything."""
    async def go() -> None:
        storage, now = live.app.storage, live.clock.now()
        anna = await storage.enroll(Enrollment("p-anna", "Anna Jensen", "da", T0.date(), "coach", phone=PHONE), now)
        written = now - timedelta(hours=2)
        step = StepRecord(anna.id, 0, {"n": 1}, written, outbox=[
            OutboundRecord("sms", {"text": SECRET_TEXT}, written, Priority.ROUTINE),
            OutboundRecord("telegram", {"text": SECRET_TEXT}, written, Priority.URGENT)])
        result = await storage.commit_step(step)
        assert result.status is CommitStatus.COMMITTED
        await storage.give_up_outbox(result.outbox_ids[1], now - timedelta(hours=1),
                                     f"Forbidden: bot was blocked by the user {PHONE}")
        await storage.record_heartbeat("sms", RECEIVED, now - timedelta(hours=4))
    live.run(go())


def test_a_coach_who_is_not_an_administrator_gets_a_404(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    assert page.request.get(live.url + "/admin/health").status == 404


def test_a_failed_message_and_an_old_heartbeat_are_said_with_what_to_check(live: LiveDesk, page: Page,
                                                                          channels_set_up: None) -> None:
    seeded(live)
    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Kanalernes tilstand").click()
    expect(page.get_by_role("heading", name="Kanalernes tilstand", level=1)).to_be_visible()

    sms = page.locator("#channel-sms")
    expect(sms.get_by_role("heading", level=2)).to_contain_text("Kræver handling")
    expect(sms).to_contain_text("har ventet 2 t.: SMS sender ikke")  # stuck, with the time it waited
    expect(sms).to_contain_text("SMS: intet modtaget i 4 t. i åbningstiden")
    expect(sms).to_contain_text("Twilios webhook")
    expect(sms.locator("dd").first).to_have_text("23.11.2026 06.00")  # the last webhook, Copenhagen time

    telegram = page.locator("#channel-telegram")
    expect(telegram.get_by_role("heading", level=2)).to_contain_text("Kræver handling")
    expect(telegram).to_contain_text("1 besked er opgivet inden for de seneste 7 dage")
    expect(telegram).to_contain_text("Intet er modtaget på Telegram endnu")

    row = page.locator("table.health-given-up tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("p-anna")
    expect(row).to_contain_text("krisesvar")
    expect(row).to_contain_text("Forbidden: bot was blocked by the user …")
    row.get_by_role("link", name="p-anna").click()  # to reach her another way
    expect(page).to_have_url(f"{live.url}/people/p-anna")
    page.go_back()

    text = page.locator("main").inner_text()
    assert PHONE not in text and SECRET_TEXT not in text and "Anna Jensen" not in text
    screenshot(page, "admin-health")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "admin-health-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    viewed = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "channels.viewed"]
    assert [(a.actor, a.detail["sms"], a.detail["telegram"]) for a in viewed] == [
        ("coach:lead", "problem", "problem")] * len(viewed) and viewed


def test_a_working_channel_says_so_and_a_quiet_night_is_no_news(live: LiveDesk, page: Page,
                                                               channels_set_up: None) -> None:
    night = T0.replace(hour=1)  # 02:00 in Copenhagen
    live.clock.set(night)
    live.run(live.app.storage.record_heartbeat("sms", RECEIVED, night - timedelta(hours=6)))
    live.run(live.app.storage.record_heartbeat("telegram", RECEIVED, night - timedelta(minutes=5)))
    live.log_in(page, "lead", "/admin/health")
    for channel in ("sms", "telegram"):
        section = page.locator(f"#channel-{channel}")
        expect(section.get_by_role("heading", level=2)).to_contain_text("Virker")
        expect(section).to_contain_text("intet venter for længe")
    expect(page.locator("main")).to_contain_text("Intet er opgivet inden for de seneste 7 dage.")
