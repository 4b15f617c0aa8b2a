"""Enrolment in the desk as the clinical lead (an administrator) does it, in a real browser, in Danish.

One person with a mobile number and Telegram: the preview first (nothing saved), then the invite with the Telegram
link lands in the outbox as an SMS. One with Telegram only: a QR code of the link on the page, which opens their
chat. A Danish Excel file with a bad row: every problem shown and nothing saved; corrected, it needs a tick for the
start date eleven months ago, and the coach then gets exactly the four tasks the preview announced. A used preview
cannot enrol anyone twice, and a plain coach gets 404.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Page, expect

from bot.enroll import code_digest
from bot.scheduler import ProgrammeScheduler, address_channel
from bot.settings import reload_settings
from storage.records import Enrollment, Participant
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot

LINK = re.compile(r"https://t\.me/stress_test_bot\?start=([\w-]+)")


@pytest.fixture(autouse=True)
def bot_username(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@stress_test_bot")  # as BotFather writes it
    reload_settings()


def participants(live: LiveDesk) -> list[int]:
    return live.run(live.app.storage.participant_ids())


def sms_texts(live: LiveDesk) -> list[str]:
    return [str(row.payload["text"]) for row in live.run(live.app.storage.pending_outbox("sms", 100))]


def redeem(live: LiveDesk, link: str, chat: str) -> Participant | None:
    found = LINK.search(link)
    assert found is not None, link
    return live.run(live.app.storage.redeem_link_code(code_digest(found.group(1)), "telegram", chat,
                                                      live.clock.now()))


def audit_rows(live: LiveDesk) -> list[tuple[str, str, dict[str, object]]]:
    return [(a.actor, a.action, dict(a.detail)) for a in live.run(live.app.storage.audit_entries())]


def test_enrol_one_by_sms_with_the_telegram_link_and_one_by_qr_code(live: LiveDesk, page: Page) -> None:
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    live.log_in(page, "lead", "/admin")
    page.get_by_role("link", name="Tilmeld deltagere").click()
    expect(page.get_by_role("heading", name="Tilmeld deltagere", level=1)).to_be_visible()
    screenshot(page, "enrolment")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "enrolment-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_label("Navn", exact=True).fill("Anna Hansen")
    page.get_by_label("Mobilnummer").fill("12 34 56 78")
    page.get_by_label("Inviter også til Telegram").check()
    page.select_option("#coach", "coach")
    page.select_option("#one-cohort", label="Opret et nyt hold …")
    page.fill("#one-new-cohort", "bornholm-2026-4")
    page.get_by_role("button", name="Tjek oplysningerne").click()
    expect(page.get_by_role("heading", name="Tjek før tilmelding")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("1 person er klar til at blive tilmeldt. Intet er gemt endnu.")
    row = page.locator("table.enrol-preview tbody tr")
    expect(row).to_contain_text("SMS til +4512345678")
    expect(row).to_contain_text("Telegram-link som SMS")
    expect(row).to_contain_text("bornholm-2026-4 (nyt)")
    expect(page.locator(".what-happens")).to_contain_text("Det nye hold bornholm-2026-4 oprettes.")
    assert participants(live) == [] and sms_texts(live) == []  # a preview saves nothing
    screenshot(page, "enrolment-preview")

    page.get_by_role("button", name="Tilmeld 1 person").click()
    expect(page.get_by_role("heading", name="Tilmeldt", level=1)).to_be_visible()
    expect(page.locator(".enrolled-person")).to_contain_text(
        "Telegram-linket er på vej til deres mobil som SMS. Det virker én gang, indtil 7. december kl. 10.00.")
    [anna] = participants(live)
    profile = live.run(live.app.storage.profile(anna))
    assert profile is not None and (profile.cohort, profile.coach_id) == ("bornholm-2026-4", "coach")
    [invite] = sms_texts(live)  # the invite, through the outbox like every message
    assert invite.startswith("Hej. Du er nu tilmeldt stressforløbet.") and "Linket virker til 7. december" in invite
    linked = redeem(live, invite, "4711")
    assert linked is not None and linked.id == anna  # the link in the SMS opens Anna's chat

    page.get_by_role("link", name="Tilmeld flere").click()
    page.get_by_label("Navn", exact=True).fill("Bo Berg")
    page.get_by_label("Inviter også til Telegram").check()
    page.select_option("#one-cohort", "bornholm-2026-4")  # now a cohort in the list
    expect(page.locator("#one-programme")).to_have_value("stress_programme")  # the default, as Anna got
    page.select_option("#one-programme", label="Et arbejdsliv uden stress (12 uger)")  # one of three shipped
    page.get_by_role("button", name="Tjek oplysningerne").click()
    expect(page.locator("table.enrol-preview tbody tr")).to_contain_text("Telegram (QR-kode, du viser dem)")
    expect(page.locator("table.enrol-preview tbody tr")).to_contain_text("Et arbejdsliv uden stress (12 uger)")
    page.get_by_role("button", name="Tilmeld 1 person").click()
    person = page.locator(".enrolled-person")
    expect(person).to_contain_text("Der blev ikke sendt nogen besked: der er intet mobilnummer")
    expect(page.locator(".print-note")).to_contain_text("QR-koderne nedenfor vises kun nu")
    link = person.locator("figure.invite code").inner_text()
    drawn = person.locator("svg.qr path").nth(1).get_attribute("d")
    expected = segno.make(link, error="m", micro=False).svg_inline(scale=1, border=4, omitsize=True)
    assert drawn is not None and f'd="{drawn}"' in expected  # the code drawn is the link shown
    assert person.locator("svg.qr").bounding_box() is not None
    screenshot(page, "enrolment-qr")
    bo = redeem(live, link, "4712")
    assert bo is not None and bo.id != anna
    assert [live.run(live.app.storage.programme_of(p)) for p in (anna, bo.id)] == [
        "stress_programme", "arbejdsliv_uden_stress"]
    assert len(sms_texts(live)) == 1  # nothing by SMS for Bo: there is no number
    assert blocked == []  # the QR code needs no inline style or script

    rows = audit_rows(live)
    actions = [(actor, action) for actor, action, _ in rows]
    for action in ("enrolment.viewed", "enrolment.previewed", "enrolment.saved"):
        assert ("coach:lead", action) in actions
    saved = [detail for _, action, detail in rows if action == "enrolment.saved"]
    refs = {p.ref for p in (linked, bo) if p is not None}
    assert {ref for detail in saved for ref in detail["refs"]} == refs  # type: ignore[attr-defined]
    written = json.dumps([a.__dict__ for a in live.run(live.app.storage.audit_entries())], default=str)
    for personal in ("Anna", "Hansen", "Bo Berg", "12345678", "t.me"):
        assert personal not in written


def test_a_csv_with_a_bad_row_saves_nothing_and_a_past_start_needs_a_tick(live: LiveDesk, page: Page,
                                                                           tmp_path: Path) -> None:
    live.run(live.app.storage.enroll(Enrollment("p-seeded", "Seeded", "da", T0.date(), "coach", "+4511111111",
                                                "bornholm-2026-4"), T0))
    before = participants(live)
    header = "Navn;Telefon;Telegram;Sprog;Startdato;Vejleder;Hold\r\n"
    broken = tmp_path / "hold.csv"
    broken.write_bytes((header + "Cai;1234;;da;;coach;bornholm-2026-l\r\n"  # a short number, a cohort typo
                        "Dan;23456789;;da;23.12.2025;coach;\r\n"  # eleven months ago
                        "Eva;34567890;ja;en;;backup;\r\n;;;;;;\r\n").encode("cp1252"))
    live.log_in(page, "lead", "/admin/enrol")
    page.set_input_files("#file-input", str(broken))
    page.select_option("#csv-cohort", "bornholm-2026-4")  # for the rows without a cohort of their own
    page.get_by_role("button", name="Tjek filen").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Intet er gemt.")
    expect(alert).to_contain_text("1 af 3 rækker har et problem: ret det i filen, og upload den igen.")
    cai = page.locator("#line-2")
    expect(cai).to_contain_text("Telefonnummeret kan ikke modtage beskeder: et dansk nummer har 8 cifre")
    expect(cai).to_contain_text("Der er intet hold bornholm-2026-l endnu. Tjek stavemåden")
    expect(page.locator("#line-3")).to_contain_text("med en opgave til coachen for hver (4 opgaver)")
    expect(page.locator("#line-4")).to_contain_text("bornholm-2026-4")
    expect(page.get_by_role("button", name=re.compile("^Tilmeld"))).to_have_count(0)
    assert participants(live) == before
    screenshot(page, "enrolment-csv-problems")

    fixed = tmp_path / "hold-rettet.csv"
    fixed.write_bytes((header + "Cai;45678901;;da;;coach;bornholm-2026-4\r\n"
                       "Dan;23456789;;da;23.12.2025;coach;\r\nEva;34567890;ja;en;;backup;\r\n").encode("cp1252"))
    page.get_by_role("link", name="Upload den rettede fil").click()
    page.set_input_files("#file-input", str(fixed))
    page.select_option("#csv-cohort", "bornholm-2026-4")
    page.get_by_role("button", name="Tjek filen").click()
    expect(page.get_by_role("status")).to_contain_text("3 personer er klar til at blive tilmeldt.")
    expect(page.locator("#line-3")).to_contain_text("Startdatoen 23. dec. 2025 var for 335 dage siden.")
    screenshot(page, "enrolment-csv-past")
    enrol = page.get_by_role("button", name="Tilmeld 3 personer")
    enrol.click()  # without the tick the browser does not send it
    tick = page.get_by_label("Jeg har læst, hvad 1 startdato i fortiden gør, og vil tilmelde med den.")
    expect(tick).to_be_visible()
    page.evaluate("document.getElementById('past').required = false")  # a browser that checks nothing
    enrol.click()  # nor does the desk take it
    expect(page.get_by_role("alert")).to_contain_text("Sæt flueben for at bekræfte startdatoerne i fortiden")
    assert participants(live) == before
    csrf, token = page.input_value("form.confirm input[name=csrf]"), page.input_value("form.confirm input[name=token]")
    tick.check()
    enrol.click()
    expect(page.get_by_role("status")).to_contain_text("3 personer er tilmeldt.")
    assert len(participants(live)) == len(before) + 3
    texts = sms_texts(live)
    assert len(texts) == 3
    assert any(t.startswith("Hello. You are now signed up for the stress programme. To get our messages on Telegram")
               and "It works until 7 December at 10:00." in t for t in texts)  # Eva, in English

    again = page.request.post(f"{live.url}/admin/enrol/confirm", form={"csrf": csrf, "token": token})
    assert again.status == 409 and "Listen kan ikke tilmeldes nu" in again.text()
    assert len(participants(live)) == len(before) + 3  # a second click enrols nobody twice

    scheduler = ProgrammeScheduler(live.app.storage, live.app.loop, live.clock, address_channel(live.app.storage))
    live.run(scheduler.tick())
    dan = live.run(live.app.storage.participant_by_address("sms", "+4523456789"))
    assert dan is not None
    tasks = live.run(live.app.storage.coach_tasks(participant_id=dan.id))
    assert [t.kind for t in tasks] == ["wave_missed"] * 4  # as the preview said
    refused = [detail for _, action, detail in audit_rows(live) if action == "enrolment.refused"]
    assert sorted(str(detail["reason"]) for detail in refused) == ["past_not_confirmed", "token"]


def test_a_coach_who_is_not_an_administrator_gets_404(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    assert page.request.get(f"{live.url}/admin/enrol").status == 404
    csrf = page.input_value("form[action='/logout'] input[name=csrf]")
    checked = page.request.post(f"{live.url}/admin/enrol/check", form={"csrf": csrf, "name": "Anna", "phone":
                                                                      "12345678"})
    assert checked.status == 404 and participants(live) == []
    upload = {"name": "hold.csv", "mimeType": "text/csv", "buffer": b"navn;telefon\nAnna;12345678\n"}
    forged = page.request.post(f"{live.url}/admin/enrol/import", multipart={"file": upload})
    assert forged.status == 403  # a file upload needs the form's token like any other form
    assert page.request.post(f"{live.url}/admin/enrol/import", multipart={"csrf": csrf, "file": upload}).status == 404
    assert not [a for a in live.run(live.app.storage.audit_entries()) if a.action.startswith("enrolment.")]


def test_a_number_enrolled_meanwhile_stops_the_confirmation_and_the_form_can_be_changed(live: LiveDesk,
                                                                                         page: Page) -> None:
    live.log_in(page, "lead", "/admin/enrol")
    page.get_by_label("Navn", exact=True).fill("Anna Hansen")
    page.get_by_label("Mobilnummer").fill("12345678")
    page.fill("#start_date", "2026-11-30")
    page.get_by_role("button", name="Tjek oplysningerne").click()
    page.get_by_role("button", name="Ret", exact=True).click()  # back to the form, as it was filled in
    expect(page.get_by_label("Navn", exact=True)).to_have_value("Anna Hansen")
    expect(page.locator("#start_date")).to_have_value("2026-11-30")
    page.get_by_role("button", name="Tjek oplysningerne").click()
    live.run(live.app.storage.enroll(Enrollment("p-meanwhile", "Someone", "da", T0.date(), None, "+4512345678"), T0))
    page.get_by_role("button", name="Tilmeld 1 person").click()  # another administrator was quicker
    expect(page.get_by_role("alert")).to_contain_text("Telefonnummeret tilhører allerede deltager p-meanwhile.")
    expect(page.get_by_label("Navn", exact=True)).to_have_value("Anna Hansen")
    assert len(participants(live)) == 1 and sms_texts(live) == []
    refused = [detail for _, action, detail in audit_rows(live) if action == "enrolment.refused"]
    assert refused == [{"via": "desk", "reason": "problems"}]
