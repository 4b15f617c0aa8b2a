"""What the administrators' pages read, on every storage: the channels' heartbeats and their outbox counted per
channel (the channel health page), and the audit log searched and paged in the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from storage import CommitStatus, SqlStorage, StepRecord
from storage.admin_records import RECEIVED, STATUS, AuditQuery, ChannelOutbox, Heartbeat
from storage.records import AuditRecord, Enrollment, OutboundRecord, Priority

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def person(store: SqlStorage, ref: str) -> int:
    return (await store.enroll(Enrollment(ref, f"Navn {ref}", "da", None, "coach"), T0)).id


async def queue(store: SqlStorage, pid: int, rev: int, when: datetime, *messages: tuple[str, Priority]) -> list[int]:
    outbox = [OutboundRecord(channel, {"text": "hemmelig besked"}, when, priority) for channel, priority in messages]
    result = await store.commit_step(StepRecord(pid, rev, {"rev": rev}, when, outbox=outbox))
    assert result.status is CommitStatus.COMMITTED
    return list(result.outbox_ids)


async def test_a_heartbeat_moves_forward_only_per_channel_and_signal(store: SqlStorage) -> None:
    assert await store.heartbeats() == []
    await store.record_heartbeat("sms", RECEIVED, at(0))
    await store.record_heartbeat("sms", RECEIVED, at(5))
    await store.record_heartbeat("sms", RECEIVED, at(3))  # another process, a moment late: not back in time
    await store.record_heartbeat("sms", STATUS, at(1))
    await asyncio.gather(*(store.record_heartbeat("telegram", RECEIVED, at(n)) for n in (7, 9, 8)))  # one batch
    assert await store.heartbeats() == [Heartbeat("sms", RECEIVED, at(5)), Heartbeat("sms", STATUS, at(1)),
                                        Heartbeat("telegram", RECEIVED, at(9))]


async def test_the_outbox_is_counted_per_channel_without_reading_a_message(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna"), await person(store, "p-bo")
    a_sms, a_tg = await queue(store, anna, 0, at(0), ("sms", Priority.ROUTINE), ("telegram", Priority.REPLY))
    [b_sms_old, b_sms_new] = await queue(store, bo, 0, at(10), ("sms", Priority.REPLY), ("sms", Priority.ROUTINE))
    [a_crisis] = await queue(store, anna, 1, at(20), ("sms", Priority.URGENT))
    [sent] = await queue(store, bo, 1, at(21), ("telegram", Priority.REPLY))
    await store.mark_delivery(sent, "tg-1", "sent", at(22))
    await store.defer_outbox(a_sms, at(90), at(30), "HTTP 503")  # failed once, held until later
    await store.defer_outbox(b_sms_old, at(31), at(31), "30008")  # failed once, due again at once
    await store.give_up_outbox(a_crisis, at(40), "21610 blocked")
    [old_given_up] = await queue(store, bo, 2, at(0), ("telegram", Priority.ROUTINE))
    await store.give_up_outbox(old_given_up, at(1), "Forbidden: bot was blocked by the user")
    del a_tg, b_sms_new

    now = at(60)
    seen = await store.outbox_health(now, given_up_since=at(30))
    # sms: a_sms (held until 90), b_sms_old (retry due), b_sms_new (due); the crisis reply given up at 40
    assert seen == [ChannelOutbox("sms", waiting=3, due=2, oldest_due=at(10), retrying=2, given_up=1,
                                  latest_failure="30008"),
                    ChannelOutbox("telegram", waiting=1, due=1, oldest_due=at(0), retrying=0, given_up=0,
                                  latest_failure=None)]
    assert (await store.outbox_health(now, given_up_since=at(0)))[1].given_up == 1  # the old one counts from then

    listed = await store.given_up_since(at(0))
    assert [(g.channel, g.participant_ref, g.urgent, g.written_at, g.given_up_at, g.reason) for g in listed] == [
        ("sms", "p-anna", True, at(20), at(40), "21610 blocked"),
        ("telegram", "p-bo", False, at(0), at(1), "Forbidden: bot was blocked by the user")]
    assert [g.outbox_id for g in await store.given_up_since(at(30))] == [a_crisis]
    assert await store.given_up_since(at(0), limit=1) == listed[:1]


async def test_an_empty_outbox_has_nothing_to_say(store: SqlStorage) -> None:
    assert await store.outbox_health(T0, T0) == []
    assert await store.given_up_since(T0) == []


async def audit(store: SqlStorage, actor: str, action: str, subject: str, when: datetime) -> None:
    await store.record_audit(AuditRecord(actor, action, subject, when, {"via": "test"}))


async def test_the_audit_log_is_searched_by_actor_action_subject_and_time_newest_first(store: SqlStorage) -> None:
    await audit(store, "coach:coach", "overview.viewed", "participant:p-anna", at(1))
    await audit(store, "participant:p-anna", "run.completed", "participant:p-anna", at(2))
    await audit(store, "coach:lead", "alert.ack", "participant:p-bo", at(3))
    await audit(store, "coach:lead", "alert.close", "participant:p-anna", at(4))
    await audit(store, "system", "task.no_response", "participant:p-anna_x", at(5))  # not p-anna
    await audit(store, "coach:lead", "alerts.listed", "open escalations", at(6))

    async def found(**filters: object) -> list[tuple[str, str, str]]:
        page = await store.search_audit(AuditQuery(**filters))  # type: ignore[arg-type]
        return [(e.record.actor, e.record.action, e.record.subject) for e in page.entries]

    assert await found(subject="participant:p-anna") == [
        ("coach:lead", "alert.close", "participant:p-anna"),
        ("participant:p-anna", "run.completed", "participant:p-anna"),
        ("coach:coach", "overview.viewed", "participant:p-anna")]
    assert await found(actor="coach:lead", action="alert.") == [
        ("coach:lead", "alert.close", "participant:p-anna"), ("coach:lead", "alert.ack", "participant:p-bo")]
    assert [a for _, a, _ in await found(action="alert")] == ["alerts.listed", "alert.close", "alert.ack"]
    assert await found(action="%") == []  # a wildcard is a character like any other
    assert [a for _, a, _ in await found(since=at(2), until=at(4))] == ["alert.ack", "run.completed"]
    assert await found(subject="participant:p-anna", since=at(2), until=at(3)) == [
        ("participant:p-anna", "run.completed", "participant:p-anna")]
    assert await found(actor="coach:nobody") == []


async def test_the_audit_log_is_paged_in_the_database_after_the_last_row_shown(store: SqlStorage) -> None:
    for n in range(7):  # two rows share each time: the id breaks the tie
        await audit(store, "system", f"step.{n}", "participant:p-anna", at(n // 2))
    first = await store.search_audit(AuditQuery(limit=3))
    assert [e.record.action for e in first.entries] == ["step.6", "step.5", "step.4"] and first.more
    second = await store.search_audit(AuditQuery(limit=3, older_than=first.entries[-1].id))
    assert [e.record.action for e in second.entries] == ["step.3", "step.2", "step.1"] and second.more
    await audit(store, "system", "step.new", "participant:p-anna", at(9))  # written meanwhile: the pages stay
    third = await store.search_audit(AuditQuery(limit=3, older_than=second.entries[-1].id))
    assert [e.record.action for e in third.entries] == ["step.0"] and not third.more

    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await store.search_audit(AuditQuery(subject="participant:p-anna", limit=2))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    [query] = [s for s in statements if "audit_log" in s]
    assert "LIMIT" in query.upper() and "subject" in query  # filtered and limited by the database, not here
