"""The outbox's priorities and the messages that did not get through (issue 11, points 5 and 6).

Contract tests against every `Storage`; the last ones are SQLite-only (the query plans use their indexes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from storage import (
    CommitStatus,
    Enrollment,
    OutboundRecord,
    Participant,
    Priority,
    SqlStorage,
    StepRecord,
    UnknownOutboxError,
)

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
URGENT, REPLY, ROUTINE = Priority.URGENT, Priority.REPLY, Priority.ROUTINE


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def person(store: SqlStorage, ref: str, phone: str) -> Participant:
    return await store.enroll(Enrollment(ref=ref, name="N", lang="da", phone=phone), T0)


async def queue(store: SqlStorage, pid: int, *priorities: Priority, rev: int = 0, channel: str = "sms",
                when: datetime = T0) -> tuple[int, ...]:
    outbox = [OutboundRecord(channel, {"text": f"m{i}"}, when, p) for i, p in enumerate(priorities)]
    result = await store.commit_step(StepRecord(pid, rev, {"rev": rev}, when, outbox=outbox))
    assert result.status is CommitStatus.COMMITTED
    return result.outbox_ids


async def pending(store: SqlStorage, now: datetime | None = None, limit: int = 100) -> list[int]:
    return [row.id for row in await store.pending_outbox("sms", limit, now=now)]


async def test_the_most_urgent_go_first_and_each_persons_order_is_kept_within_a_priority(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna", "+4520000001"), await person(store, "p-bo", "+4520000002")
    a1, a2 = await queue(store, anna.id, ROUTINE, ROUTINE)
    b1, b2 = await queue(store, bo.id, ROUTINE, ROUTINE)
    crisis, offer = await queue(store, bo.id, URGENT, REPLY, rev=1)
    assert await pending(store) == [crisis, offer, a1, a2, b1, b2]
    assert await pending(store, limit=1) == [crisis]
    [row] = await store.pending_outbox("sms", 1)
    assert row.priority is URGENT


async def test_a_deferred_row_holds_back_what_comes_after_it_in_the_persons_order(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna", "+4520000001"), await person(store, "p-bo", "+4520000002")
    (reminder,) = await queue(store, anna.id, ROUTINE)
    crisis, offer = await queue(store, anna.id, URGENT, REPLY, rev=1)
    (other,) = await queue(store, bo.id, ROUTINE)
    await store.defer_outbox(crisis, at(60), at(1), "HTTP 503")
    # the crisis reply waits for its retry: nothing less urgent reaches Anna before it, even her older reminder
    assert await pending(store, now=at(1)) == [other]
    assert await pending(store, now=at(60)) == [crisis, offer, reminder, other]
    await store.mark_delivery(crisis, "SM-1", "sent", at(60))
    await store.defer_outbox(offer, at(120), at(61), "HTTP 429")
    assert await pending(store, now=at(61)) == [other]  # a deferred reply holds back her routine messages too
    (later_crisis,) = await queue(store, anna.id, URGENT, rev=2)
    assert await pending(store, now=at(61)) == [later_crisis, other]  # ...but not a more urgent one


async def test_only_urgent_rows_of_the_participants_the_caller_cannot_send_to_now(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna", "+4520000001"), await person(store, "p-bo", "+4520000002")
    a1, a2 = await queue(store, anna.id, REPLY, ROUTINE)
    (b1,) = await queue(store, bo.id, REPLY)
    assert await pending(store) == [a1, b1, a2]
    assert [r.id for r in await store.pending_outbox("sms", 1, only_urgent_for={anna.id})] == [b1]
    (crisis,) = await queue(store, anna.id, URGENT, rev=1)
    assert [r.id for r in await store.pending_outbox("sms", only_urgent_for=[anna.id, bo.id])] == [crisis]


async def test_with_no_room_for_an_ordinary_message_only_crisis_replies_are_read(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna", "+4520000001"), await person(store, "p-bo", "+4520000002")
    await queue(store, anna.id, REPLY, ROUTINE)
    (crisis,) = await queue(store, bo.id, URGENT)
    later = T0 + timedelta(minutes=1)
    assert [r.id for r in await store.pending_outbox("sms", 8, urgent_only=True)] == [crisis]
    claimable = await store.claimable_outbox("sms", "me", 8, later, urgent_only=True)
    assert [r.id for r in claimable] == [crisis]
    await store.claim_outbox("sms", "someone-else", [crisis], later, later + timedelta(minutes=2))
    assert await store.claimable_outbox("sms", "me", 8, later, urgent_only=True) == []  # theirs while leased


async def test_a_priority_that_does_not_exist_is_refused_and_nothing_is_written(store: SqlStorage) -> None:
    anna = await person(store, "p-anna", "+4520000001")
    bad = StepRecord(anna.id, 0, {}, T0, outbox=[OutboundRecord("sms", {"text": "x"}, T0, 7)])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await store.commit_step(bad)
    assert (await store.load_conversation(anna.id)).revision == 0 and await pending(store) == []


async def test_urgent_rows_not_delivered_in_time_or_given_up_are_reported_once(store: SqlStorage) -> None:
    anna = await person(store, "p-anna", "+4520000001")
    crisis, offer = await queue(store, anna.id, URGENT, REPLY)
    (later,) = await queue(store, anna.id, URGENT, rev=1, when=at(300))
    assert await store.undelivered_urgent(at(-1)) == []  # not overdue yet
    [overdue] = await store.undelivered_urgent(at(0))
    assert (overdue.row.id, overdue.row.priority, overdue.given_up_at) == (crisis, URGENT, None)
    await store.defer_outbox(crisis, at(600), at(10), "HTTP 503")
    [overdue] = await store.undelivered_urgent(at(10))
    assert overdue.detail == "HTTP 503" and overdue.row.attempts == 1
    await store.mark_undelivered_told(crisis, at(11))
    await store.mark_undelivered_told(crisis, at(12))  # the first time stays
    [only] = await store.undelivered_urgent(at(3600))
    assert only.row.id == later  # the told one is left out; the reply is not urgent
    await store.mark_delivery(later, "SM-2", "sent", at(301))
    assert await store.undelivered_urgent(at(3600)) == []  # sent: nothing to tell
    await store.mark_delivery(later, "SM-2", "undelivered", at(302), "30003")
    await store.defer_outbox(later, at(400), at(302), "undelivered 30003")
    assert [u.row.id for u in await store.undelivered_urgent(at(3600))] == [later]  # failed after all: back
    (given_up,) = await queue(store, anna.id, URGENT, rev=2, when=at(4000))
    await store.give_up_outbox(given_up, at(4001), "403 forbidden")
    [gone] = await store.undelivered_urgent(at(0))  # given up: reported at once, whatever its age
    assert (gone.row.id, gone.given_up_at, gone.detail) == (given_up, at(4001), "403 forbidden")
    assert offer not in [u.row.id for u in await store.undelivered_urgent(at(99_999))]
    with pytest.raises(UnknownOutboxError):
        await store.mark_undelivered_told(999_999, at(1))


async def test_given_up_messages_newest_first_with_their_reason(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna", "+4520000001"), await person(store, "p-bo", "+4520000002")
    first, second, kept = await queue(store, anna.id, ROUTINE, REPLY, ROUTINE)
    (others,) = await queue(store, bo.id, ROUTINE)
    await store.give_up_outbox(first, at(5), "HTTP 400 code 21211")
    await store.give_up_outbox(second, at(9), "TimeoutError")
    await store.give_up_outbox(others, at(7), "no active SMS address")
    found = await store.given_up_messages(anna.id)
    assert [(g.row.id, g.given_up_at, g.detail, g.row.payload["text"]) for g in found] == [
        (second, at(9), "TimeoutError", "m1"), (first, at(5), "HTTP 400 code 21211", "m0")]
    assert [g.row.id for g in await store.given_up_messages(anna.id, limit=1)] == [second]
    assert kept not in [g.row.id for g in found]


async def test_the_outbox_queries_use_their_indexes(sqlite_store: SqlStorage) -> None:
    anna = await person(sqlite_store, "p-anna", "+4520000001")
    routine, urgent = await queue(sqlite_store, anna.id, ROUTINE, URGENT)
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "outbox" in statement:
            raw = conn.connection.dbapi_connection
            plans.append(" | ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)))

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "before_cursor_execute", explain)
    try:
        await sqlite_store.pending_outbox("sms", now=at(1))
        await sqlite_store.undelivered_urgent(at(60))
        assert await sqlite_store.claim_outbox("sms", "me", [urgent, routine], at(1), at(99)) == [urgent, routine]
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "before_cursor_execute", explain)
    assert len(plans) == 4, plans
    assert "ix_outbox_unsent" in plans[0] and "TEMP B-TREE" not in plans[0], plans[0]  # already in sending order
    assert plans[1] == "SCAN outbox USING INDEX ix_outbox_urgent", plans[1]  # only the urgent rows nobody was told of
    assert "PRIMARY KEY" in plans[2], plans[2]  # the rows wanted, by id
    # the claim reads only the rows still to send of the people taken, in their sending order: not every row still
    # to send on the channel (ix_outbox_unsent), which is the whole backlog
    assert "ix_outbox_unsent_person (participant_id=? AND channel=?" in plans[3], plans[3]
    assert "TEMP B-TREE" not in plans[3], plans[3]
