"""The desk's caseload: a coach's participants a page at a time with their figures, and the tasks list (issue 14).

Three people of the coach's and one of another coach's, each with what the table shows: modules done, PSS-10 and
WHO-5 over waves, an open alert, a message for a coach not yet read, an overdue task. Run on every `Storage`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from storage import (
    EscalationRecord,
    InboundRecord,
    SqlStorage,
    StepRecord,
)
from storage.caseload import CaseloadQuery
from storage.records import CoachTaskRecord, Enrollment, HeardRecord, MarkRecord, ScoreRecord

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
SCORES = (("pss10", "total"), ("who5", "percent"))


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


async def enrol(store: SqlStorage, ref: str, name: str, coach: str, start: date | None,
                phone: str | None = None) -> int:
    return (await store.enroll(Enrollment(ref, name, "da", start, coach, phone), T0)).id


async def step(store: SqlStorage, pid: int, when: datetime, **parts: object) -> None:
    revision = (await store.load_conversation(pid)).revision
    await store.commit_step(StepRecord(pid, revision, {"lang": "da"}, when, **parts))  # type: ignore[arg-type]


async def caseload_world(store: SqlStorage) -> dict[str, int]:
    """anna: worse (PSS-10 18 -> 24, WHO-5 60 -> 40), 3 modules, an open high alert, an overdue task;
    bo: better (PSS-10 25 -> 15), a message unread; carl: no answers yet, finished (started long ago);
    dora: the backup's, with an alert of her own."""
    ids = {
        "anna": await enrol(store, "p-anna", "Anna Jensen", "coach", date(2025, 3, 3), "+4512345678"),
        "bo": await enrol(store, "p-bo", "Bo Nielsen", "coach", date(2025, 2, 24)),
        "carl": await enrol(store, "p-carl", "Carl Hansen", "coach", date(2024, 9, 2)),
        "dora": await enrol(store, "p-dora", "Dora Berg", "backup", date(2025, 3, 3)),
    }
    anna, bo = ids["anna"], ids["bo"]
    for seq, (pss, who) in enumerate(((18, 60), (24, 40)), start=1):
        await step(store, anna, at(seq * 7), scores=[ScoreRecord(seq, "pss10", 2, "total", pss, None, at(seq * 7)),
                                                     ScoreRecord(seq + 10, "who5", 3, "percent", who, None,
                                                                 at(seq * 7))])
    for number in ("1", "2", "3", "3"):  # DONE 3 twice counts once
        await store.add_mark(anna, MarkRecord("module_done", number, {}, at(2)))
    await step(store, anna, at(20), escalations=[EscalationRecord("high", "text", {"matched": "x"}, at(20), at(20.1))],
               tasks=[CoachTaskRecord("consider_referral", {}, at(10), at(12))])
    await step(store, anna, at(21), tasks=[CoachTaskRecord("wave_missed", {}, at(21), at(40))])  # not yet due
    for seq, pss in enumerate((25, 15), start=1):
        await step(store, bo, at(seq * 7), scores=[ScoreRecord(seq, "pss10", 2, "total", pss, None, at(seq * 7))])
    await step(store, bo, at(25), inbound=InboundRecord("sms", "SM-bo-1", at(25)),
               heard=HeardRecord("kan I ringe?", "for_coach", {}, True))
    await step(store, ids["dora"], at(22),
               escalations=[EscalationRecord("low", "text", {"matched": "y"}, at(22), at(23))])
    return ids


def query(coach: str | None, **changes: object) -> CaseloadQuery:
    return CaseloadQuery(coach, NOW, SCORES, finished_on_or_before=NOW.date() - timedelta(weeks=12),
                         **changes)  # type: ignore[arg-type]


async def test_a_page_of_one_coach_s_participants_with_their_figures(store: SqlStorage) -> None:
    ids = await caseload_world(store)
    page = await store.caseload(query("coach"))
    assert page.total == 3
    # needing attention first: the open alert, then the unread message, then the rest by ref
    assert [r.ref for r in page.rows] == ["p-anna", "p-bo", "p-carl"]
    anna, bo, carl = page.rows
    assert (anna.name, anna.modules_done, anna.scores) == ("Anna Jensen", 3, ((24.0, 18.0), (40.0, 60.0)))
    assert (anna.open_alerts, anna.alert_level, anna.open_tasks, anna.overdue_tasks, anna.unread) == (
        1, "high", 2, 1, 0)
    assert (bo.scores, bo.unread, bo.open_alerts, bo.overdue_tasks) == (((15.0, 25.0), ()), 1, 0, 0)
    assert (carl.scores, carl.modules_done, carl.start_date) == (((), ()), 0, date(2024, 9, 2))
    everyone = await store.caseload(query(None))
    assert everyone.total == 4 and [r.ref for r in everyone.rows] == ["p-anna", "p-dora", "p-bo", "p-carl"]
    assert ids["dora"] not in {r.participant_id for r in page.rows}


async def test_sorts_filters_search_and_pages_run_in_the_database(store: SqlStorage) -> None:
    ids = await caseload_world(store)

    async def refs(**changes: object) -> list[str]:
        return [r.ref for r in (await store.caseload(query("coach", **changes))).rows]

    assert await refs(sort="ref") == ["p-anna", "p-bo", "p-carl"]
    assert await refs(sort="ref", descending=True) == ["p-carl", "p-bo", "p-anna"]
    assert await refs(sort="score0") == ["p-bo", "p-anna", "p-carl"]  # latest PSS-10 15, 24, none last
    assert await refs(sort="score0", descending=True) == ["p-anna", "p-bo", "p-carl"]
    assert await refs(sort="modules", descending=True) == ["p-anna", "p-bo", "p-carl"]
    assert await refs(sort="start") == ["p-carl", "p-bo", "p-anna"]
    assert await refs(sort="unread") == ["p-bo", "p-anna", "p-carl"]
    assert await refs(only="alerts") == ["p-anna"]
    assert await refs(only="unread") == ["p-bo"]
    assert await refs(only="overdue") == ["p-anna"]
    assert await refs(only="finished") == ["p-carl"]
    assert await refs(only="active") == ["p-anna", "p-bo"]
    assert await refs(search="CAR") == ["p-carl"]
    assert await refs(search="zzz", among=(ids["bo"], ids["dora"])) == ["p-bo"]  # another coach's: not in scope
    assert await refs(search="100%_") == []  # LIKE's wildcards are taken literally
    first = await store.caseload(query("coach", sort="ref", limit=2))
    second = await store.caseload(query("coach", sort="ref", limit=2, offset=2))
    assert ([r.ref for r in first.rows], [r.ref for r in second.rows], first.total) == (
        ["p-anna", "p-bo"], ["p-carl"], 3)
    every = await store.caseload(query(None, sort="ref", limit=None))
    assert every.rows == [] and every.ids == tuple(ids[n] for n in ("anna", "bo", "carl", "dora"))
    rows = await store.caseload_rows([ids["carl"], ids["anna"], 999_999], query(None))
    assert [r.ref for r in rows] == ["p-carl", "p-anna"]


async def test_names_for_a_search_and_the_tasks_list(store: SqlStorage) -> None:
    ids = await caseload_world(store)
    assert await store.profile_names("coach") == {ids["anna"]: "Anna Jensen", ids["bo"]: "Bo Nielsen",
                                                  ids["carl"]: "Carl Hansen"}
    assert (await store.profile_names())[ids["dora"]] == "Dora Berg"
    assert await store.profile_names("nobody") == {}
    tasks = await store.tasks_of("coach")
    assert [(t.ref, t.name, t.task.kind) for t in tasks] == [("p-anna", "Anna Jensen", "consider_referral"),
                                                             ("p-anna", "Anna Jensen", "wave_missed")]
    assert await store.tasks_of("backup") == []
    await store.complete_task(tasks[0].task.id, "coach", NOW)
    assert [t.task.kind for t in await store.tasks_of("coach")] == ["wave_missed"]
    again = await store.tasks_of(None, done_since=NOW - timedelta(days=1))
    assert [(t.task.kind, t.task.done_by) for t in again] == [("consider_referral", "coach"), ("wave_missed", None)]
