"""The outcome report in the browser, as the administrator reads it: everyone's or one cohort's figures (computed
here by hand), charts for the wave pairs that have data, the downloads, and the CSP kept (the report's style comes
from a stylesheet, not inline); a plain coach gets a 404."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from storage.records import CommitStatus, Enrollment, MarkRecord, ScoreRecord, StepRecord
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot

START = T0.date() - timedelta(days=40)  # week 4 has come for everyone; the end of the programme has not


def answered(live: LiveDesk, ref: str, cohort: str, pss10: dict[str, int]) -> None:
    """A participant of `cohort` who answered PSS-10 in these waves, as the engine stores it: the score of the
    wave's run, and the wave's milestones."""
    async def go() -> None:
        storage = live.app.storage
        person = await storage.enroll(Enrollment(ref, "Navn", "da", START, "coach", cohort=cohort), live.clock.now())
        for seq, (wave, total) in enumerate(pss10.items(), 1):
            at = T0 - timedelta(days=40 - {"baseline": 0, "week4": 28}[wave])
            step = StepRecord(person.id, seq - 1, {"seq": seq}, at,
                              scores=[ScoreRecord(seq, "pss10", 2, "total", total, None, at)],
                              marks=[MarkRecord("wave_started", wave, {}, at),
                                     MarkRecord("wave_run", wave, {"flow_id": "pss10", "run_seq": seq}, at),
                                     MarkRecord("wave_done", wave, {}, at)])
            assert (await storage.commit_step(step)).status is CommitStatus.COMMITTED
    live.run(go())


def test_a_coach_who_is_not_an_administrator_gets_a_404(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    for path in ("/admin/report", "/admin/report/download?format=csv", "/admin/report/report.css"):
        assert page.request.get(live.url + path).status == 404, path
    assert "report.outcomes" not in {a.action for a in live.run(live.app.storage.audit_entries())}


def test_the_report_shows_a_cohorts_figures_with_charts_and_downloads(live: LiveDesk, page: Page) -> None:
    answered(live, "p-anna", "nord-2026", {"baseline": 24, "week4": 18})
    answered(live, "p-bo", "nord-2026", {"baseline": 20, "week4": 16})
    answered(live, "p-cai", "syd-2026", {"baseline": 30})  # week 4 not answered
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # a CSP refusal shows here

    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Resultatrapport").click()
    expect(page.get_by_role("heading", name="Resultatrapport", level=1)).to_be_visible()
    expect(page.locator("#cohort option")).to_have_text(["Alle hold", "nord-2026", "syd-2026"])
    headline = page.locator(".outcome-report #headline tbody tr").filter(has_text="PSS-10 baseline → uge 4")
    # everyone: the two who answered both waves are paired; baseline (24 + 20) / 2 = 22, week 4 (18 + 16) / 2 = 17
    expect(headline).to_contain_text("22,00")
    expect(headline).to_contain_text("17,00")
    expect(headline).to_contain_text("n = 2, mangler 1")
    expect(page.locator(".outcome-report figure").first).to_be_visible()  # the baseline → week 4 chart
    assert page.locator(".outcome-report figcaption").filter(has_text="uge 4").count() >= 1
    expect(page.locator(".outcome-report #no-data")).to_contain_text("6 måneder")  # no data yet: named, not drawn

    page.select_option("#cohort", "syd-2026")
    page.get_by_role("button", name="Vis").click()
    expect(page).to_have_url(f"{live.url}/admin/report?programme=stress_programme&cohort=syd-2026")  # one of three
    expect(page.locator(".outcome-report .meta").filter(has_text="syd-2026")).to_be_visible()
    headline = page.locator(".outcome-report #headline tbody tr").filter(has_text="PSS-10 baseline → uge 4")
    expect(headline).to_contain_text("n = 0, mangler 1")  # Cai has no week 4
    page.select_option("#cohort", "nord-2026")
    page.get_by_role("button", name="Vis").click()
    headline = page.locator(".outcome-report #headline tbody tr").filter(has_text="PSS-10 baseline → uge 4")
    expect(headline).to_contain_text("n = 2, mangler 0")
    # the report's own look came from its stylesheet: a chart's bars are coloured, the CSP refused nothing
    bar = page.locator(".outcome-report svg .s1").first
    assert bar.evaluate("e => getComputedStyle(e).fill") == "rgb(38, 128, 194)"
    assert not [e for e in errors if "Content Security Policy" in e], errors
    screenshot(page, "admin-report")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "admin-report-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV, til et regneark").click()
    download = csv_download.value
    assert download.suggested_filename == f"outcome-report-nord-2026-{date(2026, 11, 23).isoformat()}.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert len(rows) > 5 and not any("Navn" in cell for row in rows for cell in row)  # figures only, no names
    answer = page.request.get(live.url + "/admin/report/download?format=json&cohort=nord-2026")
    assert answer.status == 200 and json.loads(answer.text())  # the report's own JSON
    assert page.request.get(live.url + "/admin/report/download?format=json&cohort=nowhere").status == 404
    html = page.request.get(live.url + "/admin/report/download?format=html")
    assert "<style>" in html.text() and 'attachment; filename="outcome-report-all-' in html.headers[
        "content-disposition"]

    made = [(a.actor, a.detail["format"], a.detail["cohort"], a.detail["participants"])
            for a in reversed(live.run(live.app.storage.audit_entries())) if a.action == "report.outcomes"]
    assert made == [("coach:lead", "page", None, 3), ("coach:lead", "page", "syd-2026", 1),
                    ("coach:lead", "page", "nord-2026", 2), ("coach:lead", "csv", "nord-2026", 2),
                    ("coach:lead", "json", "nord-2026", 2), ("coach:lead", "html", None, 3)]


def test_a_cohort_nobody_was_enrolled_in_is_said_so(live: LiveDesk, page: Page) -> None:
    answered(live, "p-anna", "nord-2026", {"baseline": 24})
    live.log_in(page, "lead", "/admin")
    page.goto(live.url + "/admin/report?cohort=nord-2062")
    expect(page.get_by_role("alert")).to_contain_text("nord-2062")
    expect(page.locator(".outcome-report")).to_have_count(0)
