"""The desk in a real browser: a coach logs in, sees the alerts open to them, takes one and closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from bot.desk.templating import moment
from bot.desk.views.alerts import duration, time_left
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


def held(live: LiveDesk, ref: str) -> bool:
    """Whether routine questionnaires are held back for `ref` (a high alert's hold)."""
    async def go() -> bool:
        participant = await live.app.storage.get_or_create_participant(ref, "da", live.clock.now())
        return (await live.app.loop.state_of(participant)).hold
    return live.run(go())


def test_a_coach_takes_an_alert_and_closes_it_with_a_note(live: LiveDesk, page: Page) -> None:
    anna = someone_at_risk(live, "p-anna", "Anna Jensen", "coach", "jeg vil ikke leve mere")
    live.log_in(page, "coach", "/alerts")
    expect(page).to_have_url(f"{live.url}/alerts")
    alert = page.locator(f"#alert-{anna}")
    expect(alert).to_contain_text("Anna Jensen")
    expect(alert).to_contain_text("»jeg vil ikke leve mere«")  # what she wrote, for who may act on it
    expect(alert).to_contain_text("i morgen 12.00")  # a low level's deadline: the next working day at noon
    screenshot(page, "alerts")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "alerts-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    alert.get_by_role("button", name="Kvitter").click()
    expect(page.get_by_role("status")).to_contain_text(f"#{anna}")
    expect(page.locator(f"#alert-{anna}")).to_contain_text("Coach (demo)")  # who took it
    screenshot(page, "alerts-taken")
    assert live.run(live.app.storage.escalation(anna)).status is EscalationStatus.ACKNOWLEDGED  # type: ignore[union-attr]
    page.fill(f"#note-{anna}", "Ringede til Anna, hun har det bedre")
    page.locator(f"#alert-{anna}").get_by_role("button", name="Luk").click()
    expect(page.locator(f"#alert-{anna}")).to_have_count(0)
    closed = live.run(live.app.storage.escalation(anna))
    assert closed is not None and closed.status is EscalationStatus.CLOSED and closed.closed_by == "coach"
    actions = {(a.actor, a.action) for a in live.run(live.app.storage.audit_entries())}
    assert {("coach:coach", "desk.login"), ("coach:coach", "escalation.listed")} <= actions


def test_routine_questionnaires_are_let_start_again_only_once_the_alert_is_taken_and_only_on_purpose(
        live: LiveDesk, page: Page) -> None:
    """A high alert holds routine questionnaires back. Letting them start again is a judgement about the person: it
    is offered only once someone has taken the alert, behind a second, explained step (it was one unlabelled click
    beside "Kvitter", easy to take for "give the alert back")."""
    bo = someone_at_risk(live, "p-bo", "Bo Nielsen", "coach", "jeg har en plan om at tage mit liv i nat")
    assert held(live, "p-bo")
    live.log_in(page, "coach", "/alerts?show=all")  # whether it was sent to them yet or not
    alert = page.locator(f"#alert-{bo}")
    expect(alert).to_contain_text("Bo Nielsen")
    expect(alert.get_by_text("Lad almindelige spørgeskemaer starte igen")).to_have_count(0)  # nobody has it yet
    forged = page.request.post(f"{live.url}/alerts/{bo}/release",
                               form={"show": "all", "csrf": page.locator("input[name=csrf]").first.input_value()})
    assert "done=take_first" in forged.url  # the server refuses it too
    assert held(live, "p-bo")
    alert.get_by_role("button", name="Kvitter").click()
    alert = page.locator(f"#alert-{bo}")
    again = alert.locator("details.release")
    expect(again.get_by_role("button", name="Ja, lad dem starte igen")).to_be_hidden()  # a second, explained step
    again.locator("summary").click()
    expect(again).to_contain_text("ingen almindelige spørgeskemaer eller påmindelser")
    again.get_by_role("button", name="Ja, lad dem starte igen").click()
    expect(page.get_by_role("status")).to_contain_text(f"#{bo}")
    assert not held(live, "p-bo")
    assert live.run(live.app.storage.escalation(bo)).status is EscalationStatus.ACKNOWLEDGED  # type: ignore[union-attr]


def test_an_alert_raised_by_an_answer_shows_the_question_and_the_answer_in_words(live: LiveDesk, page: Page) -> None:
    """"safety_check q1 = 1" under »1« told a coach nothing of what the person had said yes to."""
    someone_at_risk(live, "p-anna", "Anna Jensen", "coach", "vil bare sove og ikke vågne")

    async def answers() -> None:
        anna = await live.app.storage.get_or_create_participant("p-anna", "da", live.clock.now())
        for said in ("ja", "ja"):  # the offer of a few questions, then the first of them
            await live.app.loop.handle(anna, Text(said), "console")
    live.run(answers())
    [alert] = [e for e in live.run(live.app.storage.escalations()) if e.participant_ref == "p-anna"]
    assert any(t.trigger_kind != "text" for t in alert.triggers), alert.triggers
    live.log_in(page, "coach", "/alerts?show=all")  # whether it was sent to them yet or not
    card = page.locator(f"#alert-{alert.id}")
    expect(card).to_contain_text("Spurgt: Har du inden for den sidste måned ønsket, at du var død")
    expect(card).to_contain_text("Svar: Ja")
    expect(card).to_contain_text("»vil bare sove og ikke vågne«")  # what she wrote, still there


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


def test_an_alert_raised_while_the_page_is_open_appears_and_a_note_being_typed_stays(live: LiveDesk,
                                                                                    page: Page) -> None:
    anna = someone_at_risk(live, "p-anna", "Anna Jensen", "coach", "jeg vil ikke leve mere")
    live.log_in(page, "coach", "/alerts")
    expect(page).to_have_title("(1) Alarmer · Coachportal")  # what nobody has taken yet, seen from another tab too
    page.click(f"#note-{anna}")
    page.keyboard.type("Ringede til Anna")
    bo = someone_at_risk(live, "p-bo", "Bo Hansen", "coach", "jeg vil gerne dø")
    expect(page.locator(f"#alert-{bo}")).to_contain_text("Bo Hansen")  # no reload: the page asked for news
    expect(page.get_by_role("link", name="Mine (2)")).to_be_visible()
    expect(page).to_have_title("(2) Alarmer · Coachportal")
    page.keyboard.type(", hun har det bedre")  # the poll neither wiped the note nor took the cursor away
    expect(page.locator(f"#note-{anna}")).to_have_value("Ringede til Anna, hun har det bedre")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # one page load, no reload


def test_an_alert_of_a_coach_s_own_participant_is_not_shown_to_another_coach(live: LiveDesk, page: Page) -> None:
    text = live.deployment_path.read_text(encoding="utf-8") if live.deployment_path else ""
    assert "id: backup" in text  # the backup coach is in the roster: they see every alert (bot/people.py)
    someone_at_risk(live, "p-anna", "Anna Jensen", "coach", "jeg vil ikke leve mere")
    live.log_in(page, "backup", "/alerts?show=mine")
    expect(page.get_by_text("Ingen her.")).to_be_visible()  # not sent to the backup yet (tier 0)
    expect(page.get_by_role("link", name="Andre åbne alarmer, du kan handle på: 1")).to_be_visible()  # not "none"
    page.get_by_role("link", name="Alle (1)").click()
    expect(page.locator(".alert")).to_contain_text("Anna Jensen")


def test_the_time_left_reads_at_a_glance_in_danish_and_english() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Copenhagen
    assert time_left(now + timedelta(minutes=12, seconds=40), now, "da") == "12 min."
    assert time_left(now + timedelta(hours=3, minutes=20), now, "da") == "3 t. og 20 min."
    assert time_left(now + timedelta(hours=3, minutes=20), now, "en") == "3 hr 20 min"
    assert time_left(now + timedelta(hours=2), now, "en") == "2 hr"
    tomorrow_noon = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert time_left(tomorrow_noon, now, "da") == "i morgen 12.00"
    assert time_left(tomorrow_noon, now, "en") == "tomorrow, 12:00"  # British English: 24 hours, the day first
    assert time_left(datetime(2026, 11, 27, 11, 0, tzinfo=UTC), now, "da") == "fre. 27. nov. 12.00"
    assert time_left(datetime(2026, 11, 27, 11, 0, tzinfo=UTC), now, "en") == "Fri 27 Nov, 12:00"
    assert moment(now, "en") == "23/11/2026, 10:00" and moment(now, "da") == "23.11.2026 10.00"  # not 11/23/26
    assert duration(timedelta(minutes=75), "da") == "1 t. og 15 min."
    assert duration(timedelta(days=2, hours=1), "en") == "2 days"
