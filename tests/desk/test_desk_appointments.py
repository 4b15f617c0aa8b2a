"""The appointments page in a real browser: a coach books a talk for their participant, a typo is refused with what
to fix (in Danish), the booking is listed, and marking it not attended makes a coach task."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from storage.records import Enrollment
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot


def enrolled(live: LiveDesk, ref: str, coach: str) -> int:
    async def go() -> int:
        return (await live.app.storage.enroll(Enrollment(ref, "Anna Jensen", "da", T0.date(), coach),
                                              live.clock.now())).id
    return live.run(go())


def test_a_coach_books_a_talk_and_marks_it_not_attended(live: LiveDesk, page: Page) -> None:
    anna = enrolled(live, "p-anna", "coach")
    enrolled(live, "p-other", "backup")  # not the coach's: they cannot book for her
    live.log_in(page, "coach", "/appointments")
    expect(page.get_by_role("heading", name="Aftaler", level=1)).to_be_visible()

    page.select_option("#kind", "screening")
    page.fill("#time", "26-11-2026 14:00")
    page.fill("#place", "Rådhuset, lokale 2")
    page.fill("#people", "p-anna p-other")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("ingen deltager 'p-other'")  # in the coach's language
    assert live.run(live.app.storage.appointments()) == []

    page.fill("#people", "p-anna")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("booket")
    [booked] = live.run(live.app.storage.appointments())
    row = page.locator(f"#appointment-{booked.id}")
    expect(row).to_contain_text("Rådhuset, lokale 2")
    expect(row).to_contain_text("p-anna")
    reminders = [r.key for r in live.run(live.app.storage.schedule_of(anna)) if r.kind == "appointment"]
    assert reminders == [f"appointment:{booked.id}:day_before", f"appointment:{booked.id}:two_hours"]
    screenshot(page, "appointments")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "appointments-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    row.get_by_role("button", name="p-anna udeblev").click()
    expect(page.get_by_role("status")).to_contain_text("udeblevet")
    expect(page.locator(f"#appointment-{booked.id}")).to_contain_text("udeblevet")
    tasks = live.run(live.app.storage.coach_tasks())
    assert [(t.participant_id, t.kind) for t in tasks] == [(anna, "appointment_missed")]
    actions = {(a.actor, a.action) for a in live.run(live.app.storage.audit_entries())}
    assert {("coach:coach", "appointment.listed"), ("coach:coach", "appointment.booked"),
            ("coach:coach", "appointment.attendance")} <= actions
