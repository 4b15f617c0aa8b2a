"""The administrators' landing page: the clinical lead (role admin) finds it in the menu; a coach neither sees the
menu entry nor reaches the page (the same 404 as an address that does not exist)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.desk.live import LiveDesk


def test_only_an_administrator_has_the_administration_pages(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    expect(page.get_by_role("navigation").get_by_role("link", name="Administration")).to_have_count(0)
    assert page.request.get(live.url + "/admin").status == 404  # the session cookie goes with it

    page.context.clear_cookies()
    live.log_in(page, "lead", "/alerts")
    page.get_by_role("navigation").get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    actions = [(a.actor, a.action) for a in live.run(live.app.storage.audit_entries())]
    assert ("coach:lead", "admin.viewed") in actions
    assert ("coach:coach", "admin.viewed") not in actions
