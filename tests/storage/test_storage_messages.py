"""Every inbound message kept, what people wrote sealed at rest, and the coach's inbox (issue 11, points 1 and 2).

The contract tests run against every `Storage`; the tests at the end are SQLite-only: the file's bytes, and migration
7 (what a version-6 database holds in plaintext is sealed, and the file scrubbed).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from storage import (
    AnswerRecord,
    CommitStatus,
    EscalationRecord,
    InboundRecord,
    SqlStorage,
    StepRecord,
    open_storage,
)
from storage.crypto import Keys
from storage.legacy_migrations import MIGRATIONS, apply_migrations
from storage.records import Enrollment, HeardRecord
from tests.storage.test_storage_encryption import SCHEMA_V5, file_bytes, normalised_schema

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
CALL_ME = "jeg har det rigtig skidt, kan I ringe til mig på 12345678"
FREE_ANSWER = "En tung uge med meget gråd"
RISKY = "jeg tænker på selvmord hver nat"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def person(store: SqlStorage, ref: str, coach: str = "coach") -> int:
    return (await store.enroll(Enrollment(ref, f"Navn {ref}", "da", None, coach), T0)).id


async def says(store: SqlStorage, pid: int, rev: int, body: str, when: float, *, for_coach: bool = True,
               outcome: str = "for_coach", **extra: object) -> None:
    step = StepRecord(pid, rev, {"lang": "da", "said": body}, at(when),
                      inbound=InboundRecord("sms", f"SM-{pid}-{rev}", at(when)),
                      heard=HeardRecord(body, outcome, {"flow_id": "pss10", "item_id": "q3"}, for_coach), **extra)
    assert (await store.commit_step(step)).status is CommitStatus.COMMITTED


async def test_a_message_for_a_coach_is_listed_unread_first_and_read_once_audited(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna"), await person(store, "p-bo", "backup")
    await says(store, anna, 0, "første", 10)
    await says(store, anna, 1, "2", 20, for_coach=False, outcome="answer")  # an answer: never in the inbox
    await says(store, bo, 0, CALL_ME, 30)
    await says(store, anna, 2, "tredje", 40)
    listed = await store.coach_messages()
    assert [(m.participant_ref, m.body, m.read_by) for m in listed] == [
        ("p-anna", "første", None), ("p-bo", CALL_ME, None), ("p-anna", "tredje", None)]
    assert listed[0].channel == "sms" and listed[0].received_at == at(10)
    assert listed[0].detail == {"flow_id": "pss10", "item_id": "q3"}
    assert [m.body for m in await store.coach_messages([bo])] == [CALL_ME]
    assert await store.coach_messages([]) == []

    assert await store.mark_messages_read([listed[0].id, listed[2].id], "coach", at(50)) == 2
    assert await store.mark_messages_read([listed[0].id], "lead", at(60)) == 0  # read already: stays the coach's
    after = await store.coach_messages()
    assert [(m.body, m.read_by, m.read_at) for m in after] == [
        (CALL_ME, None, None), ("tredje", "coach", at(50)), ("første", "coach", at(50))]  # unread, then newest read
    assert [m.body for m in await store.coach_messages(read_limit=1)] == [CALL_ME, "tredje"]
    reads = [e for e in await store.audit_entries() if e.action == "message.read"]
    assert sorted((e.actor, e.subject, e.detail["message_id"]) for e in reads) == [
        ("coach:coach", "participant:p-anna", listed[0].id), ("coach:coach", "participant:p-anna", listed[2].id)]
    everything = json.dumps([[e.actor, e.action, e.subject, dict(e.detail)] for e in await store.audit_entries()],
                            ensure_ascii=False)
    assert "første" not in everything and CALL_ME not in everything


async def test_an_unread_message_becomes_a_task_once_and_reading_it_does_the_task(store: SqlStorage) -> None:
    anna = await person(store, "p-anna")
    await says(store, anna, 0, CALL_ME, 10)
    await says(store, anna, 1, "senere", 7200)
    assert await store.task_unread_messages(at(3600), at(3600), at(90_000)) != []
    assert await store.task_unread_messages(at(3600), at(3601), at(90_000)) == []  # once
    [task] = await store.coach_tasks()
    assert (task.kind, task.participant_id, task.due_at) == ("message_unread", anna, at(90_000))
    [first, second] = await store.coach_messages()
    assert first.task_id == task.id and task.detail == {"message_id": first.id} and second.task_id is None
    await store.mark_messages_read([first.id, second.id], "coach", at(8000))
    assert await store.coach_tasks() == []  # done with the reading
    [done] = await store.coach_tasks(only_open=False)
    assert (done.done_by, done.done_at) == ("coach", at(8000))
    assert await store.task_unread_messages(at(99_999), at(99_999), at(190_000)) == []  # read: no task
    assert any(e.action == "task.message_unread" for e in await store.audit_entries())


async def test_every_inbound_message_is_in_the_person_s_copy_and_goes_with_them(store: SqlStorage) -> None:
    anna, bo = await person(store, "p-anna"), await person(store, "p-bo")
    await says(store, anna, 0, CALL_ME, 10,
               answers=[AnswerRecord(1, "checkin", 1, "words", FREE_ANSWER, FREE_ANSWER, at(10))],
               escalations=[EscalationRecord("moderate", "text", {"matched": "selvmord", "text": RISKY}, at(10),
                                             at(7210))])
    await says(store, anna, 1, "PAUSE", 20, for_coach=False, outcome="keyword")
    await says(store, bo, 0, "bos besked", 30)
    data = await store.person_data(anna)
    assert data is not None
    assert [(i["body"], i["outcome"], i["for_coach"], i["outcome_detail"]) for i in data["inbox"]] == [
        (CALL_ME, "for_coach", True, {"flow_id": "pss10", "item_id": "q3"}),
        ("PAUSE", "keyword", False, {"flow_id": "pss10", "item_id": "q3"})]
    assert [(a["value"], a["raw_text"]) for a in data["answers"]] == [(FREE_ANSWER, FREE_ANSWER)]
    assert [t["trigger"]["text"] for t in data["escalation_triggers"]] == [RISKY]
    assert [c["state"]["said"] for c in data["conversations"]] == ["PAUSE"]
    assert "bos besked" not in json.dumps(data, ensure_ascii=False)
    [escalation] = await store.escalations()
    assert escalation.triggers[0].trigger["text"] == RISKY
    assert [(a["value"], a["raw_text"]) for a in await store.export_answers()] == [(FREE_ANSWER, FREE_ANSWER)]
    assert [a["value"] for a in await store.recent_answers(anna)] == [FREE_ANSWER]

    [counts] = await store.erase_participants([anna], "admin:root", "request", at(40))
    assert counts is not None and counts["inbox"] == 2
    assert [m.participant_ref for m in await store.coach_messages()] == ["p-bo"]


async def test_bodies_answers_triggers_and_states_are_sealed_in_the_file(sqlite_store: SqlStorage) -> None:
    anna = await person(sqlite_store, "p-anna")
    await says(sqlite_store, anna, 0, CALL_ME, 10,
               answers=[AnswerRecord(1, "checkin", 1, "words", FREE_ANSWER, FREE_ANSWER, at(10))],
               escalations=[EscalationRecord("moderate", "text", {"matched": "selvmord", "text": RISKY}, at(10),
                                             at(7210))])
    raw = file_bytes(Path(sqlite_store.engine.url.database or ""))
    for secret in (CALL_ME, "ringe til mig", FREE_ANSWER, "meget gråd", RISKY, "selvmord"):
        assert secret.encode() not in raw, secret
    assert b"p-anna" in raw  # the search works: the pseudonymous ref is there in plaintext
    assert (await sqlite_store.load_conversation(anna)).state == {"lang": "da", "said": CALL_ME}


def version_6_database(path: Path, keys: Keys) -> None:
    """A database as migrations 1 to 6 left it, with what a person wrote in plaintext."""
    stamp = "'2025-01-01T00:00:00.000000+00:00'"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V5.read_text())
        for version in range(1, 6):
            conn.execute(f"INSERT INTO schema_migrations VALUES ({version}, 'migration {version}', {stamp})")
        conn.execute(f"INSERT INTO participants VALUES (1, 'p-old', 'da', {stamp})")
        conn.execute(f"INSERT INTO conversations VALUES (1, '{{\"said\":\"{FREE_ANSWER}\"}}', 3, {stamp})")
        conn.execute("INSERT INTO answers (id, participant_id, run_seq, flow_id, flow_version, item_id, value_kind, "
                     f"value_num, value_text, raw_text, answered_at, superseded) VALUES (1, 1, 1, 'checkin', 1, "
                     f"'words', 'str', NULL, '{FREE_ANSWER}', '{FREE_ANSWER}', {stamp}, 0)")
        conn.execute("INSERT INTO answers (id, participant_id, run_seq, flow_id, flow_version, item_id, value_kind, "
                     f"value_num, value_text, raw_text, answered_at, superseded) VALUES (2, 1, 1, 'pss10', 1, 'q1', "
                     f"'int', 2, NULL, 'to', {stamp}, 0)")
        conn.execute(f"INSERT INTO escalations (id, participant_id, level, status, opened_at, tier) VALUES "
                     f"(1, 1, 'moderate', 'open', {stamp}, 0)")
        trigger = json.dumps({"matched": "selvmord", "text": RISKY}, ensure_ascii=False)
        conn.execute("INSERT INTO escalation_triggers (escalation_id, level, trigger_kind, trigger, at) VALUES "
                     f"(1, 'moderate', 'text', '{trigger}', {stamp})")
        conn.execute(f"INSERT INTO inbox VALUES (1, 'sms', 'SM-1', 1, {stamp}, {stamp})")
    conn.close()
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as sync:
            apply_migrations(sync, MIGRATIONS[:6], keys=keys)
    finally:
        engine.dispose()


async def test_migration_7_seals_what_a_version_6_database_holds(tmp_path: Path) -> None:
    old, keys = tmp_path / "v6.sqlite", Keys.generate()
    version_6_database(old, keys)
    assert FREE_ANSWER.encode() in file_bytes(old) and RISKY.encode() in file_bytes(old)
    store = SqlStorage(old, keys=keys)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        raw = file_bytes(old)  # while open: scrubbed of free pages and the WAL too
        for secret in (FREE_ANSWER, RISKY, "selvmord"):
            assert secret.encode() not in raw, secret
        assert [(a["item_id"], a["value"], a["raw_text"]) for a in await store.export_answers()] == [
            ("words", FREE_ANSWER, FREE_ANSWER), ("q1", 2, "to")]
        [escalation] = await store.escalations()
        assert escalation.triggers[0].trigger == {"matched": "selvmord", "text": RISKY}
        assert (await store.load_conversation(1)).state == {"said": FREE_ANSWER}
        data = await store.person_data(1)
        assert data is not None and [(i["body"], i["outcome"], i["for_coach"]) for i in data["inbox"]] == [
            (None, None, False)]  # kept from before: no text was stored then
        assert await store.coach_messages() == []
    finally:
        await store.close()
    fresh = tmp_path / "fresh.sqlite"
    await (await open_storage(fresh)).close()
    assert normalised_schema(old) == normalised_schema(fresh)


def test_migration_7_needs_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "v6.sqlite"
    version_6_database(path, Keys.generate())
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as sync, pytest.raises(RuntimeError, match="keys"):
            MIGRATIONS[6].apply(sync)
    finally:
        engine.dispose()
    assert FREE_ANSWER.encode() in file_bytes(path)  # rolled back: nothing lost


async def test_a_coach_s_reply_is_queued_read_and_audited_in_one_write(store: SqlStorage) -> None:
    from storage.errors import UnknownParticipantError
    from storage.records import Priority

    anna = await person(store, "p-anna")
    await says(store, anna, 0, CALL_ME, 10)
    [message] = await store.coach_messages()
    assert await store.coach_message(message.id) == message
    assert await store.coach_message(message.id + 100) is None
    night = at(60)
    morning = at(8 * 3600)
    reply = await store.send_coach_reply(anna, "sms", {"lang": "da", "text": "Jeg ringer i morgen kl. 9"}, "coach",
                                         night, message_id=message.id, priority=Priority.ROUTINE, not_before=morning)
    read = await store.coach_message(message.id)
    assert read is not None and (read.read_by, read.read_at) == ("coach", night)
    assert await store.pending_outbox("sms", now=night) == []  # held back through the quiet hours
    [row] = await store.pending_outbox("sms", now=morning)
    assert (row.id, row.payload["text"], row.priority) == (reply, "Jeg ringer i morgen kl. 9", Priority.ROUTINE)
    audit = [(a.actor, a.action, a.subject, dict(a.detail)) for a in await store.audit_entries()
             if a.action in ("message.read", "message.replied")]
    assert ("coach:coach", "message.read", "participant:p-anna", {"message_id": message.id}) in audit
    replied = {"outbox_id": reply, "channel": "sms", "message_id": message.id, "not_before": morning.isoformat()}
    assert ("coach:coach", "message.replied", "participant:p-anna", replied) in audit
    assert "Jeg ringer" not in json.dumps([a[3] for a in audit])  # ids only in the audit log
    now = await store.send_coach_reply(anna, "sms", {"lang": "da", "text": "Nu"}, "coach", at(70))
    assert [r.id for r in await store.pending_outbox("sms", now=at(70))] == [now]  # no message, no hold: at once
    with pytest.raises(UnknownParticipantError):
        await store.send_coach_reply(anna + 100, "sms", {"text": "x"}, "coach", at(80))
