"""The audit log searched in the browser, as the administrator does it: by a participant's ref, by dates, by who and
what, a page at a time, newest first; looking at it is itself in the log; a plain coach gets a 404."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from storage.records import AuditRecord
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot


def logged(live: LiveDesk, *rows: tuple[str, str, str, int]) -> None:
    """Audit rows as the bot writes them: (actor, action, subject, days before now)."""
    async def go() -> None:
        for actor, action, subject, days in rows:
            await live.app.storage.record_audit(AuditRecord(actor, action, subject, T0 - timedelta(days=days),
                                                            {"escalation_id": 7} if "alert" in action else {}))
    live.run(go())


def rows(page: Page) -> list[list[str]]:
    table = page.locator("table.audit-log tbody tr")
    return [[cell.strip() for cell in table.nth(i).locator("th, td").all_inner_texts()[1:4]]
            for i in range(table.count())]


def test_a_coach_who_is_not_an_administrator_gets_a_404(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    assert page.request.get(live.url + "/admin/audit?ref=p-anna").status == 404
    assert "audit.searched" not in {a.action for a in live.run(live.app.storage.audit_entries())}


def test_audit_search_finds_an_action_by_a_ref_and_by_date(live: LiveDesk, page: Page) -> None:
    logged(live, ("coach:coach", "overview.viewed", "participant:p-anna", 9),
           ("participant:p-anna", "run.completed", "participant:p-anna", 8),
           ("coach:lead", "alert.ack", "participant:p-bo", 8),
           ("coach:lead", "alert.close", "participant:p-anna", 3),
           ("system", "task.no_response", "participant:p-anna2", 3),  # another person whose ref starts alike
           ("admin:karin", "export.answers", "all participants", 1))
    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Revisionslog").click()
    expect(page.get_by_role("heading", name="Revisionslog", level=1)).to_be_visible()
    assert rows(page)[0] == ["Clinical lead (demo) coach:lead", "audit.searched", "audit log"]  # this very look

    page.fill("#ref", "p-anna")
    page.get_by_role("button", name="Søg").click()
    assert rows(page) == [["Clinical lead (demo) coach:lead", "alert.close", "p-anna"],
                          ["participant:p-anna", "run.completed", "p-anna"],
                          ["Coach (demo) coach:coach", "overview.viewed", "p-anna"]]
    expect(page.locator("table.audit-log tbody tr").first).to_contain_text("escalation_id: 7")
    screenshot(page, "admin-audit")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "admin-audit-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    day = (T0 - timedelta(days=8)).date().isoformat()  # one day: 15 November
    page.fill("#ref", "")
    page.fill("#from", day)
    page.fill("#to", day)
    page.get_by_role("button", name="Søg").click()
    assert [r[1] for r in rows(page)] == ["alert.ack", "run.completed"]

    page.fill("#from", "")
    page.fill("#to", "")
    page.fill("#actor", "lead")  # a coach's user name
    page.fill("#action", "alert")
    page.get_by_role("button", name="Søg").click()
    assert [(r[1], r[2]) for r in rows(page)] == [("alert.close", "p-anna"), ("alert.ack", "p-bo")]
    page.get_by_role("link", name="p-bo").click()
    expect(page).to_have_url(f"{live.url}/people/p-bo")

    searched = [a.detail for a in reversed(live.run(live.app.storage.audit_entries())) if a.action == "audit.searched"]
    assert [{k: v for k, v in d.items() if k != "via"} for d in searched] == [
        {}, {"ref": "p-anna"}, {"from": day, "to": day}, {"actor": "lead", "action": "alert"}]


def test_the_log_is_paged_newest_first_and_dates_the_wrong_way_round_are_said(live: LiveDesk, page: Page) -> None:
    logged(live, *(("coach:coach", f"overview.viewed.{n:03}", "participant:p-anna", 0) for n in range(120)))
    live.log_in(page, "lead", "/admin")
    page.goto(live.url + "/admin/audit?ref=p-anna")
    first = rows(page)
    assert len(first) == 50 and first[0][1] == "overview.viewed.119" and first[-1][1] == "overview.viewed.070"
    page.get_by_role("link", name="Ældre").click()
    second = rows(page)
    assert len(second) == 50 and second[0][1] == "overview.viewed.069"
    page.get_by_role("link", name="Ældre").click()
    third = rows(page)
    assert [r[1] for r in third] == [f"overview.viewed.{n:03}" for n in range(19, -1, -1)]
    expect(page.get_by_role("link", name="Ældre")).to_have_count(0)
    page.get_by_role("link", name="Nyeste").click()
    assert rows(page) == first

    page.fill("#from", "2026-11-20")
    page.fill("#to", "2026-11-10")
    page.get_by_role("button", name="Søg").click()
    expect(page.get_by_role("alert")).to_contain_text("byt om på dem")
    expect(page.locator("table.audit-log")).to_have_count(0)
