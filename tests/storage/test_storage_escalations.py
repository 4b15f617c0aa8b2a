"""Escalations (the suicide-risk safety path) in storage.

The contract tests run against every `Storage` (SQLite with each runner on a real file); the
tests at the end are SQLite-only: files, migrations, indexes and transactions.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from storage import (
    AnswerRecord,
    AuditRecord,
    CommitStatus,
    Escalation,
    EscalationRecord,
    EscalationStatus,
    EscalationTrigger,
    InboundRecord,
    NotificationStatus,
    OutboundRecord,
    ScoreRecord,
    SqlStorage,
    StepRecord,
    UnknownEscalationError,
    UnknownNotificationError,
    open_storage,
)
from storage.upgrade import current, head

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
SCHEMA_V1 = Path(__file__).with_name("schema_v1.sql")
VERBATIM = "jeg vil tage mit eget liv"  # must reach escalation_triggers, never the audit log


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def signal(
    level: str, minute: float = 0, deadline: float = 15, kind: str = "text", words: str = VERBATIM
) -> EscalationRecord:
    trigger: dict[str, Any] = {"matched": "tage mit eget liv", "text": words}
    if kind == "item":
        trigger = {"flow_id": "phq9", "flow_version": 1, "item_id": "q9", "answer": 2, "raw_text": words}
    return EscalationRecord(level=level, trigger_kind=kind, trigger=trigger, at=at(minute), deadline_at=at(deadline))


def step(pid: int, rev: int, *signals: EscalationRecord, **kw: Any) -> StepRecord:
    return StepRecord(
        participant_id=pid, expected_revision=rev, state={"rev": rev}, at=kw.pop("at", T0), escalations=signals, **kw
    )


def inbound(mid: str) -> InboundRecord:
    return InboundRecord(channel="sms", channel_message_id=mid, received_at=T0)


async def new_participant(store: SqlStorage, ref: str = "P-001") -> int:
    return (await store.get_or_create_participant(ref, "da", T0)).id


async def opened(store: SqlStorage, ref: str, record: EscalationRecord) -> int:
    """A new participant whose first step raises `record`; returns the escalation id."""
    pid = await new_participant(store, ref)
    result = await store.commit_step(step(pid, 0, record))
    assert result.status is CommitStatus.COMMITTED and len(result.escalation_ids) == 1
    return result.escalation_ids[0]


async def get(store: SqlStorage, escalation_id: int) -> Escalation:
    found = await store.escalation(escalation_id)
    assert found is not None
    return found


async def actions(store: SqlStorage) -> list[str]:
    """Audit actions, oldest first."""
    return [e.action for e in reversed(await store.audit_entries())]


async def snapshot(store: SqlStorage, pid: int) -> tuple[Any, ...]:
    return (
        await store.load_conversation(pid),
        await store.escalations(),
        await store.notifications(),
        await store.audit_entries(),
        await store.export_answers(),
    )


# --- opening an escalation with a step ---


async def test_a_signal_opens_an_escalation_in_the_step(store: SqlStorage) -> None:
    pid = await new_participant(store)
    record = signal("moderate", minute=1, deadline=121, kind="item", words="Flere dage æøå")
    result = await store.commit_step(
        step(pid, 0, record, inbound=inbound("SM1"), outbox=[OutboundRecord("sms", {"text": "112"}, T0)])
    )
    assert (result.status, result.revision, len(result.outbox_ids)) == (CommitStatus.COMMITTED, 1, 1)
    (escalation_id,) = result.escalation_ids
    escalation = await get(store, escalation_id)
    assert escalation == Escalation(
        id=escalation_id,
        participant_id=pid,
        participant_ref="P-001",
        level="moderate",
        status=EscalationStatus.OPEN,
        opened_at=at(1),
        deadline_at=at(121),
        tier=0,
        triggers=(EscalationTrigger("moderate", "item", dict(record.trigger), at(1)),),
    )
    assert escalation.opened_at.tzinfo is not None and escalation.deadline_at is not None
    assert escalation.triggers[0].trigger["raw_text"] == "Flere dage æøå"
    assert await store.escalations() == [escalation] == await store.escalations(only_open=True)
    [entry] = await store.audit_entries()
    assert entry == AuditRecord(
        "system",
        "escalation.opened",
        "participant:P-001",
        at(1),
        {"escalation_id": escalation_id, "level": "moderate", "trigger_kind": "item"},
    )


async def test_a_duplicate_inbound_stores_no_escalation(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0, inbound=inbound("SM1")))
    before = await snapshot(store, pid)
    retry = await store.commit_step(step(pid, 1, signal("high"), inbound=inbound("SM1")))
    assert (retry.status, retry.escalation_ids) == (CommitStatus.DUPLICATE, ())
    assert await snapshot(store, pid) == before
    assert await store.escalations() == []


async def test_the_same_risky_message_twice_makes_one_escalation_with_one_trigger(store: SqlStorage) -> None:
    pid = await new_participant(store)
    first = await store.commit_step(step(pid, 0, signal("high"), inbound=inbound("SM1")))
    again = await store.commit_step(step(pid, 1, signal("high"), inbound=inbound("SM1")))
    assert first.status is CommitStatus.COMMITTED and again.status is CommitStatus.DUPLICATE
    [escalation] = await store.escalations()
    assert escalation.id == first.escalation_ids[0] and len(escalation.triggers) == 1
    assert await actions(store) == ["escalation.opened"]


async def test_a_conflict_stores_no_escalation(store: SqlStorage) -> None:
    pid = await new_participant(store)
    await store.commit_step(step(pid, 0))
    before = await snapshot(store, pid)
    stale = await store.commit_step(step(pid, 0, signal("high"), inbound=inbound("SM2")))
    assert (stale.status, stale.revision, stale.escalation_ids) == (CommitStatus.CONFLICT, 1, ())
    assert await snapshot(store, pid) == before
    redo = await store.commit_step(step(pid, 1, signal("high"), inbound=inbound("SM2")))
    assert redo.status is CommitStatus.COMMITTED and len(redo.escalation_ids) == 1


async def test_bad_signals_are_refused_and_write_nothing(store: SqlStorage) -> None:
    pid = await new_participant(store)
    before = await snapshot(store, pid)
    with pytest.raises(ValueError, match="risk level"):
        await store.commit_step(step(pid, 0, signal("severe")))
    naive = EscalationRecord("high", "text", {"matched": "x"}, datetime(2025, 3, 3, 8, 0), at(15))
    with pytest.raises(ValueError, match="naive"):
        await store.commit_step(step(pid, 0, naive))
    with pytest.raises(TypeError):
        await store.commit_step(step(pid, 0, EscalationRecord("high", "text", {"when": T0}, T0, at(15))))
    with pytest.raises(ValueError, match="trigger_kind"):
        await store.commit_step(step(pid, 0, EscalationRecord("high", "", {}, T0, at(15))))
    assert await snapshot(store, pid) == before


# --- further signals while one is not closed ---


async def test_further_signals_while_open_join_it_raise_the_level_and_keep_the_earlier_deadline(
        store: SqlStorage) -> None:
    pid = await new_participant(store)
    first = await store.commit_step(step(pid, 0, signal("low", 0, deadline=240)))
    # Higher level with a later deadline: the level rises, the earlier deadline stays.
    second = await store.commit_step(step(pid, 1, signal("moderate", 10, deadline=300, kind="item")))
    escalation = await get(store, first.escalation_ids[0])
    assert (escalation.level, escalation.deadline_at, escalation.status) == ("moderate", at(240), EscalationStatus.OPEN)
    # Higher level with an earlier deadline: the deadline moves forward.
    third = await store.commit_step(step(pid, 2, signal("high", 20, deadline=35)))
    # Same or lower level: only another trigger; level and deadline stay.
    fourth = await store.commit_step(step(pid, 3, signal("high", 30, deadline=45), signal("low", 31, deadline=1)))
    assert first.escalation_ids == second.escalation_ids == third.escalation_ids
    assert fourth.escalation_ids == first.escalation_ids * 2
    [escalation] = await store.escalations()
    assert (escalation.level, escalation.deadline_at, escalation.status, escalation.tier) == (
        "high",
        at(35),
        EscalationStatus.OPEN,
        0,
    )
    assert escalation.opened_at == at(0)
    assert [(t.level, t.trigger_kind, t.at) for t in escalation.triggers] == [
        ("low", "text", at(0)),
        ("moderate", "item", at(10)),
        ("high", "text", at(20)),
        ("high", "text", at(30)),
        ("low", "text", at(31)),
    ]
    assert await actions(store) == [
        "escalation.opened",
        "escalation.raised",
        "escalation.raised",
        "escalation.trigger_added",
        "escalation.trigger_added",
    ]
    raised = (await store.audit_entries())[2]
    assert raised.detail == {
        "escalation_id": escalation.id,
        "level": "high",
        "trigger_kind": "text",
        "previous_level": "moderate",
        "reopened": False,
    }


async def test_a_higher_level_after_acknowledgement_reopens_it_with_the_new_deadline(store: SqlStorage) -> None:
    pid = await new_participant(store)
    result = await store.commit_step(step(pid, 0, signal("moderate", 0, deadline=120)))
    escalation_id = result.escalation_ids[0]
    assert await store.acknowledge_escalation(escalation_id, "anna", at(5))
    assert await store.due_escalations(at(1000)) == []
    raised = await store.commit_step(step(pid, 1, signal("high", 60, deadline=75)))
    assert raised.escalation_ids == (escalation_id,)
    escalation = await get(store, escalation_id)
    assert (escalation.status, escalation.level, escalation.deadline_at) == (EscalationStatus.OPEN, "high", at(75))
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == ("anna", at(5))  # kept for history
    assert len(escalation.triggers) == 2
    assert [e.id for e in await store.due_escalations(at(75))] == [escalation_id]
    entry = (await store.audit_entries())[0]
    assert (entry.action, entry.detail["reopened"], entry.detail["previous_level"]) == (
        "escalation.raised",
        True,
        "moderate",
    )
    # It needs acknowledging again.
    assert await store.acknowledge_escalation(escalation_id, "bob", at(70))
    assert (await get(store, escalation_id)).acknowledged_by == "bob"


async def test_a_lower_or_equal_level_after_acknowledgement_only_adds_a_trigger(store: SqlStorage) -> None:
    pid = await new_participant(store)
    result = await store.commit_step(step(pid, 0, signal("moderate", 0, deadline=120)))
    escalation_id = result.escalation_ids[0]
    assert await store.acknowledge_escalation(escalation_id, "anna", at(5))
    again = await store.commit_step(step(pid, 1, signal("low", 30, deadline=31), signal("moderate", 31, deadline=32)))
    assert again.escalation_ids == (escalation_id, escalation_id)
    escalation = await get(store, escalation_id)
    assert (escalation.status, escalation.level, escalation.deadline_at) == (
        EscalationStatus.ACKNOWLEDGED,
        "moderate",
        None,
    )
    assert len(escalation.triggers) == 3
    assert await store.due_escalations(at(10_000)) == []
    assert (await actions(store))[-2:] == ["escalation.trigger_added", "escalation.trigger_added"]


async def test_a_signal_after_closing_opens_a_new_escalation(store: SqlStorage) -> None:
    pid = await new_participant(store)
    first = (await store.commit_step(step(pid, 0, signal("high")))).escalation_ids[0]
    assert await store.close_escalation(first, "anna", "Talked by phone; safety plan agreed.", at(20))
    second = (await store.commit_step(step(pid, 1, signal("low", 60, deadline=600)))).escalation_ids[0]
    assert second != first
    assert [e.id for e in await store.escalations()] == [second, first]
    assert [e.id for e in await store.escalations(only_open=True)] == [second]
    fresh = await get(store, second)
    assert (fresh.level, fresh.status, fresh.tier, len(fresh.triggers)) == ("low", EscalationStatus.OPEN, 0, 1)
    assert fresh.acknowledged_by is None and fresh.closed_by is None


async def test_signals_of_participants_stay_apart(store: SqlStorage) -> None:
    a = await opened(store, "A", signal("low"))
    b = await opened(store, "B", signal("high"))
    assert a != b
    assert [(e.participant_ref, e.level) for e in await store.escalations()] == [("B", "high"), ("A", "low")]


async def test_concurrent_steps_with_signals_each_land_once(store: SqlStorage) -> None:
    """Queued together (one group commit for SQLite): many participants, and one participant's two turns."""
    pids = [await new_participant(store, f"P{i:03d}") for i in range(30)]
    one = pids[0]
    results = await asyncio.gather(
        *(store.commit_step(step(pid, 0, signal("low", deadline=600), inbound=inbound(f"SM{pid}"))) for pid in pids),
        store.commit_step(step(one, 1, signal("high", 1, deadline=16))),
    )
    assert all(r.status is CommitStatus.COMMITTED for r in results)
    assert results[0].escalation_ids == results[-1].escalation_ids
    assert len({r.escalation_ids for r in results[:-1]}) == 30
    escalations = await store.escalations()
    assert len(escalations) == 30
    joined = await get(store, results[0].escalation_ids[0])
    assert (joined.level, joined.deadline_at, len(joined.triggers)) == ("high", at(16), 2)


# --- due deadlines, re-escalation, acknowledgement, closing ---


async def test_due_escalations_oldest_deadline_first_and_only_open_ones(store: SqlStorage) -> None:
    a = await opened(store, "A", signal("moderate", deadline=30))
    b = await opened(store, "B", signal("high", deadline=10))
    acked = await opened(store, "C", signal("high", deadline=5))
    closed = await opened(store, "D", signal("high", deadline=6))
    later = await opened(store, "E", signal("low", deadline=51))
    exactly = await opened(store, "F", signal("low", deadline=50))
    assert await store.acknowledge_escalation(acked, "anna", at(1))
    assert await store.close_escalation(closed, "anna", "False alarm: quoting a film.", at(2))
    due = await store.due_escalations(at(50))
    assert [e.id for e in due] == [b, a, exactly]
    assert [e.participant_ref for e in due] == ["B", "A", "F"]
    assert all(len(e.triggers) == 1 for e in due)
    assert [e.id for e in await store.due_escalations(at(9))] == []
    assert [e.id for e in await store.due_escalations(at(60))] == [b, a, exactly, later]
    with pytest.raises(ValueError, match="naive"):
        await store.due_escalations(datetime(2025, 3, 3, 9, 0))


async def test_raise_tier_only_while_open(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high", deadline=15))
    assert await store.raise_tier(escalation_id, 1, at(30), at(16))
    escalation = await get(store, escalation_id)
    assert (escalation.tier, escalation.deadline_at, escalation.status) == (1, at(30), EscalationStatus.OPEN)
    assert await store.due_escalations(at(20)) == []
    entry = (await store.audit_entries())[0]
    assert entry == AuditRecord(
        "system",
        "escalation.re_escalated",
        "participant:A",
        at(16),
        {"escalation_id": escalation_id, "level": "high", "tier": 1, "deadline_at": "2025-03-03T08:30:00.000000+00:00"},
    )
    assert await store.acknowledge_escalation(escalation_id, "anna", at(20))
    assert not await store.raise_tier(escalation_id, 2, at(60), at(31))
    assert await store.close_escalation(escalation_id, "anna", "Seen at the clinic.", at(40))
    assert not await store.raise_tier(escalation_id, 2, at(60), at(61))
    assert not await store.raise_tier(9999, 2, at(60), at(61))
    assert (await get(store, escalation_id)).tier == 1
    assert (await actions(store)).count("escalation.re_escalated") == 1
    with pytest.raises(ValueError, match="tier"):
        await store.raise_tier(escalation_id, -1, at(60), at(61))


async def test_acknowledge_once(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high", deadline=15))
    assert await store.acknowledge_escalation(escalation_id, "anna", at(3))
    assert not await store.acknowledge_escalation(escalation_id, "bob", at(4))
    assert not await store.acknowledge_escalation(9999, "bob", at(4))
    escalation = await get(store, escalation_id)
    assert (escalation.status, escalation.deadline_at) == (EscalationStatus.ACKNOWLEDGED, None)
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == ("anna", at(3))
    assert escalation in await store.escalations(only_open=True)  # listed until closed
    entry = (await store.audit_entries())[0]
    assert entry == AuditRecord(
        "coach:anna",
        "escalation.acknowledged",
        "participant:A",
        at(3),
        {"escalation_id": escalation_id, "level": "high"},
    )
    assert (await actions(store)).count("escalation.acknowledged") == 1
    with pytest.raises(ValueError, match="coach"):
        await store.acknowledge_escalation(escalation_id, " ", at(4))


async def test_twenty_coaches_acknowledging_at_once_exactly_one_wins(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high", deadline=15))
    results = await asyncio.gather(
        *(store.acknowledge_escalation(escalation_id, f"coach{i}", at(1 + i / 60)) for i in range(20))
    )
    assert results.count(True) == 1
    winner = f"coach{results.index(True)}"
    escalation = await get(store, escalation_id)
    assert escalation.acknowledged_by == winner
    acks = [e for e in await store.audit_entries() if e.action == "escalation.acknowledged"]
    assert [e.actor for e in acks] == [f"coach:{winner}"]


async def test_closing_requires_an_outcome_note(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high"))
    before = await store.escalations(), await store.audit_entries()
    for note in ("", "  ", "\n\t"):
        with pytest.raises(ValueError, match="note"):
            await store.close_escalation(escalation_id, "anna", note, at(5))
    assert (await store.escalations(), await store.audit_entries()) == before


async def test_closing_an_unacknowledged_escalation_acknowledges_it_too_and_closes_once(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high", deadline=15))
    assert await store.close_escalation(escalation_id, "anna", "  Called; with family tonight.  ", at(8))
    assert not await store.close_escalation(escalation_id, "bob", "Second note", at(9))
    assert not await store.acknowledge_escalation(escalation_id, "bob", at(9))
    assert not await store.close_escalation(9999, "bob", "No such escalation", at(9))
    escalation = await get(store, escalation_id)
    assert (escalation.status, escalation.deadline_at) == (EscalationStatus.CLOSED, None)
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == ("anna", at(8))
    assert (escalation.closed_by, escalation.closed_at) == ("anna", at(8))
    assert escalation.outcome_note == "Called; with family tonight."
    assert await store.escalations(only_open=True) == []
    assert await store.escalations() == [escalation]
    [closed] = [e for e in await store.audit_entries() if e.action == "escalation.closed"]
    assert closed == AuditRecord(
        "coach:anna",
        "escalation.closed",
        "participant:A",
        at(8),
        {"escalation_id": escalation_id, "level": "high", "previous_status": "open"},
    )


async def test_closing_an_acknowledged_escalation_keeps_who_acknowledged_it(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("moderate"))
    assert await store.acknowledge_escalation(escalation_id, "anna", at(3))
    assert await store.close_escalation(escalation_id, "bob", "Follow-up booked with GP.", at(30))
    escalation = await get(store, escalation_id)
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == ("anna", at(3))
    assert (escalation.closed_by, escalation.closed_at, escalation.status) == ("bob", at(30), EscalationStatus.CLOSED)
    assert (await store.audit_entries())[0].detail["previous_status"] == "acknowledged"


async def test_concurrent_closes_close_once(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high"))
    results = await asyncio.gather(
        *(store.close_escalation(escalation_id, f"coach{i}", f"note {i}", at(5)) for i in range(10))
    )
    assert results.count(True) == 1
    winner = results.index(True)
    escalation = await get(store, escalation_id)
    assert (escalation.closed_by, escalation.outcome_note) == (f"coach{winner}", f"note {winner}")


async def test_acknowledgements_and_signals_together(store: SqlStorage) -> None:
    """Acknowledgements queued with steps: whichever order they take, the outcome is consistent."""
    pid = await new_participant(store)
    escalation_id = (await store.commit_step(step(pid, 0, signal("low", deadline=600)))).escalation_ids[0]
    ack, committed = await asyncio.gather(
        store.acknowledge_escalation(escalation_id, "anna", at(1)),
        store.commit_step(step(pid, 1, signal("high", 1, deadline=16))),
    )
    assert committed.escalation_ids == (escalation_id,)
    escalation = await get(store, escalation_id)
    assert escalation.level == "high" and len(escalation.triggers) == 2
    if escalation.status is EscalationStatus.OPEN:  # the step came after the ack: reopened
        assert ack and escalation.deadline_at == at(16) and escalation.acknowledged_by == "anna"
    else:  # the ack came after the step
        assert ack and escalation.status is EscalationStatus.ACKNOWLEDGED and escalation.deadline_at is None


# --- notifications ---


async def test_notification_lifecycle(store: SqlStorage) -> None:
    first = await opened(store, "A", signal("high"))
    second = await opened(store, "B", signal("low", deadline=600))
    anna = await store.add_notification(first, "anna", "console", 0, at(1))
    assert (anna.status, anna.attempts, anna.detail, anna.updated_at, anna.created_at) == (
        NotificationStatus.PENDING,
        0,
        "",
        None,
        at(1),
    )
    assert (anna.escalation_id, anna.coach_id, anna.channel, anna.tier) == (first, "anna", "console", 0)
    bob = await store.add_notification(first, "bob", "sms", 1, at(2))
    other = await store.add_notification(second, "anna", "console", 0, at(0))
    assert len({anna.id, bob.id, other.id}) == 3

    await store.update_notification(bob.id, NotificationStatus.FAILED, at(3), "gateway timeout")
    await store.update_notification(bob.id, NotificationStatus.SENT, at(4))
    await store.update_notification(anna.id, NotificationStatus.FAILED, at(5), "no console attached")

    assert await store.notifications() == await store.notifications(status=None)
    assert [n.id for n in await store.notifications()] == [other.id, anna.id, bob.id]  # oldest first
    assert [n.id for n in await store.notifications(escalation_id=first)] == [anna.id, bob.id]
    assert [n.id for n in await store.notifications(status=NotificationStatus.PENDING)] == [other.id]
    [failed] = await store.notifications(escalation_id=first, status=NotificationStatus.FAILED)
    assert (failed.id, failed.attempts, failed.detail, failed.updated_at) == (anna.id, 1, "no console attached", at(5))
    [sent] = await store.notifications(status=NotificationStatus.SENT)
    assert (sent.id, sent.attempts, sent.detail, sent.updated_at, sent.created_at) == (bob.id, 2, "", at(4), at(2))
    assert await store.notifications(escalation_id=9999) == []

    assert (await actions(store))[2:] == [
        "notification.queued",
        "notification.queued",
        "notification.queued",
        "notification.failed",
        "notification.sent",
        "notification.failed",
    ]
    entry = (await store.audit_entries())[1]
    assert entry == AuditRecord(
        "system",
        "notification.sent",
        "participant:A",
        at(4),
        {
            "notification_id": bob.id,
            "escalation_id": first,
            "coach_id": "bob",
            "channel": "sms",
            "tier": 1,
            "attempts": 2,
        },
    )


async def test_notifications_for_unknown_ids_are_refused(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high"))
    before = await store.notifications(), await store.audit_entries()
    with pytest.raises(UnknownEscalationError):
        await store.add_notification(9999, "anna", "console", 0, at(1))
    with pytest.raises(UnknownNotificationError):
        await store.update_notification(9999, NotificationStatus.SENT, at(1))
    with pytest.raises(ValueError):
        await store.update_notification(1, "delivered", at(1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        await store.add_notification(escalation_id, "anna", "console", 0, datetime(2025, 3, 3))
    assert (await store.notifications(), await store.audit_entries()) == before
    # The writer carries on.
    assert (
        await store.add_notification(escalation_id, "anna", "console", 0, at(1))
    ).status is NotificationStatus.PENDING


# --- what a coach sees about the participant ---


async def test_recent_answers_and_scores_newest_first(store: SqlStorage) -> None:
    pid = await new_participant(store, "A")
    other = await new_participant(store, "B")

    def answer(item: str, value: Any, minute: float, run: int = 1) -> AnswerRecord:
        return AnswerRecord(run, "pss10", 2, item, value, str(value), at(minute))

    await store.commit_step(step(pid, 0, answers=[answer("q1", 1, 0), answer("q2", 2, 1)]))
    await store.commit_step(step(pid, 1, answers=[answer("q1", 3, 2), answer("q3", "Ja", 3)]))  # q1 superseded
    await store.commit_step(step(pid, 2, answers=[answer("q1", 0, 4, run=2)]))
    await store.commit_step(step(other, 0, answers=[answer("q1", 4, 9)]))
    scores = [
        ScoreRecord(1, "pss10", 2, "total", 20.0, "moderate", at(5)),
        ScoreRecord(2, "pss10", 2, "total", 12.5, None, at(8)),
    ]
    await store.commit_step(step(pid, 3, scores=scores))
    await store.commit_step(step(other, 1, scores=[ScoreRecord(1, "pss10", 2, "total", 30.0, "high", at(9))]))

    recent = await store.recent_answers(pid)
    assert [(r["run_seq"], r["item_id"], r["value"]) for r in recent] == [
        (2, "q1", 0),
        (1, "q3", "Ja"),
        (1, "q1", 3),
        (1, "q2", 2),
    ]
    exported = {(r["participant"], r["run_seq"], r["item_id"]): r for r in await store.export_answers()}
    assert all(r == exported[(r["participant"], r["run_seq"], r["item_id"])] for r in recent)  # same columns
    assert [r["item_id"] for r in await store.recent_answers(pid, limit=2)] == ["q1", "q3"]
    assert await store.recent_answers(pid, limit=0) == []
    assert [r["participant"] for r in await store.recent_answers(other)] == ["B"]
    assert await store.recent_answers(9999) == []

    recent_scores = await store.recent_scores(pid)
    assert recent_scores == list(reversed([r for r in await store.export_scores() if r["participant"] == "A"]))
    assert [(r["run_seq"], r["value"], r["band"]) for r in recent_scores] == [(2, 12.5, None), (1, 20.0, "moderate")]
    assert [r["value"] for r in await store.recent_scores(pid, limit=1)] == [12.5]


# --- the audit trail ---


async def test_every_action_is_audited_and_no_audit_row_carries_the_words(store: SqlStorage) -> None:
    pid = await new_participant(store, "A")
    words = "Jeg vil slå mig selv ihjel i nat"
    note = "Outcome: spoke with her sister, emergency department visit"
    failure = "SMS gateway said +4512345678 unreachable"
    first = await store.commit_step(step(pid, 0, signal("low", words=words, deadline=600)))
    escalation_id = first.escalation_ids[0]
    await store.commit_step(step(pid, 1, signal("high", 1, deadline=16, kind="item", words=words)))
    await store.commit_step(step(pid, 2, signal("low", 2, deadline=600, words=words)))
    notification = await store.add_notification(escalation_id, "anna", "sms", 0, at(3))
    await store.update_notification(notification.id, NotificationStatus.FAILED, at(4), failure)
    assert await store.raise_tier(escalation_id, 1, at(30), at(16))
    assert await store.acknowledge_escalation(escalation_id, "bob", at(20))
    assert await store.close_escalation(escalation_id, "bob", note, at(40))

    assert await actions(store) == [
        "escalation.opened",
        "escalation.raised",
        "escalation.trigger_added",
        "notification.queued",
        "notification.failed",
        "escalation.re_escalated",
        "escalation.acknowledged",
        "escalation.closed",
    ]
    entries = await store.audit_entries()
    assert all(e.subject == "participant:A" and e.detail["escalation_id"] == escalation_id for e in entries)
    everything = repr(entries)
    for secret in (words, "slå mig selv", note, failure, "4512345678"):
        assert secret not in everything
    # ... while the words, the note and the failure are kept where they belong.
    escalation = await get(store, escalation_id)
    assert {t.trigger["raw_text" if t.trigger_kind == "item" else "text"] for t in escalation.triggers} == {words}
    assert escalation.outcome_note == note
    assert (await store.notifications())[0].detail == failure


async def test_closed_storage_refuses_escalation_calls(store: SqlStorage) -> None:
    escalation_id = await opened(store, "A", signal("high"))
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.acknowledge_escalation(escalation_id, "anna", at(1))
    with pytest.raises(RuntimeError, match="closed"):
        await store.escalations()


# --- SQLite only ---


def normalised_schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {(kind, name, " ".join(sql.replace("(", " ( ").replace(")", " ) ").split())) for kind, name, sql in rows}


@pytest.mark.parametrize("runner", ["hybrid", "async"])
async def test_escalations_survive_closing_and_reopening_the_file(tmp_path: Path, runner: str) -> None:
    path = tmp_path / "bot.sqlite"
    store = SqlStorage(path, runner=runner)  # type: ignore[arg-type]
    await store.migrate()
    try:
        pid = await new_participant(store)
        escalation_id = (await store.commit_step(step(pid, 0, signal("high", deadline=15)))).escalation_ids[0]
        notification = await store.add_notification(escalation_id, "anna", "console", 0, at(1))
        before = await store.escalations(), await store.notifications(), await store.audit_entries()
    finally:
        await store.close()

    reopened = await open_storage(path)
    try:
        assert (await reopened.escalations(), await reopened.notifications(), await reopened.audit_entries()) == before
        assert [e.id for e in await reopened.due_escalations(at(60))] == [escalation_id]  # overdue: fires at once
        await reopened.update_notification(notification.id, NotificationStatus.SENT, at(61))
        assert await reopened.acknowledge_escalation(escalation_id, "anna", at(62))
        again = await reopened.commit_step(step(pid, 1, signal("low", 63)))
        assert again.escalation_ids == (escalation_id,)
    finally:
        await reopened.close()


async def test_migration_2_brings_a_version_1_database_to_the_current_schema(tmp_path: Path) -> None:
    old = tmp_path / "v1.sqlite"
    with sqlite3.connect(old) as conn:
        conn.executescript(SCHEMA_V1.read_text())
        conn.execute(
            "INSERT INTO schema_migrations VALUES (1, 'create initial schema', '2025-01-01T00:00:00.000000+00:00')"
        )
        conn.execute("INSERT INTO participants VALUES (1, 'P-OLD', 'da', '2025-01-01T00:00:00.000000+00:00')")
        conn.execute("INSERT INTO conversations VALUES (1, '{\"at\":\"q3\"}', 4, '2025-01-01T00:00:00.000000+00:00')")
    conn.close()
    assert "escalations" not in {name for _, name, _ in normalised_schema(old)}

    store = SqlStorage(old)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.engine.connect() as aconn:
            assert await aconn.run_sync(current) == head()  # the numbered migrations, then Alembic's revisions
        # Old data is untouched and works with the new tables.
        conversation = await store.load_conversation(1)
        assert (conversation.state, conversation.revision) == ({"at": "q3"}, 4)
        result = await store.commit_step(step(1, 4, signal("high")))
        assert result.status is CommitStatus.COMMITTED
        assert (await get(store, result.escalation_ids[0])).participant_ref == "P-OLD"
    finally:
        await store.close()

    fresh = tmp_path / "fresh.sqlite"
    new = await open_storage(fresh)
    await new.close()
    assert normalised_schema(old) == normalised_schema(fresh)


async def test_the_database_allows_one_escalation_per_participant_that_is_not_closed(
    sqlite_store: SqlStorage,
) -> None:
    escalation_id = await opened(sqlite_store, "A", signal("high"))
    insert = text(
        "INSERT INTO escalations (participant_id, level, status, opened_at, tier) "
        "VALUES (1, 'low', :status, '2025-03-03T08:00:00.000000+00:00', 0)"
    )
    async with sqlite_store.engine.connect() as conn:
        for status in ("open", "acknowledged"):
            with pytest.raises(IntegrityError):
                await conn.execute(insert, {"status": status})
            await conn.rollback()
        with pytest.raises(IntegrityError):  # the CHECK constraint
            await conn.execute(insert, {"status": "snoozed"})
        await conn.rollback()
    assert await sqlite_store.close_escalation(escalation_id, "anna", "Resolved.", at(5))
    async with sqlite_store.engine.begin() as conn:
        await conn.execute(insert, {"status": "closed"})  # closed ones are history: any number


async def test_escalation_lookups_use_their_indexes(sqlite_store: SqlStorage) -> None:
    await opened(sqlite_store, "A", signal("high"))
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM escalations" in statement and statement.lstrip().startswith("SELECT"):
            raw = conn.connection.dbapi_connection
            plans.append(" | ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)))

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "before_cursor_execute", explain)
    try:
        await sqlite_store.commit_step(step(1, 1, signal("high")))
        await sqlite_store.due_escalations(at(60))
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "before_cursor_execute", explain)
    joined = "\n".join(plans)
    assert "ux_escalations_active_participant" in joined, joined
    assert "ix_escalations_status_deadline_at" in joined, joined


async def test_escalation_writes_take_the_write_lock_on_the_writer(sqlite_store: SqlStorage) -> None:
    escalation_id = await opened(sqlite_store, "A", signal("high"))
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        await asyncio.gather(
            sqlite_store.acknowledge_escalation(escalation_id, "anna", at(1)),
            sqlite_store.add_notification(escalation_id, "anna", "console", 0, at(1)),
        )
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "before_cursor_execute", record)
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]  # one durable group commit


async def test_a_step_whose_escalation_fails_writes_nothing_at_all(sqlite_store: SqlStorage) -> None:
    """The escalation is in the step's transaction: if it cannot be stored, neither is the answer or the reply."""
    async with sqlite_store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_trigger BEFORE INSERT ON escalation_triggers WHEN NEW.trigger_kind = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'escalation refused'); END"
        )
    good, bad = await new_participant(sqlite_store, "A"), await new_participant(sqlite_store, "B")
    boom = EscalationRecord("high", "boom", {"text": VERBATIM}, T0, at(15))
    common: dict[str, Any] = {
        "answers": [AnswerRecord(1, "phq9", 1, "q9", 2, "Flere dage", T0)],
        "outbox": [OutboundRecord("sms", {"text": "Ring 112"}, T0)],
    }
    results = await asyncio.gather(
        sqlite_store.commit_step(step(good, 0, signal("high"), inbound=inbound("SM-A"), **common)),
        sqlite_store.commit_step(step(bad, 0, boom, inbound=inbound("SM-B"), **common)),
        return_exceptions=True,
    )
    assert isinstance(results[1], IntegrityError) and "escalation refused" in str(results[1])
    assert VERBATIM not in str(results[1])  # parameters stay out of errors
    assert not isinstance(results[0], BaseException) and results[0].status is CommitStatus.COMMITTED
    assert (await sqlite_store.load_conversation(bad)).revision == 0
    assert [r["participant"] for r in await sqlite_store.export_answers()] == ["A"]
    assert [row.participant_id for row in await sqlite_store.pending_outbox("sms")] == [good]
    assert [e.participant_ref for e in await sqlite_store.escalations()] == ["A"]
    # Nothing of the failed step was kept, not even its inbox row: a retry goes through.
    retry = await sqlite_store.commit_step(step(bad, 0, signal("high"), inbound=inbound("SM-B"), **common))
    assert retry.status is CommitStatus.COMMITTED


CHILD = """
import asyncio, os, signal, sys
from datetime import UTC, datetime, timedelta
from storage import EscalationRecord, InboundRecord, StepRecord, open_storage

async def main():
    store = await open_storage(sys.argv[1])
    now = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    pid = (await store.get_or_create_participant("P-crash", "da", now)).id
    risk = EscalationRecord("high", "text", {"matched": "selvmord", "text": "tanker om selvmord"}, now,
                            now + timedelta(minutes=15))
    step = StepRecord(pid, 0, {"safety": True}, now, inbound=InboundRecord("sms", "SM1", now), escalations=[risk])
    result = await store.commit_step(step)
    print(result.status, result.escalation_ids[0], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint: only what COMMIT made durable

asyncio.run(main())
"""


async def test_an_escalation_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(CHILD),
        str(path),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    status, escalation_id = out.decode().split()
    assert status == "committed", err.decode()
    assert child.returncode != 0
    store = await open_storage(path)
    try:
        [escalation] = await store.due_escalations(at(16))
        assert (escalation.id, escalation.participant_ref, escalation.level) == (int(escalation_id), "P-crash", "high")
        assert escalation.triggers[0].trigger == {"matched": "selvmord", "text": "tanker om selvmord"}
        pid = escalation.participant_id
        again = await store.commit_step(step(pid, 1, signal("high"), inbound=inbound("SM1")))  # the webhook retry
        assert again.status is CommitStatus.DUPLICATE
        assert len((await store.escalations())[0].triggers) == 1
    finally:
        await store.close()
