"""The storage contract: every test runs against SQLite (a real file) and the in-memory implementation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from storage import (
    AnswerRecord,
    AuditRecord,
    CommitStatus,
    InboundRecord,
    OutboundRecord,
    RetractedAnswer,
    ScheduledRecord,
    ScoreRecord,
    SqlStorage,
    StepRecord,
    UnknownParticipantError,
)

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def answer(item: str, value: Any, minute: float = 0, run: int = 1, raw: str | None = None) -> AnswerRecord:
    return AnswerRecord(
        run_seq=run,
        flow_id="pss10",
        flow_version=2,
        item_id=item,
        value=value,
        raw_text=str(value) if raw is None else raw,
        answered_at=at(minute),
    )


def step(pid: int, rev: int, state: dict[str, Any] | None = None, **kw: Any) -> StepRecord:
    return StepRecord(participant_id=pid, expected_revision=rev, state=state or {"rev": rev}, at=kw.pop("at", T0), **kw)


def expiry(key: str, due_at: datetime) -> ScheduledRecord:
    """A questionnaire's expiry timer as the shell plans it (bot/timers.py)."""
    return ScheduledRecord(f"timer:{key}", "run_expiry", due_at, {"key": key})


def inbound(mid: str, channel: str = "sms") -> InboundRecord:
    return InboundRecord(channel=channel, channel_message_id=mid, received_at=T0)


async def new_participant(store: SqlStorage, ref: str = "P-001") -> int:
    return (await store.get_or_create_participant(ref, "da", T0)).id


async def snapshot(store: SqlStorage, pid: int) -> tuple[Any, ...]:
    """Everything observable about one participant, to prove that a refused step wrote nothing."""
    return (
        await store.load_conversation(pid),
        await store.export_answers(),
        await store.export_scores(),
        await store.pending_outbox("sms"),
        await store.schedule_of(pid),
        await store.audit_entries(),
    )


async def test_participant_created_once_and_found_again(store: SqlStorage) -> None:
    first = await store.get_or_create_participant("P-001", "da", T0)
    again = await store.get_or_create_participant("P-001", "en", at(5))
    other = await store.get_or_create_participant("P-002", "en", T0)
    assert again == first
    assert first.lang == "da" and first.created_at == T0 and first.created_at.tzinfo is not None
    assert other.id != first.id


async def test_get_or_create_participant_is_race_safe(store: SqlStorage) -> None:
    results = await asyncio.gather(*(store.get_or_create_participant("P-RACE", "da", T0) for _ in range(50)))
    assert len({p.id for p in results}) == 1


async def test_nothing_saved_means_revision_zero(store: SqlStorage) -> None:
    pid = await new_participant(store)
    conv = await store.load_conversation(pid)
    assert (conv.participant_id, conv.state, conv.revision) == (pid, None, 0)


async def test_commit_saves_state_and_bumps_revision(store: SqlStorage) -> None:
    pid = await new_participant(store)
    state = {"flow": "pss10", "cursor": ["q1", 2], "note": "æøå ✓", "nested": {"x": 1.5, "y": None}}
    first = await store.commit_step(step(pid, 0, state))
    assert (first.status, first.revision, first.outbox_ids) == (CommitStatus.COMMITTED, 1, ())
    second = await store.commit_step(step(pid, 1, {"n": 2}))
    assert (second.status, second.revision) == (CommitStatus.COMMITTED, 2)
    conv = await store.load_conversation(pid)
    assert conv.revision == 2 and conv.state == {"n": 2}
    await store.commit_step(step(pid, 2, state))
    assert (await store.load_conversation(pid)).state == state


async def test_stored_state_is_a_copy(store: SqlStorage) -> None:
    pid = await new_participant(store)
    state: dict[str, Any] = {"items": [1]}
    await store.commit_step(step(pid, 0, state))
    state["items"].append(2)
    assert (await store.load_conversation(pid)).state == {"items": [1]}


async def test_duplicate_inbound_writes_nothing(store: SqlStorage) -> None:
    pid = await new_participant(store)
    full = dict(
        inbound=inbound("SM1"),
        answers=[answer("q1", 3)],
        scores=[ScoreRecord(1, "pss10", 2, "total", 3.0, "low", T0)],
        outbox=[OutboundRecord("sms", {"text": "Tak"}, T0)],
        schedule=[expiry("expire:1", at(60))],
        audit=[AuditRecord("system", "answer.recorded", "participant:P-001", T0)],
    )
    assert (await store.commit_step(step(pid, 0, {"v": 1}, **full))).status is CommitStatus.COMMITTED
    before = await snapshot(store, pid)
    retry = step(pid, 1, {"v": 2}, lang="en", cancel_schedule_keys=["timer:expire:1"], **full)
    result = await store.commit_step(retry)
    assert (result.status, result.revision, result.outbox_ids) == (CommitStatus.DUPLICATE, 1, ())
    assert await snapshot(store, pid) == before
    assert (await store.get_or_create_participant("P-001", "da", T0)).lang == "da"


async def test_in_one_batch_each_message_seen_before_is_a_duplicate_and_each_new_one_is_written(
        store: SqlStorage) -> None:
    people = [await new_participant(store, f"P-{i:03}") for i in range(6)]
    for pid in people[:3]:
        await store.commit_step(step(pid, 0, inbound=inbound(f"SM{pid}")))
    # every person's next message in one batch: the first three repeat theirs (a provider's retry), the others are new
    results = await asyncio.gather(*(store.commit_step(step(pid, 1 if pid in people[:3] else 0,
                                                            inbound=inbound(f"SM{pid}"))) for pid in people))
    assert [r.status for r in results] == [CommitStatus.DUPLICATE] * 3 + [CommitStatus.COMMITTED] * 3
    assert [(await store.load_conversation(pid)).revision for pid in people] == [1] * 6


async def test_same_message_id_on_another_channel_is_not_a_duplicate(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0, inbound=inbound("42", "sms")))
    result = await store.commit_step(step(pid, 1, inbound=inbound("42", "telegram")))
    assert result.status is CommitStatus.COMMITTED


async def test_conflict_writes_nothing_not_even_the_inbox_row(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0))
    await store.commit_step(step(pid, 1))
    before = await snapshot(store, pid)
    stale = step(
        pid,
        1,
        {"stale": True},
        inbound=inbound("SM9"),
        answers=[answer("q1", 1)],
        outbox=[OutboundRecord("sms", {"text": "x"}, T0)],
        schedule=[expiry("expire:1", T0)],
        audit=[AuditRecord("system", "a", "s", T0)],
    )
    result = await store.commit_step(stale)
    assert (result.status, result.revision) == (CommitStatus.CONFLICT, 2)
    assert await snapshot(store, pid) == before
    # The inbound message was not recorded, so recomputing the step from revision 2 goes through.
    redo = await store.commit_step(step(pid, 2, inbound=inbound("SM9")))
    assert (redo.status, redo.revision) == (CommitStatus.COMMITTED, 3)


async def test_expecting_a_revision_that_never_existed_conflicts(store: SqlStorage) -> None:
    pid = await new_participant(store)
    result = await store.commit_step(step(pid, 5))
    assert (result.status, result.revision) == (CommitStatus.CONFLICT, 0)
    assert (await store.load_conversation(pid)).state is None


async def test_unknown_participant_is_refused(store: SqlStorage) -> None:
    with pytest.raises(UnknownParticipantError):
        await store.commit_step(step(999, 0))


async def test_bad_step_data_is_refused_and_writes_nothing(store: SqlStorage) -> None:
    pid = await new_participant(store)
    before = await snapshot(store, pid)
    naive = datetime(2025, 3, 3, 8, 0)
    with pytest.raises(ValueError, match="naive"):
        await store.commit_step(step(pid, 0, at=naive))
    with pytest.raises(ValueError, match="naive"):
        await store.commit_step(step(pid, 0, answers=[answer("q1", 1)], schedule=[expiry("expire:1", naive)]))
    with pytest.raises(TypeError):
        await store.commit_step(step(pid, 0, {"when": T0}))
    with pytest.raises(ValueError):
        await store.commit_step(step(pid, 0, answers=[answer("q1", float("nan"))]))
    assert await snapshot(store, pid) == before


async def test_answer_values_round_trip_with_their_types(store: SqlStorage) -> None:
    pid = await new_participant(store)
    values = {"int": 3, "zero": 0, "neg": -2, "float": 2.5, "tiny": 1e-9, "text": "Ja, tak 🙂", "empty": ""}
    answers = [answer(item, value, minute=i) for i, (item, value) in enumerate(values.items())]
    await store.commit_step(step(pid, 0, answers=answers))
    exported = {row["item_id"]: row["value"] for row in await store.export_answers()}
    assert exported == values
    assert all(type(exported[k]) is type(v) for k, v in values.items())


async def test_newer_answer_supersedes_older_in_export(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0, answers=[answer("q1", 1, 0), answer("q2", 2, 1)]))
    await store.commit_step(step(pid, 1, answers=[answer("q1", 4, 2, raw="fire")]))
    # Same step answering the same item twice: the later one wins.
    await store.commit_step(step(pid, 2, answers=[answer("q3", 0, 3), answer("q3", 1, 4)]))
    # Another run keeps its own answer to q1.
    await store.commit_step(step(pid, 3, answers=[answer("q1", 2, 5, run=2)]))
    rows = await store.export_answers()
    assert [(r["run_seq"], r["item_id"], r["value"]) for r in rows] == [
        (1, "q2", 2),
        (1, "q1", 4),
        (1, "q3", 1),
        (2, "q1", 2),
    ]
    assert rows[1] == {
        "participant": "P-001",
        "flow_id": "pss10",
        "flow_version": 2,
        "run_seq": 1,
        "item_id": "q1",
        "value": 4,
        "raw_text": "fire",
        "answered_at": "2025-03-03T08:02:00.000000+00:00",
    }


async def test_a_retracted_answer_leaves_the_export(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0, answers=[answer("q1", 1, 0), answer("q2a", 7, 1)]))
    await store.commit_step(step(pid, 1, retracted=[RetractedAnswer(1, "q2a")]))
    # answered and taken back within one step, and an item never answered: both harmless
    await store.commit_step(step(pid, 2, answers=[answer("q3", 2, 2)],
                                 retracted=[RetractedAnswer(1, "q3"), RetractedAnswer(1, "nope")]))
    await store.commit_step(step(pid, 3, answers=[answer("q2b", 5, 3)]))
    rows = await store.export_answers()
    assert [(r["item_id"], r["value"]) for r in rows] == [("q1", 1), ("q2b", 5)]


async def test_export_orders_by_participant_run_and_time(store: SqlStorage) -> None:
    b = await new_participant(store, "B")
    a = await new_participant(store, "A")
    await store.commit_step(step(b, 0, answers=[answer("q1", 1, 10)]))
    await store.commit_step(step(a, 0, answers=[answer("q2", 1, 9, run=2), answer("q1", 1, 20, run=1)]))
    await store.commit_step(step(a, 1, answers=[answer("q3", 1, 5, run=1)]))
    rows = await store.export_answers()
    assert [(r["participant"], r["run_seq"], r["item_id"]) for r in rows] == [
        ("A", 1, "q3"),
        ("A", 1, "q1"),
        ("A", 2, "q2"),
        ("B", 1, "q1"),
    ]


async def test_export_scores(store: SqlStorage) -> None:
    pid = await new_participant(store)
    est = timezone(timedelta(hours=1))
    scores = [
        ScoreRecord(1, "pss10", 2, "total", 23.0, "high", T0.astimezone(est)),
        ScoreRecord(1, "pss10", 2, "subscale", 7.5, None, T0),
    ]
    await store.commit_step(step(pid, 0, scores=scores))
    assert await store.export_scores() == [
        {
            "participant": "P-001",
            "flow_id": "pss10",
            "flow_version": 2,
            "run_seq": 1,
            "score_id": "total",
            "value": 23.0,
            "band": "high",
            "completed_at": "2025-03-03T08:00:00.000000+00:00",
        },
        {
            "participant": "P-001",
            "flow_id": "pss10",
            "flow_version": 2,
            "run_seq": 1,
            "score_id": "subscale",
            "value": 7.5,
            "band": None,
            "completed_at": "2025-03-03T08:00:00.000000+00:00",
        },
    ]


async def test_outbox_oldest_first_per_channel_and_mark_sent(store: SqlStorage) -> None:
    p1 = await new_participant(store, "P1")
    p2 = await new_participant(store, "P2")
    r1 = await store.commit_step(
        step(
            p1,
            0,
            outbox=[OutboundRecord("sms", {"text": f"m{i}", "choices": [1, 2]}, at(i)) for i in range(3)],
        )
    )
    r2 = await store.commit_step(
        step(
            p2,
            0,
            outbox=[OutboundRecord("telegram", {"text": "t"}, T0), OutboundRecord("sms", {"n": 3}, at(9))],
        )
    )
    assert len(r1.outbox_ids) == 3 and len(r2.outbox_ids) == 2
    pending = await store.pending_outbox("sms")
    assert [row.id for row in pending] == [*r1.outbox_ids, r2.outbox_ids[1]]
    assert [row.payload for row in pending] == [
        {"text": "m0", "choices": [1, 2]},
        {"text": "m1", "choices": [1, 2]},
        {"text": "m2", "choices": [1, 2]},
        {"n": 3},
    ]
    assert pending[0].participant_id == p1 and pending[0].channel == "sms" and pending[0].created_at == T0
    assert [row.id for row in await store.pending_outbox("sms", limit=2)] == list(r1.outbox_ids[:2])
    assert [row.id for row in await store.pending_outbox("telegram")] == [r2.outbox_ids[0]]

    await store.mark_sent(r1.outbox_ids[1], at(30))
    await store.mark_sent(r1.outbox_ids[1], at(31))  # idempotent
    await store.mark_sent(10_000, at(30))  # unknown id: nothing to do
    assert [row.id for row in await store.pending_outbox("sms")] == [
        r1.outbox_ids[0],
        r1.outbox_ids[2],
        r2.outbox_ids[1],
    ]


async def test_a_participant_is_found_by_id_whether_enrolled_or_not(store: SqlStorage) -> None:
    pid = await new_participant(store)
    assert await store.participant(pid) == await store.get_or_create_participant("P-001", "da", T0)
    assert await store.participant(pid + 1000) is None


async def test_step_can_change_language(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0, lang="en"))
    assert (await store.get_or_create_participant("P-001", "da", T0)).lang == "en"


async def test_flow_versions_are_remembered(store: SqlStorage) -> None:
    assert await store.flow_version_source("pss10", 1) is None
    assert await store.remember_flow_version("pss10", 1, "id: pss10\nversion: 1\n", T0) is None
    assert await store.remember_flow_version("pss10", 1, "id: pss10\nversion: 1\n", at(1)) == (
        "id: pss10\nversion: 1\n"
    )
    # An edited file under the same version: the first text is kept and handed back for comparison.
    assert await store.remember_flow_version("pss10", 1, "edited", at(2)) == "id: pss10\nversion: 1\n"
    assert await store.remember_flow_version("pss10", 2, "v2", at(3)) is None
    assert await store.flow_version_source("pss10", 1) == "id: pss10\nversion: 1\n"
    assert await store.flow_version_source("pss10", 2) == "v2"


async def test_audit_entries_newest_first(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.record_audit(AuditRecord("admin:ida", "export.answers", "all", at(1), {"rows": 3}))
    await store.commit_step(
        step(pid, 0, audit=[AuditRecord("participant:P-001", "run.completed", "participant:P-001", at(2))])
    )
    await store.record_audit(AuditRecord("system", "flow.loaded", "flow:pss10", at(0)))
    entries = await store.audit_entries()
    assert [e.action for e in entries] == ["run.completed", "export.answers", "flow.loaded"]
    assert entries[1] == AuditRecord("admin:ida", "export.answers", "all", at(1), {"rows": 3})
    assert entries[0].detail == {}
    assert [e.action for e in await store.audit_entries(limit=1)] == ["run.completed"]


async def test_outbox_ids_follow_step_order_within_concurrent_commits(store: SqlStorage) -> None:
    pids = [await new_participant(store, f"P{i:03d}") for i in range(50)]
    results = await asyncio.gather(
        *(
            store.commit_step(step(pid, 0, outbox=[OutboundRecord("sms", {"p": pid, "k": k}, T0) for k in range(3)]))
            for pid in pids
        )
    )
    by_id = {row.id: row for row in await store.pending_outbox("sms", limit=1000)}
    for pid, result in zip(pids, results, strict=True):
        assert [by_id[i].payload for i in result.outbox_ids] == [{"p": pid, "k": k} for k in range(3)]


async def test_concurrent_commits_all_land_with_the_right_revisions(store: SqlStorage) -> None:
    pids = [await new_participant(store, f"P{i:03d}") for i in range(40)]

    async def converse(pid: int, turns: int) -> list[int]:
        revisions = []
        for turn in range(turns):
            current = await store.load_conversation(pid)
            result = await store.commit_step(
                step(
                    pid,
                    current.revision,
                    {"turn": turn},
                    inbound=inbound(f"{pid}-{turn}"),
                    answers=[answer(f"q{turn}", turn)],
                )
            )
            assert result.status is CommitStatus.COMMITTED
            revisions.append(result.revision)
        return revisions

    # 40 participants x 5 turns = 200 steps, all in flight together.
    outcomes = await asyncio.gather(*(converse(pid, 5) for pid in pids))
    assert outcomes == [[1, 2, 3, 4, 5]] * len(pids)
    for pid in pids:
        conv = await store.load_conversation(pid)
        assert (conv.revision, conv.state) == (5, {"turn": 4})
    assert len(await store.export_answers()) == 200


async def test_racing_steps_on_one_conversation_exactly_one_wins(store: SqlStorage) -> None:
    pid = await new_participant(store)
    results = await asyncio.gather(*(store.commit_step(step(pid, 0, {"winner": i})) for i in range(200)))
    statuses = [r.status for r in results]
    assert statuses.count(CommitStatus.COMMITTED) == 1
    assert statuses.count(CommitStatus.CONFLICT) == 199
    assert {r.revision for r in results} == {1}
    winner = statuses.index(CommitStatus.COMMITTED)
    assert (await store.load_conversation(pid)).state == {"winner": winner}


async def test_racing_retries_of_one_message_commit_once(store: SqlStorage) -> None:
    pid = await new_participant(store)
    results = await asyncio.gather(
        *(store.commit_step(step(pid, 0, inbound=inbound("SM1"), answers=[answer("q1", i)])) for i in range(20))
    )
    statuses = [r.status for r in results]
    assert statuses.count(CommitStatus.COMMITTED) == 1
    assert statuses.count(CommitStatus.DUPLICATE) == 19
    assert len(await store.export_answers()) == 1


async def test_close_refuses_further_writes(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.commit_step(step(pid, 0))
