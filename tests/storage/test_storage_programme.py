"""The programme in storage: the schedule of bot-initiated events, coach tasks, milestones and flow scores.

The contract tests run against every `Storage` (SQLite with each runner on a real file); the tests at
the end are SQLite-only: group commit, indexes, constraints and migration 4.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError

from storage import (
    FINISHED_SCHEDULE,
    AuditRecord,
    CoachTaskRecord,
    CommitResult,
    CommitStatus,
    InboundRecord,
    Mark,
    MarkRecord,
    OutboundRecord,
    ScheduledRecord,
    ScheduleOutcome,
    ScheduleRow,
    ScheduleStatus,
    ScoreRecord,
    SqlStorage,
    StepRecord,
    UnknownParticipantError,
    open_storage,
)
from storage.legacy_migrations import MIGRATIONS
from storage.upgrade import current, head

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
SCHEMA_V2 = Path(__file__).with_name("schema_v2.sql")
SCHEMA_V3 = Path(__file__).with_name("schema_v3.sql")
PENDING, SENT, SKIPPED, CANCELLED = (
    ScheduleStatus.PENDING,
    ScheduleStatus.SENT,
    ScheduleStatus.SKIPPED,
    ScheduleStatus.CANCELLED,
)
LEASE = timedelta(minutes=5)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event_at(key: str, minutes: float, kind: str = "module", **data: Any) -> ScheduledRecord:
    return ScheduledRecord(key=key, kind=kind, due_at=at(minutes), data=data)


def step(pid: int, rev: int, **kw: Any) -> StepRecord:
    return StepRecord(participant_id=pid, expected_revision=rev, state={"rev": rev + 1}, at=kw.pop("at", T0), **kw)


def message(text: str) -> OutboundRecord:
    return OutboundRecord("sms", {"text": text}, T0)


async def participant(store: SqlStorage, ref: str = "P-001") -> int:
    return (await store.get_or_create_participant(ref, "da", T0)).id


async def planned(store: SqlStorage, pid: int, *events: ScheduledRecord) -> dict[str, ScheduleRow]:
    await store.add_schedule([(pid, e) for e in events], T0)
    return await rows_by_key(store, pid)


async def rows_by_key(store: SqlStorage, pid: int) -> dict[str, ScheduleRow]:
    return {row.key: row for row in await store.schedule_of(pid)}


async def finish(store: SqlStorage, pid: int, row: ScheduleRow, status: ScheduleStatus, rev: int) -> CommitResult:
    return await store.commit_step(step(pid, rev, schedule_outcome=ScheduleOutcome(row.id, status, "done")))


async def snapshot(store: SqlStorage, pid: int) -> tuple[Any, ...]:
    """Everything a step of this participant can change, to prove that a refused one wrote nothing."""
    return (
        await store.load_conversation(pid),
        [row for row in await store.pending_outbox("sms", 1000) if row.participant_id == pid],
        await store.schedule_of(pid),
        await store.coach_tasks(only_open=False, participant_id=pid),
        await store.marks(pid),
        await store.flow_scores(pid, "tre_log"),
        [entry for entry in await store.audit_entries() if entry.subject == f"participant:{pid}"],
    )


def the_works(pid: int, rev: int, outcome: ScheduleOutcome, **kw: Any) -> StepRecord:
    """A step that writes a bit of everything (`kw` replaces or adds), completing `outcome`'s row."""
    parts: dict[str, Any] = {
        "outbox": [message("Modul 2 er klar")],
        "cancel_schedule_kinds": ["nudge"],
        "schedule": [event_at("module:3", 60 * 24 * 7)],
        "tasks": [CoachTaskRecord("consider_referral", {"score": 31}, T0)],
        "marks": [MarkRecord("module_done", "2", {}, T0)],
        "scores": [ScoreRecord(1, "tre_log", 1, "minutes", 20.0, None, T0)],
        "audit": [AuditRecord("system", "programme.module_sent", f"participant:{pid}", T0)],
        "cancel_schedule_keys": ["timer:expire:1"],
        "lang": "en",
    }
    return step(pid, rev, schedule_outcome=outcome, **{**parts, **kw})


# --- planning: add_schedule and schedule_of ---


async def test_planned_events_are_listed_by_due_time(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    count = await store.add_schedule(
        [
            (pid, event_at("module:2", 60, data_is="kept", nested={"n": [1, 2]})),
            (pid, event_at("wave:week4:open", 30, kind="wave_open")),
            (other, event_at("module:2", 10)),
            (pid, event_at("module:1", 30)),
        ],
        T0,
    )
    assert count == 4
    rows = await store.schedule_of(pid)
    assert [(r.key, r.due_at) for r in rows] == [
        ("wave:week4:open", at(30)),
        ("module:1", at(30)),
        ("module:2", at(60)),
    ]
    assert rows[0].id < rows[1].id  # same due time: by id
    assert rows[2] == ScheduleRow(
        id=rows[2].id,
        participant_id=pid,
        key="module:2",
        kind="module",
        due_at=at(60),
        data={"data_is": "kept", "nested": {"n": [1, 2]}},
        status=PENDING,
        reason="",
        updated_at=None,
    )
    assert rows[2].due_at.tzinfo is not None
    assert [r.key for r in await store.schedule_of(other)] == ["module:2"]
    assert await store.schedule_of(999) == []


async def test_the_next_pending_due_time_is_the_first_after_now_or_else_an_overdue_one(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    assert await store.next_pending_due(pid, at(0)) is None  # nothing planned
    rows = await planned(store, pid, event_at("overdue", 5), event_at("sent", 20), event_at("later", 40),
                         event_at("last", 90))
    await store.add_schedule([(other, event_at("theirs", 15))], T0)
    await finish(store, pid, rows["sent"], SENT, 0)
    assert await store.next_pending_due(pid, at(10)) == at(40)  # past the overdue one, and the sent one is done
    assert await store.next_pending_due(pid, at(40)) == at(90)  # strictly after
    assert await store.next_pending_due(pid, at(100)) == at(5)  # none later: the earliest overdue
    assert (await store.next_pending_due(pid, at(10))).tzinfo is not None  # type: ignore[union-attr]
    assert await store.next_pending_due(other, at(0)) == at(15)
    assert await store.next_pending_due(999, at(0)) is None


async def test_planning_again_replans_pending_and_cancelled_rows_but_never_finished_ones(store: SqlStorage) -> None:
    pid = await participant(store)
    events = (event_at("pending", 10), event_at("sent", 20), event_at("skipped", 30), event_at("nudge", 40, "nudge"))
    first = await planned(store, pid, *events)
    await finish(store, pid, first["sent"], SENT, 0)
    await finish(store, pid, first["skipped"], SKIPPED, 1)
    await store.commit_step(step(pid, 2, cancel_schedule_kinds=["nudge"], at=at(1)))
    assert (await rows_by_key(store, pid))["nudge"].status is CANCELLED

    again = [event_at(key, 500, "again", v=2) for key in ("pending", "sent", "skipped", "nudge", "new")]
    assert await store.add_schedule([(pid, e) for e in again], at(5)) == 3  # pending, nudge (cancelled) and new
    rows = await rows_by_key(store, pid)
    for key in ("pending", "nudge", "new"):
        row = rows[key]
        assert (row.status, row.kind, row.due_at, row.data, row.reason) == (PENDING, "again", at(500), {"v": 2}, "")
    assert rows["pending"].id == first["pending"].id and rows["nudge"].id == first["nudge"].id
    assert rows["pending"].updated_at == at(5) and rows["new"].updated_at is None
    for key, status in (("sent", SENT), ("skipped", SKIPPED)):
        assert rows[key] == replace(first[key], status=status, reason="done", updated_at=T0)
    assert {r.status for r in rows.values()} - {PENDING} <= FINISHED_SCHEDULE


async def test_the_last_plan_of_a_key_in_one_call_wins(store: SqlStorage) -> None:
    pid = await participant(store)
    count = await store.add_schedule([(pid, event_at("k", 10, v=1)), (pid, event_at("k", 20, v=2))], T0)
    assert count == 2  # inserted, then re-planned
    (row,) = await store.schedule_of(pid)
    assert (row.due_at, row.data) == (at(20), {"v": 2})


async def test_events_due_at_once_keep_the_order_they_were_planned_in(store: SqlStorage) -> None:
    """Ties in due time are handled in id order: one call's rows get their ids in the order given (on PostgreSQL
    one statement for the whole call, storage/sql/schedule.py), also when a key comes twice."""
    pid = await participant(store)
    keys = ["m", "b", "z", "a", "b", "k"]
    assert await store.add_schedule([(pid, event_at(key, 10, n=n)) for n, key in enumerate(keys)], T0) == 6
    rows = await store.schedule_of(pid)
    assert [(r.key, r.data["n"]) for r in rows] == [("m", 0), ("b", 4), ("z", 2), ("a", 3), ("k", 5)]


async def test_one_plan_shared_by_a_cohort_is_planned_for_each_of_them(store: SqlStorage) -> None:
    pids = [await participant(store, f"P-{i:03d}") for i in range(3)]
    plan = [event_at("module:1", 10, n=1), event_at("module:2", 20, n=2)]
    assert await store.add_schedule([(pid, e) for pid in pids for e in plan], T0) == 6
    # Events made on the fly (ids of collected objects come back): each is still encoded as itself.
    assert await store.add_schedule(((pids[0], event_at(f"once:{i}", i, i=i)) for i in range(50)), T0) == 50
    for pid in pids:
        rows = [r for r in await store.schedule_of(pid) if r.key.startswith("module:")]
        assert [(r.participant_id, r.key, r.data) for r in rows] == [
            (pid, "module:1", {"n": 1}),
            (pid, "module:2", {"n": 2}),
        ]
    once = [r for r in await store.schedule_of(pids[0]) if r.key.startswith("once:")]
    assert [(r.key, r.due_at, r.data) for r in once] == [(f"once:{i}", at(i), {"i": i}) for i in range(50)]


async def test_planning_checks_everything_before_writing_anything(store: SqlStorage) -> None:
    pid = await participant(store)
    assert await store.add_schedule([], T0) == 0
    with pytest.raises(UnknownParticipantError):
        await store.add_schedule([(pid, event_at("a", 1)), (999, event_at("b", 1))], T0)
    naive = datetime(2025, 3, 3, 8, 0)
    with pytest.raises(ValueError, match="naive"):
        await store.add_schedule([(pid, event_at("a", 1)), (pid, ScheduledRecord("b", "module", naive))], T0)
    with pytest.raises(ValueError, match="naive"):
        await store.add_schedule([(pid, event_at("a", 1))], naive)
    for bad in (ScheduledRecord("", "module", T0), ScheduledRecord("k", " ", T0), ScheduledRecord("x" * 201, "m", T0)):
        with pytest.raises(ValueError):
            await store.add_schedule([(pid, event_at("a", 1)), (pid, bad)], T0)
    with pytest.raises(ValueError):
        await store.add_schedule([(pid, ScheduledRecord("k", "module", T0, {"x": float("nan")}))], T0)
    assert await store.schedule_of(pid) == []


# --- claiming ---


async def test_claims_take_due_rows_earliest_first_and_hold_them_until_the_lease_ends(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    third = await participant(store, "P-003")  # not `pid`: on PostgreSQL a person's rows wait behind a held one
    await store.add_schedule(
        [(pid, event_at("late", 20)), (other, event_at("b", 10)), (third, event_at("a", 10)), (pid, event_at("c", 5))],
        T0,
    )
    await store.add_schedule([(pid, event_at("future", 90))], T0)

    first = await store.claim_schedule(at(15), 2, at(15) + LEASE)
    assert [(r.key, r.participant_id) for r in first] == [("c", pid), ("b", other)]
    assert all(r.status is PENDING for r in first)
    second = await store.claim_schedule(at(16), 10, at(16) + LEASE)
    assert [r.key for r in second] == ["a"]  # "c" and "b" are held; "late" and "future" are not due
    assert await store.claim_schedule(at(19), 10, at(19) + LEASE) == []
    assert await store.claim_schedule(at(19), 0, at(19) + LEASE) == []

    # The holder of "c" and "b" crashed: once its lease has run out they are claimed again, with "late".
    again = await store.claim_schedule(at(20), 10, at(25))
    assert [r.key for r in again] == ["c", "b", "late"]
    assert [r.key for r in await store.claim_schedule(at(21) + LEASE, 10, at(40))] == ["c", "b", "a", "late"]


async def test_two_claimers_never_get_the_same_row(store: SqlStorage) -> None:
    pids = [await participant(store, f"P-{i:03d}") for i in range(50)]  # one row each: see the next test
    await store.add_schedule([(pid, event_at("e", i % 5)) for i, pid in enumerate(pids)], T0)
    claims = await asyncio.gather(*(store.claim_schedule(at(10), 7, at(10) + LEASE) for _ in range(10)))
    ids = [row.id for claim in claims for row in claim]
    assert len(ids) == len(set(ids)) == 50
    assert all(len(claim) == 7 for claim in claims[:7])
    assert await store.claim_schedule(at(10) + LEASE - timedelta(microseconds=1), 100, at(60)) == []
    assert len(await store.claim_schedule(at(10) + LEASE, 100, at(60))) == 50


async def test_on_postgresql_a_persons_rows_wait_while_one_of_theirs_is_held(store: SqlStorage) -> None:
    """Several processes claim at once there: a person's next rows are not handed to anyone while one of theirs is
    being handled (or until its lease runs out), so they are handled in due order. (One process per SQLite file:
    there the one tick handles each batch before claiming the next.)"""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("one process per SQLite file (bot/singleton.py)")
    anna, bo = await participant(store, "P-anna"), await participant(store, "P-bo")
    await store.add_schedule([(anna, event_at("a1", 1)), (anna, event_at("a2", 2)), (bo, event_at("b1", 3)),
                              (anna, event_at("a3", 4))], T0)
    first = await store.claim_schedule(at(10), 1, at(10) + LEASE)
    assert [r.key for r in first] == ["a1"]
    assert [r.key for r in await store.claim_schedule(at(10), 1, at(10) + LEASE)] == ["b1"]  # not a2, a3, and
    # a2 (due before b1) does not take the only place either: a claim finds the people it can serve
    assert await store.claim_schedule(at(11), 10, at(11) + LEASE) == []
    assert [r.key for r in await store.claim_schedule(at(10) + LEASE, 10, at(60))] == ["a1", "a2", "b1", "a3"]


async def test_on_postgresql_a_claim_takes_whole_people(store: SqlStorage) -> None:
    """Each person brings all their due rows nobody holds, people in the order of their earliest one, up to the limit:
    a person partly claimed would be held, and every other claim would pass over their remaining rows until the
    holder is done (with a backlog, claims slowed down one after another: storage/sql/claims.py)."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("one process per SQLite file (bot/singleton.py): there a claim takes the earliest rows")
    anna, bo, cleo = [await participant(store, f"P-{name}") for name in ("anna", "bo", "cleo")]
    await store.add_schedule([(anna, event_at("a1", 1)), (bo, event_at("b1", 2)), (cleo, event_at("c1", 3)),
                              (anna, event_at("a2", 4)), (anna, event_at("a-later", 50))], T0)
    assert [r.key for r in await store.claim_schedule(at(10), 2, at(10) + LEASE)] == ["a1", "a2"]  # not a1, b1
    assert [r.key for r in await store.claim_schedule(at(10), 2, at(10) + LEASE)] == ["b1", "c1"]
    assert await store.claim_schedule(at(10), 2, at(10) + LEASE) == []


async def test_on_postgresql_whole_people_fill_the_limit_in_order(store: SqlStorage) -> None:
    """Someone with more due rows than the limit gets their earliest ones; someone whose rows do not fit ends the
    claim (the people after them come later in due order); many people with uneven rows are counted in chunks."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("one process per SQLite file (bot/singleton.py): there a claim takes the earliest rows")
    anna, bo, cleo = [await participant(store, f"P-{name}") for name in ("anna", "bo", "cleo")]
    await store.add_schedule([(anna, event_at(f"a{n}", n)) for n in range(1, 6)]
                             + [(bo, event_at("b1", 6)), (bo, event_at("b2", 7)), (cleo, event_at("c1", 8))], T0)
    assert [r.key for r in await store.claim_schedule(at(10), 3, at(10) + LEASE)] == ["a1", "a2", "a3"]
    await store.claim_schedule(at(10) + LEASE, 0, at(60))  # (nothing: a limit of 0)
    later = at(10) + LEASE
    assert [r.key for r in await store.claim_schedule(later, 7, later + LEASE)] == ["a1", "a2", "a3", "a4", "a5",
                                                                                  "b1", "b2"]
    assert [r.key for r in await store.claim_schedule(later, 7, later + LEASE)] == ["c1"]


async def test_on_postgresql_many_people_with_uneven_rows_are_claimed_whole_and_in_order(store: SqlStorage) -> None:
    """150 people with 1 to 4 due rows each: more than the first chunk of people counted (storage/sql/claims.py)."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("one process per SQLite file (bot/singleton.py): there a claim takes the earliest rows")
    many = [await participant(store, f"P-many-{i:03d}") for i in range(150)]
    rows_of = {pid: 1 + (i * 7) % 4 for i, pid in enumerate(many)}
    await store.add_schedule([(pid, event_at(f"m{k}", 100 + i + 150 * k)) for i, pid in enumerate(many)
                              for k in range(rows_of[pid])], T0)
    now = at(100 + 150 * 4)
    claimed = await store.claim_schedule(now, 200, now + LEASE)
    people = list(dict.fromkeys(r.participant_id for r in sorted(claimed, key=lambda r: (r.participant_id, r.due_at))))
    first = sorted(people, key=many.index)
    assert first == many[:len(first)]  # the earliest people, none skipped
    assert all(sum(r.participant_id == pid for r in claimed) == rows_of[pid] for pid in first)  # each one whole
    assert len(claimed) <= 200 < len(claimed) + rows_of[many[len(first)]]  # the next would not have fitted


async def test_on_postgresql_a_claim_looks_past_people_another_transaction_has_locked(store: SqlStorage) -> None:
    """A step of the person (or another claim) holds their row's lock: the claim takes the people after them rather
    than nothing."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("participants are locked only on PostgreSQL")
    anna, bo = await participant(store, "P-anna"), await participant(store, "P-bo")
    await store.add_schedule([(anna, event_at(f"a{n}", n)) for n in range(1, 4)] + [(bo, event_at("b1", 5))], T0)
    async with store.engine.connect() as other:
        await other.execute(text("SELECT id FROM participants WHERE id = :id FOR NO KEY UPDATE"), {"id": anna})
        assert [r.key for r in await store.claim_schedule(at(10), 2, at(10) + LEASE)] == ["b1"]
        await other.rollback()
    assert [r.key for r in await store.claim_schedule(at(10), 3, at(10) + LEASE)] == ["a1", "a2", "a3"]


async def test_finished_and_cancelled_rows_are_never_claimed(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("sent", 1), event_at("nudge", 2, "nudge"), event_at("due", 3))
    (claimed, *_) = await store.claim_schedule(at(1), 1, at(1) + LEASE)
    assert claimed.key == "sent"
    await finish(store, pid, claimed, SENT, 0)
    await store.commit_step(step(pid, 1, cancel_schedule_kinds=["nudge"]))
    assert [r.key for r in await store.claim_schedule(at(100), 10, at(200))] == ["due"]
    assert rows["due"].status is PENDING


# --- commit_step: the outcome precondition ---


async def test_a_step_completes_its_schedule_row_with_everything_else(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("module:2", 0), event_at("nudge:2", 60 * 24, "nudge"))
    (claimed,) = await store.claim_schedule(at(1), 10, at(1) + LEASE)
    result = await store.commit_step(the_works(pid, 0, ScheduleOutcome(claimed.id, SENT, "sent"), at=at(2)))
    assert (result.status, result.revision, len(result.outbox_ids)) == (CommitStatus.COMMITTED, 1, 1)
    after = await rows_by_key(store, pid)
    assert (after["module:2"].status, after["module:2"].reason, after["module:2"].updated_at) == (SENT, "sent", at(2))
    assert after["module:2"].due_at == rows["module:2"].due_at  # only a deferral moves it
    assert (after["nudge:2"].status, after["nudge:2"].reason) == (CANCELLED, "replaced")
    assert after["module:3"].status is PENDING
    assert [t.kind for t in await store.coach_tasks()] == ["consider_referral"]
    assert [m.kind for m in await store.marks(pid)] == ["module_done"]


async def test_a_row_handled_twice_commits_once_and_the_second_step_writes_nothing(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("module:2", 0), event_at("nudge:2", 60, "nudge"))
    outcome = ScheduleOutcome(rows["module:2"].id, SENT, "sent")
    assert (await store.commit_step(the_works(pid, 0, outcome))).status is CommitStatus.COMMITTED
    await store.add_schedule([(pid, event_at("nudge:2", 90, "nudge")),  # pending again: a cancel would show
                              (pid, event_at("timer:expire:1", 90, "run_expiry"))], T0)
    before = await snapshot(store, pid)
    # The same row handled again (a crash after the commit, or a second process), from the current revision:
    result = await store.commit_step(the_works(pid, 1, outcome, inbound=InboundRecord("sms", "SM-9", T0)))
    assert (result.status, result.revision, result.outbox_ids, result.escalation_ids) == (
        CommitStatus.DUPLICATE,
        1,
        (),
        (),
    )
    assert await snapshot(store, pid) == before
    assert (await store.get_or_create_participant("P-001", "da", T0)).lang == "en"  # the first step's
    # The inbound message was not recorded either: it still goes through on its own.
    assert (await store.commit_step(step(pid, 1, inbound=InboundRecord("sms", "SM-9", T0)))).status is (
        CommitStatus.COMMITTED
    )


@pytest.mark.parametrize("status", [SENT, SKIPPED, CANCELLED])
async def test_an_outcome_for_a_row_no_longer_pending_is_a_duplicate(store: SqlStorage, status: ScheduleStatus) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("module:2", 0, "module"))
    if status is CANCELLED:
        await store.commit_step(step(pid, 0, cancel_schedule_kinds=["module"]))
    else:
        await finish(store, pid, rows["module:2"], status, 0)
    before = await snapshot(store, pid)
    result = await finish(store, pid, rows["module:2"], SENT, 1)
    assert (result.status, result.revision) == (CommitStatus.DUPLICATE, 1)
    assert await snapshot(store, pid) == before


async def test_an_outcome_for_someone_elses_row_or_no_row_is_a_duplicate(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    theirs = (await planned(store, other, event_at("module:1", 0)))["module:1"]
    before = await snapshot(store, pid), await snapshot(store, other)
    for schedule_id in (theirs.id, theirs.id + 1000):
        result = await store.commit_step(the_works(pid, 0, ScheduleOutcome(schedule_id, SENT)))
        assert (result.status, result.revision) == (CommitStatus.DUPLICATE, 0)
    assert (await snapshot(store, pid), await snapshot(store, other)) == before


async def test_a_conflicting_step_leaves_its_row_pending(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("module:2", 0))
    await store.commit_step(step(pid, 0))  # the participant answered meanwhile
    result = await finish(store, pid, rows["module:2"], SENT, 0)
    assert (result.status, result.revision) == (CommitStatus.CONFLICT, 1)
    assert (await rows_by_key(store, pid))["module:2"].status is PENDING
    assert (await finish(store, pid, rows["module:2"], SENT, 1)).status is CommitStatus.COMMITTED


async def test_a_deferral_moves_the_row_and_keeps_it_pending(store: SqlStorage) -> None:
    pid = await participant(store)
    await planned(store, pid, event_at("module:2", 0))
    (claimed,) = await store.claim_schedule(at(1), 10, at(1) + LEASE)
    later = ScheduleOutcome(claimed.id, PENDING, "quiet hours", due_at=at(600))
    assert (await store.commit_step(step(pid, 0, schedule_outcome=later, at=at(2)))).status is CommitStatus.COMMITTED
    (row,) = await store.schedule_of(pid)
    assert row == replace(claimed, due_at=at(600), reason="quiet hours", updated_at=at(2))
    # The lease went with the deferral: the row is claimable at its new time, and not before.
    assert await store.claim_schedule(at(599), 10, at(700)) == []
    (again,) = await store.claim_schedule(at(600), 10, at(700))
    assert again.id == claimed.id
    assert (await finish(store, pid, again, SENT, 1)).status is CommitStatus.COMMITTED


async def test_a_bad_outcome_is_refused_before_anything_is_written(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("module:2", 0))
    row_id = rows["module:2"].id
    before = await snapshot(store, pid)
    with pytest.raises(ValueError, match="deferral"):
        await store.commit_step(step(pid, 0, schedule_outcome=ScheduleOutcome(row_id, PENDING)))
    with pytest.raises(ValueError, match="deferral"):
        await store.commit_step(step(pid, 0, schedule_outcome=ScheduleOutcome(row_id, SENT, due_at=at(5))))
    with pytest.raises(ValueError):
        await store.commit_step(step(pid, 0, schedule_outcome=ScheduleOutcome(row_id, "done")))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        naive = datetime(2025, 3, 3, 9, 0)
        await store.commit_step(step(pid, 0, schedule_outcome=ScheduleOutcome(row_id, PENDING, due_at=naive)))
    with pytest.raises(ValueError):
        await store.commit_step(step(pid, 0, schedule=[ScheduledRecord("", "module", T0)]))
    with pytest.raises(ValueError):
        await store.commit_step(step(pid, 0, cancel_schedule_kinds=[""]))
    assert await snapshot(store, pid) == before


async def test_racing_handlers_of_one_row_commit_once(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("module:2", 0))
    outcome = ScheduleOutcome(rows["module:2"].id, SENT)
    results = await asyncio.gather(
        *(store.commit_step(step(pid, 0, schedule_outcome=outcome, outbox=[message(f"m{i}")])) for i in range(20))
    )
    statuses = [r.status for r in results]
    assert statuses.count(CommitStatus.COMMITTED) == 1
    assert statuses.count(CommitStatus.DUPLICATE) == 19
    assert len(await store.pending_outbox("sms")) == 1


async def test_steps_of_one_participant_in_flight_together_see_each_others_schedule_changes(store: SqlStorage) -> None:
    """Committed one after the other (SQLite: in one batch), the second step's outcome sees what the first did."""
    pid = await participant(store)
    rows = await planned(store, pid, event_at("exercise:1", 10, "exercise"), event_at("module:2", 10))
    await store.commit_step(step(pid, 0, cancel_schedule_kinds=["exercise"]))
    cancelled = rows["exercise:1"]

    # The first step re-plans the cancelled row; the second (computed ahead, from revision 2) then completes it.
    first, second = await asyncio.gather(
        store.commit_step(step(pid, 1, schedule=[event_at("exercise:1", 20, "exercise")])),
        store.commit_step(step(pid, 2, schedule_outcome=ScheduleOutcome(cancelled.id, SENT, "sent"))),
    )
    assert (first.status, second.status) == (CommitStatus.COMMITTED, CommitStatus.COMMITTED)
    after = await rows_by_key(store, pid)
    assert (after["exercise:1"].status, after["exercise:1"].due_at) == (SENT, at(20))

    # The first step sends "module:2"; the second, completing it too, is a duplicate.
    module = ScheduleOutcome(rows["module:2"].id, SENT)
    first, second = await asyncio.gather(
        store.commit_step(step(pid, 3, schedule_outcome=module, outbox=[message("first")])),
        store.commit_step(step(pid, 4, schedule_outcome=module, outbox=[message("second")])),
    )
    assert (first.status, second.status, second.revision) == (CommitStatus.COMMITTED, CommitStatus.DUPLICATE, 4)
    assert [row.payload["text"] for row in await store.pending_outbox("sms")] == ["first"]

    # The first step defers "retry"; the second (cancelling its kind) withdraws it, the third's outcome then fails.
    retry = (await planned(store, pid, event_at("retry", 30, "nudge")))["retry"]
    results = await asyncio.gather(
        store.commit_step(step(pid, 4, schedule_outcome=ScheduleOutcome(retry.id, PENDING, "later", at(90)))),
        store.commit_step(step(pid, 5, cancel_schedule_kinds=["nudge"])),
        store.commit_step(step(pid, 6, schedule_outcome=ScheduleOutcome(retry.id, SENT))),
    )
    assert [r.status for r in results] == [CommitStatus.COMMITTED, CommitStatus.COMMITTED, CommitStatus.DUPLICATE]
    final = (await rows_by_key(store, pid))["retry"]
    assert (final.status, final.reason, final.due_at) == (CANCELLED, "replaced", at(90))


# --- commit_step: cancelling and planning ---


async def test_cancel_then_plan_in_one_step(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    rows = await planned(
        store,
        pid,
        event_at("exercise:mon", 10, "exercise"),
        event_at("exercise:wed", 20, "exercise"),
        event_at("exercise:old", 5, "exercise"),
        event_at("module:2", 30),
    )
    await finish(store, pid, rows["exercise:old"], SENT, 0)
    await store.add_schedule([(other, event_at("exercise:mon", 10, "exercise"))], T0)

    new_times = [event_at("exercise:wed", 25, "exercise", slot=2), event_at("exercise:fri", 45, "exercise")]
    result = await store.commit_step(
        step(pid, 1, cancel_schedule_kinds=["exercise", "exercise"], schedule=new_times, at=at(3))
    )
    assert result.status is CommitStatus.COMMITTED
    after = await rows_by_key(store, pid)
    assert (after["exercise:mon"].status, after["exercise:mon"].reason, after["exercise:mon"].updated_at) == (
        CANCELLED,
        "replaced",
        at(3),
    )
    assert (after["exercise:wed"].status, after["exercise:wed"].due_at, after["exercise:wed"].reason) == (
        PENDING,
        at(25),
        "",
    )
    assert after["exercise:wed"].id == rows["exercise:wed"].id and after["exercise:wed"].data == {"slot": 2}
    assert after["exercise:fri"].status is PENDING
    assert after["exercise:old"].status is SENT  # finished rows are neither cancelled nor planned again
    assert after["module:2"].status is PENDING  # another kind
    assert [r.status for r in await store.schedule_of(other)] == [PENDING]  # another participant


async def test_a_step_never_plans_the_row_it_completes_again(store: SqlStorage) -> None:
    pid = await participant(store)
    rows = await planned(store, pid, event_at("checkin:1", 0, "checkin"))
    outcome = ScheduleOutcome(rows["checkin:1"].id, SKIPPED, "paused")
    replan = [event_at("checkin:1", 100, "checkin"), event_at("checkin:2", 200, "checkin")]
    await store.commit_step(step(pid, 0, schedule_outcome=outcome, cancel_schedule_kinds=["checkin"], schedule=replan))
    after = await rows_by_key(store, pid)
    assert after["checkin:1"] == replace(rows["checkin:1"], status=SKIPPED, reason="paused", updated_at=T0)
    assert after["checkin:2"].status is PENDING
    # A deferral, by contrast, stays pending, so the same step's cancellation and plan apply to it.
    deferral = ScheduleOutcome(after["checkin:2"].id, PENDING, "later", at(300))
    await store.commit_step(step(pid, 1, schedule_outcome=deferral, cancel_schedule_kinds=["checkin"]))
    assert (await rows_by_key(store, pid))["checkin:2"].status is CANCELLED


async def test_a_step_cancels_pending_rows_by_key_and_a_plan_moves_them(store: SqlStorage) -> None:
    """A questionnaire's expiry timer (bot/timers.py): `CancelTimer` withdraws the pending row with its key, and
    `ScheduleTimer` plans it (again), so a rescheduled expiry replaces the old one."""
    pid = await participant(store)
    other = await participant(store, "P-002")
    rows = await planned(store, pid, event_at("timer:a", 60, "run_expiry"), event_at("timer:b", 5, "run_expiry"),
                         event_at("timer:done", 1, "run_expiry"), event_at("module:2", 5))
    await store.add_schedule([(other, event_at("timer:b", 5, "run_expiry"))], T0)
    await finish(store, pid, rows["timer:done"], SENT, 0)
    await store.commit_step(step(pid, 1, schedule=[event_at("timer:a", 120, "run_expiry")]))
    await store.commit_step(step(pid, 2, cancel_schedule_keys=["timer:b", "timer:done", "never-planned"], at=at(3)))
    after = await rows_by_key(store, pid)
    assert (after["timer:a"].status, after["timer:a"].due_at, after["timer:a"].id) == (PENDING, at(120),
                                                                                       rows["timer:a"].id)
    assert (after["timer:b"].status, after["timer:b"].reason, after["timer:b"].updated_at) == (CANCELLED, "replaced",
                                                                                               at(3))
    assert after["timer:done"].status is SENT  # handled already: it keeps its one outcome
    assert after["module:2"].status is PENDING and "never-planned" not in after
    assert [r.status for r in await store.schedule_of(other)] == [PENDING]  # another participant's key
    # Cancelled and planned in one step: the cancellation first, so the row is due again at its new time.
    await store.commit_step(step(pid, 3, cancel_schedule_keys=["timer:a", "timer:b"],
                                 schedule=[event_at("timer:b", 30, "run_expiry")]))
    after = await rows_by_key(store, pid)
    assert (after["timer:a"].status, after["timer:b"].status, after["timer:b"].due_at) == (CANCELLED, PENDING, at(30))
    claimed = await store.claim_schedule(at(100), 10, at(105))
    assert [(r.participant_id, r.key) for r in claimed] == [(pid, "module:2"), (other, "timer:b"), (pid, "timer:b")]
    with pytest.raises(ValueError, match="schedule key"):
        await store.commit_step(step(pid, 4, cancel_schedule_keys=[""]))


async def test_steps_in_flight_together_see_each_others_cancels_by_key(store: SqlStorage) -> None:
    """Committed one after the other (SQLite: in one batch): a timer withdrawn by the first step cannot be fired by
    the second, and one planned again by the third is pending."""
    pid = await participant(store)
    timer = (await planned(store, pid, event_at("timer:expire:1", 10, "run_expiry")))["timer:expire:1"]
    results = await asyncio.gather(
        store.commit_step(step(pid, 0, cancel_schedule_keys=["timer:expire:1"])),
        store.commit_step(step(pid, 1, schedule_outcome=ScheduleOutcome(timer.id, SENT, "run.expired"))),
        store.commit_step(step(pid, 1, schedule=[event_at("timer:expire:1", 20, "run_expiry")])),
    )
    assert [r.status for r in results] == [CommitStatus.COMMITTED, CommitStatus.DUPLICATE, CommitStatus.COMMITTED]
    after = (await rows_by_key(store, pid))["timer:expire:1"]
    assert (after.status, after.due_at) == (PENDING, at(20))


# --- coach tasks, marks and flow scores ---


async def test_coach_tasks_are_listed_oldest_first_and_completed_once(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    await store.commit_step(
        step(pid, 0, tasks=[CoachTaskRecord("tre_checkin", {"session": 3}, at(20), due_at=at(60)),
                            CoachTaskRecord("consider_referral", {"pss": 31}, at(10))])
    )
    await store.commit_step(step(other, 0, tasks=[CoachTaskRecord("wave_missed", {"wave": "week4"}, at(15))]))
    tasks = await store.coach_tasks()
    assert [(t.kind, t.participant_id) for t in tasks] == [
        ("consider_referral", pid),
        ("wave_missed", other),
        ("tre_checkin", pid),
    ]
    assert tasks[2].detail == {"session": 3} and tasks[2].due_at == at(60) and tasks[2].created_at == at(20)
    assert (tasks[0].done_at, tasks[0].done_by, tasks[0].due_at) == (None, None, None)
    assert [t.kind for t in await store.coach_tasks(participant_id=pid)] == ["consider_referral", "tre_checkin"]

    assert await store.complete_task(tasks[0].id, "coach-anna", at(30)) is True
    assert await store.complete_task(tasks[0].id, "coach-bo", at(31)) is False  # done already
    assert await store.complete_task(10_000, "coach-anna", at(31)) is False
    with pytest.raises(ValueError):
        await store.complete_task(tasks[1].id, " ", at(31))
    assert [t.kind for t in await store.coach_tasks()] == ["wave_missed", "tre_checkin"]
    every = await store.coach_tasks(only_open=False, participant_id=pid)
    assert [(t.kind, t.done_at, t.done_by) for t in every] == [
        ("consider_referral", at(30), "coach-anna"),
        ("tre_checkin", None, None),
    ]


async def test_marks_are_listed_in_the_order_they_were_stored(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")
    await store.commit_step(step(pid, 0, marks=[MarkRecord("module_done", "1", {"after_days": 6}, at(50)),
                                                MarkRecord("wave_started", "week4", {}, at(10))]))
    await store.commit_step(step(other, 0, marks=[MarkRecord("wave_missed", "week4", {}, at(5))]))
    await store.commit_step(step(pid, 1, marks=[MarkRecord("wave_done", "week4", {"items": 10}, at(1))]))
    assert await store.marks(pid) == [
        Mark(pid, "module_done", "1", {"after_days": 6}, at(50)),
        Mark(pid, "wave_started", "week4", {}, at(10)),
        Mark(pid, "wave_done", "week4", {"items": 10}, at(1)),
    ]
    assert [(m.participant_id, m.kind) for m in await store.marks()] == [
        (pid, "module_done"),
        (pid, "wave_started"),
        (other, "wave_missed"),
        (pid, "wave_done"),
    ]
    assert await store.marks(999) == []


async def test_flow_scores_are_one_flows_scores_oldest_first(store: SqlStorage) -> None:
    pid = await participant(store)
    other = await participant(store, "P-002")

    def score(flow: str, run: int, minutes: float, value: float) -> ScoreRecord:
        return ScoreRecord(run, flow, 1, "minutes", value, None, at(minutes))

    await store.commit_step(step(pid, 0, scores=[score("tre_log", 2, 30, 15.0), score("pss10", 1, 1, 20.0)]))
    await store.commit_step(step(pid, 1, scores=[score("tre_log", 1, 10, 25.0), score("tre_log", 3, 30, 5.0)]))
    await store.commit_step(step(other, 0, scores=[score("tre_log", 1, 0, 99.0)]))
    rows = await store.flow_scores(pid, "tre_log")
    assert [(r.run_seq, r.value) for r in rows] == [(1, 25.0), (2, 15.0), (3, 5.0)]
    assert rows[0] == ScoreRecord(1, "tre_log", 1, "minutes", 25.0, None, at(10))
    assert await store.flow_scores(pid, "nothing") == []


async def test_the_new_reads_and_writes_refuse_a_closed_store(store: SqlStorage) -> None:
    pid = await participant(store)
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.add_schedule([(pid, event_at("k", 1))], T0)
    with pytest.raises(RuntimeError, match="closed"):
        await store.claim_schedule(T0, 10, at(5))
    with pytest.raises(RuntimeError, match="closed"):
        await store.schedule_of(pid)
    with pytest.raises(RuntimeError, match="closed"):
        await store.coach_tasks()
    with pytest.raises(RuntimeError, match="closed"):
        await store.complete_task(1, "anna", T0)
    with pytest.raises(RuntimeError, match="closed"):
        await store.marks()
    with pytest.raises(RuntimeError, match="closed"):
        await store.flow_scores(pid, "tre_log")


# --- SQLite only ---


class Statements:
    """The SQL the storage's engines send while in use (a context manager)."""

    def __init__(self, store: SqlStorage) -> None:
        self.store = store
        self.seen: list[str] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)

    def __enter__(self) -> list[str]:
        for engine in self.store.sync_engines:
            event.listen(engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *_exc: object) -> None:
        for engine in self.store.sync_engines:
            event.remove(engine, "before_cursor_execute", self._record)


async def test_a_batch_writes_the_steps_whose_rows_are_pending_and_nothing_of_the_others(
    sqlite_store: SqlStorage,
) -> None:
    anna = await participant(sqlite_store, "P-001")
    bo = await participant(sqlite_store, "P-002")
    carl = await participant(sqlite_store, "P-003")
    a = (await planned(sqlite_store, anna, event_at("module:2", 0)))["module:2"]
    b = (await planned(sqlite_store, bo, event_at("module:2", 0)))["module:2"]
    c = (await planned(sqlite_store, carl, event_at("module:2", 0)))["module:2"]
    await finish(sqlite_store, carl, c, SENT, 0)  # carl's row was handled before (a crash after its commit)
    before = await snapshot(sqlite_store, carl)

    def handled(pid: int, rev: int, row: ScheduleRow, text: str) -> StepRecord:
        return the_works(pid, rev, ScheduleOutcome(row.id, SENT), outbox=[message(text)])

    with Statements(sqlite_store) as seen:
        results = await asyncio.gather(
            sqlite_store.commit_step(handled(anna, 0, a, "anna")),
            sqlite_store.commit_step(handled(anna, 0, a, "anna again")),
            sqlite_store.commit_step(handled(carl, 1, c, "carl again")),
            sqlite_store.commit_step(handled(bo, 0, b, "bo")),
        )
    assert seen.count("BEGIN IMMEDIATE") == 1  # one transaction for the four steps
    assert [(r.status, r.revision) for r in results] == [
        (CommitStatus.COMMITTED, 1),
        (CommitStatus.DUPLICATE, 1),
        (CommitStatus.DUPLICATE, 1),
        (CommitStatus.COMMITTED, 1),
    ]
    assert [row.payload["text"] for row in await sqlite_store.pending_outbox("sms")] == ["anna", "bo"]
    assert await snapshot(sqlite_store, carl) == before
    assert [(r.key, r.status) for r in await sqlite_store.schedule_of(anna)] == [("module:2", SENT),
                                                                                 ("module:3", PENDING)]
    assert [(r.key, r.status) for r in await sqlite_store.schedule_of(bo)] == [("module:2", SENT),
                                                                               ("module:3", PENDING)]
    assert [t.participant_id for t in await sqlite_store.coach_tasks()] == [anna, bo]


async def test_a_batch_applies_each_steps_schedule_changes_after_those_of_the_step_before(
    sqlite_store: SqlStorage,
) -> None:
    """One participant's steps in one batch are planned against what the earlier ones leave, and written in that
    order, so the batch commits as it is (a wrong plan would fail a guarded write and split the batch)."""
    pid = await participant(sqlite_store)
    rows = await planned(sqlite_store, pid, event_at("exercise:1", 10, "exercise"), event_at("retry", 30, "nudge"))
    await sqlite_store.commit_step(step(pid, 0, cancel_schedule_kinds=["exercise"]))
    exercise, retry = rows["exercise:1"], rows["retry"]
    with Statements(sqlite_store) as seen:
        results = await asyncio.gather(
            sqlite_store.commit_step(step(pid, 1, schedule=[event_at("exercise:1", 20, "exercise")])),  # re-planned
            sqlite_store.commit_step(step(pid, 2, schedule_outcome=ScheduleOutcome(exercise.id, SENT))),  # then sent
            sqlite_store.commit_step(step(pid, 3, schedule_outcome=ScheduleOutcome(retry.id, PENDING, "", at(90)))),
            sqlite_store.commit_step(step(pid, 4, cancel_schedule_kinds=["nudge"])),  # cancels the deferred row
            sqlite_store.commit_step(step(pid, 5, schedule_outcome=ScheduleOutcome(retry.id, SENT))),  # too late
        )
    assert seen.count("BEGIN IMMEDIATE") == 1
    assert [r.status for r in results] == [CommitStatus.COMMITTED] * 4 + [CommitStatus.DUPLICATE]
    after = await rows_by_key(sqlite_store, pid)
    assert (after["exercise:1"].status, after["exercise:1"].due_at) == (SENT, at(20))
    assert (after["retry"].status, after["retry"].due_at) == (CANCELLED, at(90))


async def test_claims_and_plans_go_through_the_writer(sqlite_store: SqlStorage) -> None:
    pid = await participant(sqlite_store)
    with Statements(sqlite_store) as seen:
        await asyncio.gather(
            sqlite_store.add_schedule([(pid, event_at("a", 0))], T0),
            sqlite_store.add_schedule([(pid, event_at("b", 0))], T0),
            sqlite_store.commit_step(step(pid, 0, tasks=[CoachTaskRecord("t", {}, T0)])),
        )
        claims = await asyncio.gather(*(sqlite_store.claim_schedule(at(1), 1, at(5)) for _ in range(3)))
    assert seen.count("BEGIN IMMEDIATE") == 2
    assert sorted(row.key for claim in claims for row in claim) == ["a", "b"]


async def test_planning_a_cohort_is_one_statement_and_counts_what_changed(sqlite_store: SqlStorage) -> None:
    pids = [await participant(sqlite_store, f"P-{i:04d}") for i in range(200)]
    entries = [(pid, event_at(f"module:{k}", k * 60 * 24 * 7)) for pid in pids for k in range(15)]
    with Statements(sqlite_store) as seen:
        assert await sqlite_store.add_schedule(entries, T0) == 3000
    assert len([s for s in seen if s.startswith("INSERT INTO schedule")]) == 1
    first = await sqlite_store.schedule_of(pids[0])
    await finish(sqlite_store, pids[0], first[0], SENT, 0)
    assert await sqlite_store.add_schedule(entries[:15], at(1)) == 14  # the sent one is left alone


async def test_claims_and_the_coach_desk_use_their_indexes(sqlite_store: SqlStorage) -> None:
    pid = await participant(sqlite_store)
    await planned(sqlite_store, pid, event_at("a", 0))
    await sqlite_store.commit_step(
        step(pid, 0, tasks=[CoachTaskRecord("t", {}, T0)], marks=[MarkRecord("m", "", {}, T0)])
    )
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith(("SELECT", "UPDATE")):
            raw = conn.connection.dbapi_connection
            plans.append(" | ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)))

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "before_cursor_execute", explain)
    try:
        await sqlite_store.claim_schedule(at(1), 10, at(5))
        await sqlite_store.schedule_of(pid)
        await sqlite_store.coach_tasks()
        await sqlite_store.coach_tasks(participant_id=pid)
        await sqlite_store.marks(pid)
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "before_cursor_execute", explain)
    assert len(plans) == 5, plans
    assert "ix_schedule_pending_due_at" in plans[0] and "TEMP B-TREE" not in plans[0], plans[0]
    assert "SEARCH schedule USING INDEX sqlite_autoindex_schedule_1 (participant_id=?)" in plans[1], plans[1]
    assert plans[2] == "SCAN coach_tasks USING INDEX ix_coach_tasks_open", plans[2]  # the open tasks only, in order
    assert "SEARCH coach_tasks USING INDEX" in plans[3], plans[3]
    assert "SCAN" not in plans[4] and "ix_programme_marks_participant_id" in plans[4], plans[4]


async def test_the_database_keeps_schedule_keys_unique_and_statuses_known(sqlite_store: SqlStorage) -> None:
    pid = await participant(sqlite_store)
    await planned(sqlite_store, pid, event_at("module:1", 0))
    stamp = "'2025-03-03T08:00:00.000000+00:00'"
    columns = "(participant_id, key, kind, due_at, data, status, created_at)"
    refused = [
        f"INSERT INTO schedule {columns} VALUES ({pid}, 'module:1', 'module', {stamp}, '{{}}', 'pending', {stamp})",
        f"INSERT INTO schedule {columns} VALUES ({pid}, 'module:2', 'module', {stamp}, '{{}}', 'done', {stamp})",
        f"INSERT INTO schedule {columns} VALUES (999, 'module:2', 'module', {stamp}, '{{}}', 'pending', {stamp})",
        f"INSERT INTO coach_tasks (participant_id, kind, detail, created_at) VALUES (999, 't', '{{}}', {stamp})",
        f"INSERT INTO programme_marks (participant_id, kind, key, detail, at) VALUES (999, 'm', '', '{{}}', {stamp})",
    ]
    async with sqlite_store.engine.connect() as conn:
        for statement in refused:
            with pytest.raises(IntegrityError):
                await conn.execute(text(statement))
            await conn.rollback()


def normalised_schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    conn.close()
    return {(kind, name, " ".join(sql.replace("(", " ( ").replace(")", " ) ").split())) for kind, name, sql in rows}


def version_3_database(path: Path) -> None:
    """A database as migrations 1 to 3 left it, with a participant, a conversation, an outbox row and a score."""
    stamp = "'2025-01-01T00:00:00.000000+00:00'"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V3.read_text())
        for version in (1, 2, 3):
            conn.execute(f"INSERT INTO schema_migrations VALUES ({version}, 'migration {version}', {stamp})")
        conn.execute(f"INSERT INTO participants VALUES (1, 'P-OLD', 'da', {stamp})")
        conn.execute(f"INSERT INTO conversations VALUES (1, '{{\"at\":\"q3\"}}', 4, {stamp})")
        conn.execute(
            f"INSERT INTO outbox (id, participant_id, channel, payload, created_at, attempts) "
            f"VALUES (1, 1, 'sms', '{{\"text\":\"unsent\"}}', {stamp}, 0)"
        )
        conn.execute(f"INSERT INTO scores VALUES (1, 1, 1, 'tre_log', 1, 'minutes', 20.0, NULL, {stamp})")
    conn.close()


def test_schema_v3_sql_is_version_2_plus_migration_3(tmp_path: Path) -> None:
    """schema_v3.sql is what it claims: schema_v2.sql migrated by the frozen migration 3."""
    v2 = tmp_path / "v2.sqlite"
    with sqlite3.connect(v2) as conn:
        conn.executescript(SCHEMA_V2.read_text())
    conn.close()
    engine = create_engine(f"sqlite:///{v2}")
    try:
        with engine.begin() as sync:
            MIGRATIONS[2].apply(sync)
    finally:
        engine.dispose()
    v3 = tmp_path / "v3.sqlite"
    version_3_database(v3)
    assert normalised_schema(v2) == normalised_schema(v3)


async def test_migration_4_brings_a_version_3_database_to_the_current_schema(tmp_path: Path) -> None:
    old = tmp_path / "v3.sqlite"
    version_3_database(old)
    assert "schedule" not in {name for _, name, _ in normalised_schema(old)}
    store = SqlStorage(old)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current) == head()  # the numbered migrations, then Alembic's revisions
        # Old rows are untouched...
        conversation = await store.load_conversation(1)
        assert (conversation.state, conversation.revision) == ({"at": "q3"}, 4)
        assert [row.payload for row in await store.pending_outbox("sms")] == [{"text": "unsent"}]
        assert [s.value for s in await store.flow_scores(1, "tre_log")] == [20.0]
        # ...and work with the new tables.
        assert await store.add_schedule([(1, event_at("module:1", 0))], T0) == 1
        (row,) = await store.claim_schedule(at(1), 10, at(5))
        result = await store.commit_step(
            the_works(1, 4, ScheduleOutcome(row.id, SENT)),
        )
        assert (result.status, result.revision, result.outbox_ids) == (CommitStatus.COMMITTED, 5, (2,))
        assert [t.kind for t in await store.coach_tasks()] == ["consider_referral"]
        assert [m.kind for m in await store.marks()] == ["module_done"]
    finally:
        await store.close()

    fresh = tmp_path / "fresh.sqlite"
    new = await open_storage(fresh)
    await new.close()
    assert normalised_schema(old) == normalised_schema(fresh)


async def test_after_a_bulk_plan_the_schedule_is_as_planned_and_claims_go_on(store: SqlStorage) -> None:
    """`after_bulk_plan` refreshes PostgreSQL's statistics (ANALYZE) and does nothing on SQLite: no row changes."""
    pids = [await participant(store, f"P-{i:03d}") for i in range(3)]
    await store.add_schedule([(pid, event_at(f"k{n}", n)) for pid in pids for n in range(4)], T0)
    before = [await store.schedule_of(pid) for pid in pids]
    await store.after_bulk_plan()
    assert [await store.schedule_of(pid) for pid in pids] == before
    assert len(await store.claim_schedule(at(10), 3, at(10) + LEASE)) == 3
