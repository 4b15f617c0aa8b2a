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
