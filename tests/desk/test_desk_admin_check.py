"""Files checked in the browser, as the administrator uses it: the files the bot reads, each problem with file, line
and the line's text; an edited file checked before it is put in place (pasted, or chosen on the computer), never
written where the bot reads; a file too large refused; a plain coach gets a 404."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.settings import reload_settings
from tests.desk.live import ROOT, LiveDesk, screenshot

SHIPPED = ROOT / "flows"
PROGRAMME = "programmes/stress_programme.yaml"  # seed 002's, the default


def line_of(text: str, start: str) -> int:
    return next(n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith(start))


@pytest.fixture
def own_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The bot reads a copy of the shipped flows (BOT_FLOWS_DIR), as a municipality keeps its own."""
    folder = tmp_path / "municipality"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setenv("BOT_FLOWS_DIR", str(folder / "definitions"))
    reload_settings()
    try:
        yield folder
    finally:
        monkeypatch.undo()
        reload_settings()


def test_a_coach_who_is_not_an_administrator_gets_a_404(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    assert page.request.get(live.url + "/admin/check").status == 404
    assert page.request.post(live.url + "/admin/check", form={"replaces": PROGRAMME, "text": "x"}).status in (
        403, 404)  # without the form's token the guard refuses first; with it, the 404
    assert "files.checked" not in {a.action for a in live.run(live.app.storage.audit_entries())}


def test_the_files_in_use_are_checked_with_file_line_and_what_to_do(live: LiveDesk, page: Page,
                                                                   own_flows: Path) -> None:
    pss10 = own_flows / "definitions" / "pss10.yaml"
    edited = pss10.read_text(encoding="utf-8").replace("Hvor ofte", "Hvor tit", 1)  # an edit, the same version
    pss10.write_text(edited, encoding="utf-8")
    programme = own_flows / "programmes" / "stress_programme.yaml"
    programme.write_text(programme.read_text(encoding="utf-8").replace("weekday: sun", "weekday: man"),
                         encoding="utf-8")

    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Tjek botens filer").click()
    expect(page.get_by_role("heading", name="Tjek botens filer", level=1)).to_be_visible()
    expect(page.locator("#check-summary")).to_contain_text("fejl")
    flow_section = page.locator("section.check-file", has=page.get_by_role("heading", name="pss10.yaml"))
    version_line = line_of(edited, "version:")
    version = int(edited.splitlines()[version_line - 1].split()[1])
    row = flow_section.locator("tbody tr").filter(has_text=f"was changed but version {version} was already published")
    expect(row.locator("th")).to_have_text(str(version_line))
    expect(row.locator("code")).to_contain_text(f"version: {version}")
    expect(row).to_contain_text(f"raise version to {version + 1}")
    expect(row).to_contain_text("får deltagerne fortsat den tekst, de allerede havde")
    used = flow_section.locator("tbody tr").filter(has_text=f"changed after version {version} was used by participants")
    expect(used.locator("th")).to_have_text(str(version_line))  # and the database says so too
    programme_section = page.locator("section.check-file",
                                     has=page.get_by_role("heading", name="stress_programme.yaml"))
    weekday = programme_section.locator("tbody tr").filter(has_text="'man' is not a weekday")
    expect(weekday.locator("th")).to_have_text(str(line_of(programme.read_text(encoding="utf-8"), "weekday: man")))
    expect(weekday).to_contain_text("sender botten ingen beskeder eller påmindelser")  # meanwhile, in Danish
    screenshot(page, "admin-check")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "admin-check-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    [checked] = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "files.checked"]
    assert checked.actor == "coach:lead" and checked.detail["errors"] >= 2


def test_an_edited_file_is_checked_beside_the_others_and_never_put_in_place(live: LiveDesk, page: Page,
                                                                           tmp_path: Path) -> None:
    live.log_in(page, "lead", "/admin/check")
    expect(page.locator("#check-summary")).to_contain_text("uden fejl")  # the shipped files
    shipped_programme = (SHIPPED / PROGRAMME).read_text(encoding="utf-8")
    broken = shipped_programme.replace('send_time: "10:00"', "send_time: 10:00").replace("    day: 7\n",
                                                                                         "    day: 200\n")
    page.select_option("#replaces", PROGRAMME)
    page.fill("#text", broken)
    page.get_by_role("button", name="Tjek den").click()
    expect(page.locator("#check-summary")).to_contain_text(f"flows/{PROGRAMME}")
    expect(page.locator("#check-summary")).to_contain_text("Intet blev gemt")
    expect(page.locator("#check-summary")).to_have_class("problems")  # errors: not the box of good news
    section = page.locator("section.check-file", has=page.get_by_role("heading", name=f"flows/{PROGRAMME}"))
    expect(section).to_contain_text("din rettede udgave")
    rows = section.locator("tbody tr")
    expect(rows.filter(has_text="put the time in quotes").locator("th")).to_have_text(
        str(line_of(broken, "send_time:")))
    expect(rows.filter(has_text="after the programme's last day").locator("code")).to_have_text("day: 200")
    assert (SHIPPED / PROGRAMME).read_text(encoding="utf-8") == shipped_programme  # nothing put in place
    expect(page.locator("#text")).to_have_value(broken)  # the text stays, to fix and check again

    # chosen on the computer: read into the box by the page's script, and the file it replaces found by its name
    new_text = (SHIPPED / "definitions" / "who5.yaml").read_text(encoding="utf-8") + "# a comment is a change too\n"
    chosen = tmp_path / "who5.yaml"
    chosen.write_text(new_text, encoding="utf-8")
    page.set_input_files("#check-file", str(chosen))
    expect(page.locator("#text")).to_have_value(new_text)
    expect(page.locator("#replaces")).to_have_value("flows/who5.yaml")
    page.get_by_role("button", name="Tjek den").click()
    section = page.locator("section.check-file", has=page.get_by_role("heading", name="flows/definitions/who5.yaml"))
    expect(section.locator("tbody tr").filter(has_text="was changed but version").locator("th")).to_have_text(
        str(line_of(new_text, "version:")))
    expect(section.locator("tbody tr").filter(has_text="was used by participants")).to_have_count(1)

    audit = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "files.checked_edit"]
    assert [(a.detail["replaces"], a.detail["errors"] > 0) for a in reversed(audit)] == [
        (PROGRAMME, True), ("flows/who5.yaml", True)]
    assert all(set(a.detail) == {"via", "replaces", "errors", "warnings"} for a in audit)  # never the text


def test_a_file_too_large_is_refused_before_it_is_sent_and_by_the_server(live: LiveDesk, page: Page,
                                                                        tmp_path: Path) -> None:
    live.log_in(page, "lead", "/admin/check")
    huge = tmp_path / "stress_programme.yaml"
    huge.write_text("# " + "x" * 300_000, encoding="utf-8")
    page.set_input_files("#check-file", str(huge))
    expect(page.locator("#check-file-note")).to_contain_text("større end 256 KB")
    expect(page.locator("#text")).to_have_value("")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(live.url + "/admin/check", form={"csrf": csrf or "", "replaces": PROGRAMME,
                                                                "text": "x" * 300_000})
    assert answer.status == 413 and "større end 256 KB" in answer.text()
    refused = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "files.check_refused"]
    assert [(a.actor, a.detail["reason"]) for a in refused] == [("coach:lead", "too large")]
