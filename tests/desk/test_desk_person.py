"""A person's page in a real browser: a participant who lived through twelve weeks of the programme (baseline, week 4
and end measurements, a TRE session, words that raised an alert), as their coach sees them; a note, a skipped
message, a task done and a pause; and a coach who is not theirs, who finds nothing."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from playwright.sync_api import Page, expect

from bot.desk.charts import score_range
from bot.scheduler import schedule_programme
from flows.inputs import Text
from flows.programme import Kind
from storage.records import Enrollment, InboundRecord, Priority, ScheduleStatus
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot
from tests.report_cohort import LiveCohort, Person, Wave

START = T0.date()  # a Monday
WAVES = {"baseline": Wave(pss10=(3, 1), who5="22211", life_satisfaction=4),  # PSS-10 30, WHO-5 32 %
         "week4": Wave(pss10=(2, 2)),  # PSS-10 20
         "end": Wave(pss10=(1, 3), who5="44433", life_satisfaction=8)}  # PSS-10 10, WHO-5 72 %


def enrolled(live: LiveDesk, ref: str, coach: str, phone: str | None = None) -> LiveCohort:
    """`ref` enrolled with `coach` on START, the programme planned, answering as `WAVES` says."""
    cohort = LiveCohort.open(live.app)

    async def go() -> None:
        participant = await live.app.storage.enroll(
            Enrollment(ref, "Anna Jensen", "da", START, coach, phone=phone, cohort="bornholm-2026-4"), live.clock.now())
        await schedule_programme(live.app.storage, cohort.programme, participant.id, START, live.clock.now())
        cohort.people.append(Person(participant, WAVES, checkins_until=90, start=START))
    live.run(go())
    return cohort


def lived_twelve_weeks(live: LiveDesk, ref: str) -> LiveCohort:
    """Through the end measurement (day 84), one TRE session in week 2, then words that raise an alert."""
    cohort = enrolled(live, ref, "coach", phone="+4512345678")
    anna = cohort.people[0]

    async def go() -> None:
        await cohort.run_until(at(START + timedelta(days=9), 11))
        await cohort.say(anna, "TRE")
        await cohort.run_until(at(START + timedelta(days=86), 12))
        storage = live.app.storage  # what a dispatcher would have done: sent, and the last one delivered
        rows = await storage.pending_outbox("console", 1000)
        for row in rows:
            await storage.mark_sent(row.id, live.clock.now())
        await storage.mark_delivery(rows[-1].id, "provider-1", "delivered", live.clock.now())
        receipt = InboundRecord("console", "m-risk", live.clock.now())
        await live.app.loop.handle(anna.participant, Text("jeg vil ikke leve mere"), "console", receipt)
    live.run(go())
    return cohort


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour).astimezone()


def stored(live: LiveDesk, ref: str, flow_id: str, score_id: str) -> list[float]:
    async def go() -> list[float]:
        profile = await live.app.storage.profile_by_ref(ref)
        assert profile is not None
        return [s.value for s in await live.app.storage.flow_scores(profile.participant.id, flow_id)
                if s.score_id == score_id]
    return live.run(go())


def csrf(page: Page) -> str:
    return page.locator("form[action='/logout'] input[name=csrf]").input_value()


def points(page: Page, chart: str) -> list[float]:
    return [float(v) for v in page.locator(f"#{chart} circle.point[data-value]").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('data-value'))")]


def test_the_coach_sees_who_the_person_is_their_scores_over_the_waves_and_everything_in_and_out(
        live: LiveDesk, page: Page) -> None:
    lived_twelve_weeks(live, "p-anna")
    live.log_in(page, "coach", "/people/p-anna?lang=en")  # in English here; test_desk_language.py reads it in Danish
    expect(page.get_by_role("heading", level=1)).to_contain_text("Anna Jensen")
    expect(page.locator("a.call")).to_have_attribute("href", "tel:+4512345678")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("bornholm-2026-4")
    expect(facts).to_contain_text("Early intervention for stress (8 online modules)")  # the default: none recorded
    expect(facts).to_contain_text("Week 13")  # day 86 of the programme

    pss, who5, life = (stored(live, "p-anna", "pss10", "total"), stored(live, "p-anna", "who5", "percent"),
                       stored(live, "p-anna", "life_satisfaction", "satisfaction"))
    assert pss == [30, 20, 10] and who5 == [32, 72] and life == [4, 8]  # what WAVES answered, as the bot scored it
    assert points(page, "chart-pss10") == pss
    assert points(page, "chart-who5") == who5
    assert points(page, "chart-life_satisfaction") == life
    pss10 = live.app.registry.library.latest("pss10")
    assert pss10 is not None
    entry = next(b for b in pss10.scores[0].bands if b.minimum is not None)
    expect(page.locator("#chart-pss10 line.reference")).to_have_attribute("data-value", f"{entry.minimum:g}")
    assert score_range(pss10, pss10.scores[0]) == (0, 40)
    bands = page.locator("#chart-who5 rect.band").evaluate_all(
        "nodes => nodes.map(n => [n.getAttribute('data-low'), n.getAttribute('data-high')])")
    assert bands == [["0", "28"], ["28", "50"], ["50", "100"]]  # flows/definitions/who5.yaml's bands
    who5_rows = page.locator("#chart-who5-table tbody tr")
    expect(who5_rows).to_have_count(3)  # baseline, end and 6 months: week 4 asks PSS-10 only
    expect(who5_rows.nth(0)).to_contain_text("32")
    expect(who5_rows.nth(2)).to_contain_text("not yet")
    assert points(page, "chart-tre") == [6, 3]  # tension before and after (tests/report_cohort.py's TRE answers)

    timeline = page.locator("#timeline")
    risk = timeline.locator(".entry-escalation").first
    expect(risk).to_contain_text("jeg vil ikke leve mere")
    expect(timeline.locator(".entry-in").first).to_contain_text("jeg vil ikke leve mere")
    expect(timeline.locator(".entry-out.urgent").first).to_contain_text("Crisis reply")
    expect(timeline.locator(".entry-out.urgent.status-waiting").first).to_contain_text("waiting to be sent")
    expect(timeline.locator(".entry-out.status-delivered")).to_have_count(1)
    expect(timeline.locator(".entry-out.status-sent").first).to_contain_text("sent")
    expect(timeline.locator(".entry-run").filter(has_text="PSS-10").first).to_be_visible()
    screenshot(page, "person")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("a.call")).to_be_visible()
    screenshot(page, "person-phone")
    viewed = [a for a in live.run(live.app.storage.audit_entries())
              if a.action == "overview.viewed" and a.subject == "participant:p-anna"]
    assert viewed and viewed[-1].actor == "coach:coach" and viewed[-1].detail.get("via") == "desk"


def test_a_note_a_skipped_message_a_task_done_and_a_pause_with_its_reason(live: LiveDesk, page: Page) -> None:
    cohort = enrolled(live, "p-bo", "coach")
    bo = cohort.people[0]
    live.run(cohort.say(bo, "KONTAKT"))  # asks for a human: a task for the coach
    live.log_in(page, "coach", "/people/p-bo?lang=en")

    page.fill("#note", "Ringede til Bo, aftalt møde torsdag")
    page.get_by_role("button", name="Save note").click()
    expect(page.get_by_role("status")).to_contain_text("The note is saved")
    expect(page.locator("#timeline .entry-note").first).to_contain_text("aftalt møde torsdag")

    task = page.locator("#tasks li").first
    task.get_by_role("button").click()
    expect(page.locator("#tasks")).to_contain_text("No open tasks")

    first = page.locator("#upcoming tbody tr").filter(has_text="Module 1 is released")
    row_id = int((first.get_attribute("id") or "").removeprefix("scheduled-"))
    first.get_by_role("button", name=re.compile("^Skip")).click()
    expect(page.locator(f"#scheduled-{row_id}")).to_have_class(re.compile("skipped"))
    rows = {r.id: r for r in live.run(live.app.storage.schedule_of(bo.participant.id))}
    skipped = rows[row_id]
    assert skipped.data.get("skipped_by") == "coach" and skipped.kind == Kind.MODULE
    live.run(cohort.run_until(skipped.due_at + timedelta(minutes=1)))
    after = {r.id: r for r in live.run(live.app.storage.schedule_of(bo.participant.id))}
    assert (after[row_id].status, after[row_id].reason) == (ScheduleStatus.SKIPPED, "skipped by a coach")
    assert any(r.key == "module:2" and r.status is ScheduleStatus.PENDING for r in after.values())  # the chain goes on

    page.goto(f"{live.url}/people/p-bo")
    page.get_by_label("Pause", exact=True).check()
    page.fill("#reason", "Indlagt, tager en pause")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#programme-state")).to_contain_text("Paused by a coach")
    expect(page.locator("#programme-state")).to_contain_text("Indlagt, tager en pause")
    screenshot(page, "person-paused")
    sent_before = len(live.run(live.app.storage.sent_messages(bo.participant.id, 500)))
    live.run(cohort.run_until(at(START + timedelta(days=15), 12)))  # two weeks: modules, check-ins, exercises
    sent = live.run(live.app.storage.sent_messages(bo.participant.id, 500))
    assert len(sent) == sent_before  # nothing routine went out
    reasons = {r.reason for r in live.run(live.app.storage.schedule_of(bo.participant.id))
               if r.status is ScheduleStatus.SKIPPED}
    assert "paused by a coach" in reasons
    live.run(live.app.loop.handle(bo.participant, Text("jeg vil ikke leve mere"), "console"))
    crisis = live.run(live.app.storage.sent_messages(bo.participant.id, 500))
    new = crisis[:len(crisis) - sent_before]
    assert any(m.row.priority == Priority.URGENT for m in new)  # a crisis reply is never held back

    actions = [(a.action, a.subject) for a in live.run(live.app.storage.audit_entries())
               if a.actor == "coach:coach"]
    assert {("note.written", "participant:p-bo"), ("schedule.skipped", "participant:p-bo"),
            ("programme.coach_pause", "participant:p-bo")} <= set(actions)
    assert any(action == "task.done" for action, _ in actions)
    texts = " ".join(str(a.detail) for a in live.run(live.app.storage.audit_entries()))
    assert "Indlagt" not in texts and "aftalt møde" not in texts  # the audit log holds refs and ids, not words


def test_a_coach_who_is_not_theirs_finds_nothing_whether_the_person_exists_or_not(live: LiveDesk, page: Page) -> None:
    enrolled(live, "p-bo", "coach")
    live.log_in(page, "backup", "/alerts")
    known = page.request.get(f"{live.url}/people/p-bo")
    unknown = page.request.get(f"{live.url}/people/p-nobody")
    assert known.status == unknown.status == 404 and known.text() == unknown.text()
    assert "Anna" not in known.text()
    note = page.request.post(f"{live.url}/people/p-bo/note", form={"note": "Hej med dig", "csrf": csrf(page)})
    assert note.status == 404
    refused = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "overview.refused"]
    assert len(refused) == 3 and {a.actor for a in refused} == {"coach:backup"}  # two looks and the note
    page.get_by_role("button", name="Log ud").click()
    live.log_in(page, "lead", "/people/p-bo")  # an administrator sees everyone
    expect(page.get_by_role("heading", level=1)).to_contain_text("Anna Jensen")
