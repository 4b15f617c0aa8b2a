"""The desk in a real browser: my participants (a coach sees their own, with trends that read the same way for
PSS-10 and WHO-5, found by name or phone number, sorted), the tasks page (done with a note) and the response figures.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from playwright.sync_api import Page, expect

from storage import EscalationRecord, StepRecord
from storage.records import CoachTaskRecord, Enrollment, MarkRecord, ScoreRecord
from tests.conftest import T0
from tests.desk.live import LiveDesk, screenshot

PHONE = "+4522334455"


def days(n: float) -> datetime:
    return T0 - timedelta(days=40) + timedelta(days=n)


async def enrol(live: LiveDesk, ref: str, name: str, coach: str, start: date, phone: str | None = None) -> int:
    return (await live.app.storage.enroll(Enrollment(ref, name, "da", start, coach, phone), days(0))).id


async def step(live: LiveDesk, pid: int, when: datetime, **parts: object) -> None:
    storage = live.app.storage
    revision = (await storage.load_conversation(pid)).revision
    await storage.commit_step(StepRecord(pid, revision, {"lang": "da"}, when, **parts))  # type: ignore[arg-type]


async def waves(live: LiveDesk, pid: int, pss: tuple[float, ...], who: tuple[float, ...]) -> None:
    for seq, (p, w) in enumerate(zip(pss, who, strict=True), start=1):
        when = days(seq * 14)
        await step(live, pid, when, scores=[ScoreRecord(seq * 2, "pss10", 2, "total", p, None, when),
                                            ScoreRecord(seq * 2 + 1, "who5", 3, "percent", w, None, when)])


def seed_caseload(live: LiveDesk) -> dict[str, int]:
    """The coach's three: Anna getting worse (PSS-10 up, WHO-5 down) with an overdue task, Bo getting better
    (PSS-10 down, WHO-5 up) with two modules done, Carl who finished long ago; and Dora, the backup's."""
    async def go() -> dict[str, int]:
        start = (T0 - timedelta(days=30)).date()
        ids = {"anna": await enrol(live, "p-anna", "Anna Jensen", "coach", start),
               "bo": await enrol(live, "p-bo", "Bo Søgaard", "coach", start, PHONE),
               "carl": await enrol(live, "p-carl", "Carl Hansen", "coach", start - timedelta(weeks=20)),
               "dora": await enrol(live, "p-dora", "Dora Berg", "backup", start)}
        await waves(live, ids["anna"], (18, 26), (56, 32))
        await waves(live, ids["bo"], (27, 15), (28, 64))
        for number in ("1", "2"):
            await live.app.storage.add_mark(ids["bo"], MarkRecord("module_done", number, {}, days(20)))
        await step(live, ids["anna"], days(30), tasks=[CoachTaskRecord("consider_referral", {"now": 26}, days(30),
                                                                       T0 - timedelta(days=2))])
        await step(live, ids["bo"], days(31), tasks=[CoachTaskRecord("wave_missed", {}, days(31),
                                                                     T0 + timedelta(days=5))])
        return ids
    return live.run(go())


def refs_shown(page: Page) -> list[str]:
    return [ref.strip() for ref in page.locator("table.people tbody .ref").all_inner_texts()]


def test_a_coach_sees_only_their_own_with_trends_that_read_the_same_way(live: LiveDesk, page: Page) -> None:
    seed_caseload(live)
    live.log_in(page, "coach", "/people?lang=en")
    expect(page.locator("table.people")).to_be_visible()
    assert sorted(refs_shown(page)) == ["p-anna", "p-bo", "p-carl"]  # not Dora, the backup's
    anna, bo, carl = (page.locator(f"#person-p-{n}") for n in ("anna", "bo", "carl"))
    # Anna: PSS-10 18 -> 26 is worse, WHO-5 56 -> 32 is worse; Bo: 27 -> 15 better, 28 -> 64 better
    expect(anna.locator(".trend")).to_contain_text(["worse", "worse"])
    expect(bo.locator(".trend")).to_contain_text(["better", "better"])
    expect(anna.locator(".score")).to_have_text(["26", "32"])
    expect(anna.locator(".flag.overdue")).to_contain_text("1 overdue")
    expect(bo.locator(".flag.overdue")).to_have_count(0)  # his task is not due yet
    expect(carl.locator(".flag.finished")).to_have_text("Finished")
    expect(bo.locator("td").nth(1)).to_have_text("2")  # modules done
    assert refs_shown(page)[0] == "p-anna"  # needing attention (the overdue task) first
    screenshot(page, "people")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(anna).to_be_visible()
    screenshot(page, "people-phone")
    audit = {(a.action, a.subject) for a in live.run(live.app.storage.audit_entries())}
    assert {("people.listed", "participants"), ("people.listed", "participant:p-anna")} <= audit
    assert ("people.listed", "participant:p-dora") not in audit


def test_an_administrator_sees_everyone(live: LiveDesk, page: Page) -> None:
    seed_caseload(live)
    live.log_in(page, "lead", "/people?lang=en")
    expect(page.locator("table.people tbody tr")).to_have_count(4)
    expect(page.get_by_role("heading", level=1)).to_have_text("All participants")


def test_search_by_name_and_by_phone_and_sort(live: LiveDesk, page: Page) -> None:
    seed_caseload(live)
    live.log_in(page, "coach", "/people?lang=en")
    page.fill("#q", "søgaard")
    expect(page.locator("table.people tbody tr")).to_have_count(1)
    assert refs_shown(page) == ["p-bo"]
    expect(page).to_have_url(f"{live.url}/people?q=s%C3%B8gaard&only=&sort=attention")
    page.fill("#q", "22 33 44 55")  # his number, as a coach would type it
    expect(page.locator("#person-p-bo")).to_be_visible()
    expect(page.locator("table.people tbody tr")).to_have_count(1)
    page.fill("#q", "Dora")  # the backup's: not found, as if she did not exist
    expect(page.locator(".people-count")).to_contain_text("No one matches")
    page.fill("#q", "")
    expect(page.locator("table.people tbody tr")).to_have_count(3)
    page.get_by_role("link", name="PSS-10").click()  # lowest stress first, no scores last
    expect(page.locator("table.people th[aria-sort=ascending]")).to_contain_text("PSS-10")
    assert refs_shown(page) == ["p-bo", "p-anna", "p-carl"]
    page.get_by_role("link", name="PSS-10").click()
    expect(page.locator("table.people th[aria-sort=descending]")).to_contain_text("PSS-10")
    assert refs_shown(page) == ["p-anna", "p-bo", "p-carl"]
    page.get_by_role("link", name="Name").click()
    expect(page.locator("table.people th[aria-sort=ascending]")).to_contain_text("Name")
    assert refs_shown(page) == ["p-anna", "p-bo", "p-carl"]
    page.select_option("#only", "finished")
    expect(page.locator("table.people tbody tr")).to_have_count(1)
    assert refs_shown(page) == ["p-carl"]


def test_a_missed_measurement_task_says_which_measurement(live: LiveDesk, page: Page) -> None:
    ids = seed_caseload(live)
    for wave in ("baseline", "week4"):  # Anna missed two: the lines must differ
        live.run(step(live, ids["anna"], days(35),
                      tasks=[CoachTaskRecord("wave_missed", {"wave": wave}, days(35), days(36))]))
    live.log_in(page, "coach", "/tasks?lang=en")
    texts = " | ".join(page.locator("ul.tasks > li strong").all_inner_texts())
    assert "(Day 0)" in texts and "(Day 28)" in texts, texts


def test_tasks_overdue_first_and_done_with_a_note(live: LiveDesk, page: Page) -> None:
    ids = seed_caseload(live)
    live.run(step(live, ids["dora"], days(32), tasks=[CoachTaskRecord("wave_missed", {}, days(32), days(33))]))
    tasks = {t.participant_id: t.id for t in live.run(live.app.storage.coach_tasks())}
    live.log_in(page, "coach", "/tasks?lang=en")
    items = page.locator("ul.tasks > li")
    expect(items).to_have_count(2)  # Anna's and Bo's: not Dora's (the backup's)
    expect(items.nth(0)).to_have_class("task overdue")
    expect(items.nth(0)).to_contain_text("Anna Jensen")
    expect(items.nth(0).locator(".flag.overdue")).to_have_text("Overdue")
    expect(items.nth(1)).to_contain_text("Bo Søgaard")
    screenshot(page, "tasks")
    anna_task = tasks[ids["anna"]]
    page.fill(f"#note-{anna_task}", "Talked to Anna about seeing her doctor")
    page.locator(f"#task-{anna_task}").get_by_role("button", name="Done").click()
    expect(page.get_by_role("status")).to_contain_text(f"Task #{anna_task} is done")
    expect(page.locator("ul.tasks > li")).to_have_count(1)
    expect(page.locator(f"#done-{anna_task}")).to_contain_text("Coach (demo)")  # the coach by name, not their id
    [done] = [t for t in live.run(live.app.storage.coach_tasks(only_open=False)) if t.id == anna_task]
    assert (done.done_by, done.done_at) == ("coach", live.clock.now())
    notes = [m for m in live.run(live.app.storage.marks(ids["anna"])) if m.kind == "coach_note"]
    assert [(n.key, n.detail) for n in notes] == [("coach", {"text": "Talked to Anna about seeing her doctor",
                                                            "task_id": anna_task})]
    audit = [a for a in live.run(live.app.storage.audit_entries()) if a.action == "task.done"]
    assert [(a.actor, a.subject, a.detail["note"]) for a in audit] == [("coach:coach", f"task:{anna_task}", True)]
    assert "doctor" not in str([a.detail for a in live.run(live.app.storage.audit_entries())])
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    refused = page.request.post(f"{live.url}/tasks/{tasks[ids['dora']]}/done", form={"csrf": csrf, "note": "x"})
    assert refused.ok and "not one of yours" in refused.text()
    assert all(t.done_at is None for t in live.run(live.app.storage.coach_tasks(only_open=False))
               if t.id == tasks[ids["dora"]])


def seed_escalations(live: LiveDesk) -> None:
    """Four alerts: two high (acknowledged after 4 and 30 minutes, the second by the backup once it had reached
    tier 2), one moderate acknowledged by the clinical lead after 100 minutes at tier 3, one low still open (a week
    earlier)."""
    async def go() -> None:
        storage = live.app.storage
        start = (T0 - timedelta(days=30)).date()
        plan = [("p-e1", "high", T0 - timedelta(days=2), 4, "coach", 0),
                ("p-e2", "high", T0 - timedelta(days=2, hours=-1), 30, "backup", 1),
                ("p-e3", "moderate", T0 - timedelta(days=2, hours=-2), 100, "lead", 2),
                ("p-e4", "low", T0 - timedelta(days=10), None, None, 0)]
        for ref, level, opened, minutes, by, tier in plan:
            pid = await enrol(live, ref, f"Person {ref}", "coach", start)
            deadline = opened + timedelta(minutes=15)
            await step(live, pid, opened, escalations=[EscalationRecord(level, "text", {"matched": "x"}, opened,
                                                                        deadline)])
            eid = max(e.id for e in await storage.escalations() if e.participant_id == pid)
            for raised in range(1, tier + 1):
                at = opened + timedelta(minutes=16 + 30 * (raised - 1))
                assert await storage.raise_tier(eid, raised, at + timedelta(minutes=29), at)
            if minutes is not None and by is not None:
                assert await storage.acknowledge_escalation(eid, by, opened + timedelta(minutes=minutes))
    live.run(go())


def test_response_figures_for_the_clinical_lead(live: LiveDesk, page: Page) -> None:
    seed_escalations(live)
    live.log_in(page, "lead", "/figures?lang=en")

    def rows(table: str) -> list[list[str]]:
        return [[c.strip() for c in row.locator("th, td").all_inner_texts()]
                for row in page.locator(f"#{table} tbody tr").all()]

    expect(page.locator("#by-level")).to_be_visible()
    assert rows("by-level") == [["high", "2", "2", "17 min", "30 min"], ["moderate", "1", "1", "100 min", "100 min"],
                                ["low", "1", "0", "–", "–"]]
    assert rows("by-coach") == [["Backup coach (demo)", "1", "1", "30 min", "30 min"],
                                ["Coach (demo)", "1", "1", "4 min", "4 min"],
                                ["Clinical lead (demo)", "1", "1", "100 min", "100 min"]]
    assert rows("reach") == [["Tier 2: the backup", "2", "50 %"], ["Tier 3: the clinical lead", "1", "25 %"],
                             ["All alerts", "4", "100 %"]]
    assert rows("per-week") == [["16/11/2026", "2", "1", "0", "3"], ["09/11/2026", "0", "0", "1", "1"]]  # day first
    screenshot(page, "figures")
    assert ("coach:lead", "figures.viewed") in {(a.actor, a.action) for a in live.run(live.app.storage.audit_entries())}
