"""The desk in a real browser: a coach logs in, sees the alerts open to them, takes one and closes it."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from flows.inputs import Text
from storage.records import Enrollment, EscalationStatus
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot


def someone_at_risk(live: LiveDesk, ref: str, name: str, coach: str, words: str) -> int:
    """`ref` enrolled with `coach`, then writes `words` to the bot; returns the escalation's id."""
    async def go() -> int:
        storage = live.app.storage
        participant = await storage.enroll(Enrollment(ref, name, "da", T0.date(), coach), live.clock.now())
        await live.app.loop.handle(participant, Text(words), "console")
        return max(e.id for e in await storage.escalations() if e.participant_ref == ref)
    return live.run(go())


def test_a_coach_takes_an_alert_and_closes_it_with_a_note(live: LiveDesk, page: Page) -> None:
    anna = someone_at_risk(live, "p-anna", "Anna Jensen", "coach", "jeg vil ikke leve mere")
    live.log_in(page, "coach", "/alerts")
    expect(page).to_have_url(f"{live.url}/alerts")
    alert = page.locator(f"#alert-{anna}")
    expect(alert).to_contain_text("Anna Jensen")
    screenshot(page, "alerts")
    alert.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text(f"#{anna}")
    assert live.run(live.app.storage.escalation(anna)).status is EscalationStatus.ACKNOWLEDGED  # type: ignore[union-attr]
    page.fill(f"#note-{anna}", "Ringede til Anna, hun har det bedre")
    page.locator(f"#alert-{anna}").get_by_role("button", name="Close").click()
    expect(page.locator(f"#alert-{anna}")).to_have_count(0)
    closed = live.run(live.app.storage.escalation(anna))
    assert closed is not None and closed.status is EscalationStatus.CLOSED and closed.closed_by == "coach"
    actions = {(a.actor, a.action) for a in live.run(live.app.storage.audit_entries())}
    assert {("coach:coach", "desk.login"), ("coach:coach", "escalation.listed")} <= actions


def test_a_post_without_the_csrf_token_is_refused(live: LiveDesk, page: Page) -> None:
    anna = someone_at_risk(live, "p-anna", "Anna Jensen", "coach", "jeg vil ikke leve mere")
    live.log_in(page, "coach", "/alerts")
    response = page.request.post(f"{live.url}/alerts/{anna}/ack", form={"show": "all"})
    assert response.status == 403
    assert live.run(live.app.storage.escalation(anna)).status is EscalationStatus.OPEN  # type: ignore[union-attr]
    assert ("coach:coach", "desk.csrf_refused") in {(a.actor, a.action) for a in
                                                    live.run(live.app.storage.audit_entries())}


def test_a_session_unused_for_15_minutes_is_sent_to_log_in(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    expect(page).to_have_url(f"{live.url}/alerts")
    live.clock.advance(timedelta(minutes=16))
    page.goto(f"{live.url}/alerts")
    expect(page).to_have_url(f"{live.url}/login?next=/alerts")
