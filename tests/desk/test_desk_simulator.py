"""The administrator's programme timeline and simulator, as the clinical lead uses them in a real browser.

The timeline shows every message of the shipped programme in Danish and English side by side. The simulator is a
scratch participant: the lead answers the baseline measurement, moves the clock on by weeks and to day 182, sees
the 6-month measurement arrive, and tries a risk sentence: the crisis reply and "an alert would be raised" show on
the page while the real database gets no participant, no message, no alert and no task. A plain coach gets 404.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.desk.live import TIMELINE_MS, LiveDesk, screenshot

RISK = "Jeg har besluttet at tage mit liv i nat"


def test_a_coach_has_neither_the_timeline_nor_the_simulator(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    for path in ("/admin/programme", "/admin/simulator"):
        assert page.request.get(live.url + path).status == 404
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    refused = page.request.post(live.url + "/admin/simulator/start", form={"csrf": csrf, "start": "2026-11-30"})
    assert refused.status == 404
    actions = [a.action for a in live.run(live.app.storage.audit_entries())]
    assert not [a for a in actions if a.startswith(("simulator.", "programme.timeline"))]


def test_the_timeline_shows_every_message_in_danish_and_english(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Forløbet dag for dag").click(timeout=TIMELINE_MS)  # the timeline is computed
    expect(page.get_by_role("heading", name="Forløbet dag for dag", level=1)).to_be_visible()
    module_1 = page.locator("tr", has_text="Modul 1 er klar")
    expect(module_1).to_contain_text("Module 1 is ready")  # the same message, both languages on one row
    expect(module_1.locator("td[lang=da]")).to_contain_text("Introduktion og teori")
    expect(module_1.locator("td[lang=en]")).to_contain_text("Introduction and theory")
    expect(page.locator("#day-182")).to_contain_text("Det er tid til en måling")  # the 6-month wave
    expect(page.locator("#day-182")).to_contain_text("It is time to measure how you are")
    screenshot(page, "admin-programme")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "admin-programme-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.fill("#start", "2026-03-16")
    page.get_by_role("button", name="Vis").click(timeout=TIMELINE_MS)  # another start date: computed again
    expect(page.locator("#day-0")).to_contain_text("16. marts 2026")
    audited = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "programme.timeline_viewed"]
    assert sorted(a.detail["start"] for a in audited) == ["2026-03-16", "2026-11-30"]  # next Monday, the one asked


def test_the_simulator_answers_a_wave_jumps_to_six_months_and_alerts_nobody(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Simulator", exact=True).click()
    expect(page.get_by_text("Intet her når nogen")).to_be_visible()
    page.get_by_role("button", name="Start simuleringen").click()
    chat = page.locator("ol.chat")
    expect(chat).to_contain_text("Du er nu tilmeldt")  # the SMS invite at enrolment, day 0 09:00

    page.get_by_role("button", name="Næste besked").click()
    expect(chat).to_contain_text("(1/10)")
    page.get_by_role("button", name="2 = Ind i mellem").click()  # the question's own choices are buttons
    expect(chat).to_contain_text("(2/10)")
    for _ in range(40):  # the rest of the baseline wave
        if page.locator(".chat-note", has_text="“baseline” besvaret").count():
            break
        page.get_by_role("button", name="Svar for mig").click()
    expect(page.locator(".chat-note", has_text="“baseline” besvaret")).to_be_visible()

    for _ in range(3):
        page.get_by_role("button", name="+1 uge").click()
    expect(page.locator(".sim-now")).to_contain_text("Dag 21")
    expect(chat).to_contain_text("Modul 3 er klar")
    page.fill("#day", "182")
    page.get_by_role("button", name="Gå").click()
    expect(page.locator(".sim-now")).to_contain_text("Dag 182")
    six_months = page.locator(".chat-bot", has_text="Måling “month6”").first
    expect(six_months).to_contain_text("Dag 182")
    expect(page.locator(".chat-note", has_text="“week4” ikke besvaret")).to_have_count(1)  # left unanswered
    screenshot(page, "admin-simulator")

    page.fill("#text", RISK)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-urgent").last).to_contain_text("112")  # the crisis reply, contacts and all
    alert = page.locator(".chat-alert").last
    expect(alert).to_contain_text("En alarm")
    expect(alert).to_contain_text("I simulatoren får ingen besked")
    expect(page.locator(".chat-note").last).to_contain_text("holdes nu tilbage")  # the high-risk hold
    screenshot(page, "admin-simulator-risk")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "admin-simulator-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Frigiv, som en coach ville").click()
    expect(page.locator(".chat-note").last).to_contain_text("En coach har frigivet")
    expect(page.get_by_role("button", name="Frigiv, som en coach ville")).to_have_count(0)

    storage = live.app.storage  # the real database: nobody enrolled, nothing to send, nobody alerted
    assert live.run(storage.escalations()) == []
    assert live.run(storage.coach_tasks(only_open=False)) == []
    assert all(live.run(storage.pending_outbox(channel, 100)) == [] for channel in ("sms", "telegram", "console"))
    assert live.run(storage.participant(1)) is None
    audit = [(a.action, a.detail) for a in live.run(storage.audit_entries()) if a.action.startswith("simulator.")]
    actions = [action for action, _ in audit]
    assert {"simulator.viewed", "simulator.started", "simulator.release", "simulator.move", "simulator.say",
            "simulator.answer_for_me", "simulator.to_day"} <= set(actions)
    assert not any(re.search("liv|nat", str(detail)) for _, detail in audit)  # what was typed is nobody's record

    page.get_by_role("button", name="Afslut og start forfra").click()
    expect(page.get_by_role("button", name="Start simuleringen")).to_be_visible()
