"""Contact details and names encrypted at rest, the keys, one person's data, erasure (issue 6, data protection).

The contract tests run against every `Storage` (SQLite with each runner on a real file); the tests at
the end are SQLite-only: the keys and their file, migration 6 (plaintext converted) and what an erase leaves.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from storage import (
    AddressStatus,
    AnswerRecord,
    AuditRecord,
    CoachTaskRecord,
    CommitStatus,
    Enrollment,
    EscalationRecord,
    InboundRecord,
    MarkRecord,
    OutboundRecord,
    ScheduledRecord,
    ScoreRecord,
    SqlStorage,
    StepRecord,
    open_storage,
)
from storage.crypto import (
    DATA_KEY,
    GCM_VERSION,
    LOOKUP_KEY,
    RESEARCH_KEY,
    KeyConfigError,
    Keys,
    key_file_for,
    new_key_values,
)
from storage.legacy_migrations import MIGRATIONS
from storage.sql import schema as s
from storage.sql.codecs import utc_text
from storage.upgrade import current, head

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
SCHEMA_V4 = Path(__file__).with_name("schema_v4.sql")
SCHEMA_V5 = Path(__file__).with_name("schema_v5.sql")
NAME = "Mette Kirstine Sørensen"
PHONE = "+4520123456"
CHAT = "7391846250"
OTHER_PHONE = "+4520654321"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def enrolled(store: SqlStorage, ref: str = "p-anna", phone: str | None = PHONE, name: str = NAME) -> int:
    participant = await store.enroll(Enrollment(ref, name, "da", date(2025, 3, 3), "coach", phone), T0)
    return participant.id


async def raw_contact_values(store: SqlStorage) -> list[str]:
    """Every value stored in the address and profile rows, as the storage holds them."""
    async with store.engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(text("SELECT * FROM addresses"))).mappings()]
        rows += [dict(r) for r in (await conn.execute(text("SELECT * FROM profiles"))).mappings()]
    return [str(value) for row in rows for value in row.values()]


async def lived(store: SqlStorage, pid: int, ref: str, rev: int = 0) -> None:
    """One step with a bit of everything a person leaves behind, committed for `pid`."""
    step = StepRecord(
        pid, rev, {"at": "q1"}, at(10),
        inbound=InboundRecord("sms", f"SM-{pid}-{rev}", at(10)),
        answers=[AnswerRecord(1, "pss10", 1, "q1", 3, "3", at(10)),
                 AnswerRecord(1, "checkin", 1, "note", "har det skidt", "har det skidt", at(10))],
        scores=[ScoreRecord(1, "pss10", 1, "total", 20.0, "moderate", at(10))],
        outbox=[OutboundRecord("sms", {"text": "Tak for dit svar"}, at(10))],
        audit=[AuditRecord(f"participant:{ref}", "run.completed", f"participant:{ref}", at(10))],
        escalations=[EscalationRecord("high", "text", {"matched": "selvmord", "text": "tanker om selvmord"},
                                      at(10), at(900))],
        schedule=[ScheduledRecord("module:2", "module", at(86400), {"module": 2}),
                  ScheduledRecord("timer:expire:1", "run_expiry", at(3600), {"key": "expire:1"})],
        tasks=[CoachTaskRecord("tre_checkin", {"run_seq": 1}, at(10))],
        marks=[MarkRecord("wave_run", "baseline", {"flow_id": "pss10", "run_seq": 1}, at(10)),
               MarkRecord("coach_note", "", {"text": "ringede, har det bedre"}, at(10))],
    )
    assert (await store.commit_step(step)).status is CommitStatus.COMMITTED


# --- contract: sealed at rest, found as before ---


async def test_names_and_addresses_are_encrypted_at_rest_and_found_as_before(store: SqlStorage) -> None:
    pid = await enrolled(store)
    await store.set_address(pid, "telegram", CHAT, AddressStatus.ACTIVE, at(1))
    stored = " ".join(await raw_contact_values(store))
    for secret in (NAME, PHONE, PHONE.removeprefix("+"), CHAT):
        assert secret not in stored
    assert (await store.participant_by_address("sms", PHONE)) is not None
    assert (await store.participant_by_address("telegram", CHAT)) is not None
    assert await store.participant_by_address("sms", CHAT) is None  # the channel is part of the hash
    assert [(a.channel, a.address) for a in await store.addresses(pid)] == [("sms", PHONE), ("telegram", CHAT)]
    profile = await store.profile(pid)
    assert profile is not None and profile.name == NAME
    # Moving to another number frees the old one; the same number on another person is still refused.
    await store.set_address(pid, "sms", OTHER_PHONE, AddressStatus.OPTED_OUT, at(2))
    assert await store.participant_by_address("sms", PHONE) is None
    with pytest.raises(ValueError, match="address"):
        await store.set_address(await enrolled(store, "p-bo", PHONE, "Bo"), "sms", OTHER_PHONE,
                                AddressStatus.ACTIVE, at(3))


async def test_a_sealed_value_differs_every_time_and_the_hash_does_not(store: SqlStorage) -> None:
    """Equal numbers cannot be told apart in the file (random tokens), but the keyed hash finds them."""
    keys = store.keys
    assert keys.seal(PHONE) != keys.seal(PHONE)
    assert keys.open(keys.seal(PHONE)) == PHONE
    assert keys.digest("sms", PHONE) == keys.digest("sms", PHONE) != keys.digest("telegram", PHONE)
    assert keys.digest("sms", PHONE) != Keys.generate().digest("sms", PHONE)  # no key, no lookup


# --- contract: one person's data ---


async def test_person_data_holds_everything_stored_about_one_person_and_nobody_else(store: SqlStorage) -> None:
    anna = await enrolled(store)
    bo = await enrolled(store, "p-bo", OTHER_PHONE, "Bo Hansen")
    await store.set_address(anna, "telegram", CHAT, AddressStatus.ACTIVE, at(1))
    await store.record_consent(anna, "terms-1", at(2), "telegram")
    await lived(store, anna, "p-anna")
    await lived(store, bo, "p-bo")
    [escalation] = [e.id for e in await store.escalations() if e.participant_id == anna]
    await store.add_notification(escalation, "coach", "console", 0, at(11))
    await store.record_audit(AuditRecord("coach:coach", "overview.viewed", "participant:p-anna", at(12)))
    await store.add_link_code(anna, "digest-1", at(100), at(1))

    data = await store.person_data(anna)
    assert data is not None
    assert data["participants"] == [{"id": anna, "ref": "p-anna", "lang": "da", "created_at": utc_text(T0)}]
    [profile] = data["profiles"]
    assert (profile["name"], profile["consent_version"], profile["consent_channel"]) == (NAME, "terms-1", "telegram")
    assert sorted((a["channel"], a["address"]) for a in data["addresses"]) == [("sms", PHONE), ("telegram", CHAT)]
    assert all("address_hash" not in a for a in data["addresses"])
    assert [c["state"] for c in data["conversations"]] == [{"at": "q1"}]
    assert sorted((a["item_id"], a["value"]) for a in data["answers"]) == [("note", "har det skidt"), ("q1", 3)]
    assert [(sc["score_id"], sc["value"]) for sc in data["scores"]] == [("total", 20.0)]
    assert [o["payload"] for o in data["outbox"]] == [{"text": "Tak for dit svar"}]
    assert [i["channel_message_id"] for i in data["inbox"]] == [f"SM-{anna}-0"]
    assert [e["level"] for e in data["escalations"]] == ["high"]
    assert [t["trigger"]["text"] for t in data["escalation_triggers"]] == ["tanker om selvmord"]
    assert [n["coach_id"] for n in data["notifications"]] == ["coach"]
    assert sorted(r["key"] for r in data["schedule"]) == ["module:2", "timer:expire:1"]
    assert [t["kind"] for t in data["coach_tasks"]] == ["tre_checkin"]
    assert sorted(m["kind"] for m in data["programme_marks"]) == ["coach_note", "wave_run"]
    assert [c["code_digest"] for c in data["link_codes"]] == ["digest-1"]
    actions = {row["action"] for row in data["audit_log"]}
    assert {"participant.enrolled", "address.changed", "consent.recorded", "run.completed", "escalation.opened",
            "overview.viewed"} <= actions
    json.dumps(data)  # JSON-ready as it is
    everything = json.dumps(data, ensure_ascii=False)
    assert "p-bo" not in everything and OTHER_PHONE not in everything and "Bo Hansen" not in everything
    assert await store.person_data(999) is None


async def test_erase_removes_everything_about_one_person_and_nothing_else(store: SqlStorage) -> None:
    anna = await enrolled(store)
    bo = await enrolled(store, "p-bo", OTHER_PHONE, "Bo Hansen")
    await store.set_address(anna, "telegram", CHAT, AddressStatus.ACTIVE, at(1))
    await lived(store, anna, "p-anna")
    await lived(store, bo, "p-bo")
    await store.record_audit(AuditRecord("coach:coach", "overview.viewed", "participant:p-anna", at(12)))
    await store.record_audit(AuditRecord("admin:root", "person.exported", "participant:p-anna", at(13)))
    bo_before = await store.person_data(bo)

    [counts] = await store.erase_participants([anna], "admin:root", "request", at(20))
    assert counts is not None and counts["participants"] == 1 and counts["answers"] == 2 and counts["scores"] == 1
    assert await store.person_data(anna) is None
    assert await store.participant_by_address("sms", PHONE) is None
    assert await store.participant_by_address("telegram", CHAT) is None
    assert [e.participant_id for e in await store.escalations()] == [bo]
    assert all(row["participant"] == "p-bo" for row in [*await store.export_answers(), *await store.export_scores()])
    assert await store.person_data(bo) == bo_before  # nobody else is touched
    # What staff did stays accountable, about nobody; the person's own doing is gone; the erase names no one.
    entries = await store.audit_entries()
    assert not any("p-anna" in json.dumps([e.actor, e.subject, dict(e.detail)]) for e in entries)
    assert [(e.actor, e.action) for e in entries if e.subject == "participant:erased"] == [
        ("admin:root", "person.erased"), ("admin:root", "person.exported"), ("coach:coach", "overview.viewed"),
        ("admin", "participant.enrolled"),
    ]
    erased = entries[0]
    assert erased.detail["reason"] == "request" and erased.detail["rows"] == counts
    # The number is free again: the person can be enrolled anew.
    assert await enrolled(store, "p-anna-2", PHONE) > bo
    assert await store.erase_participants([anna, 999], "admin:root", "request", at(30)) == [None, None]


async def test_erase_can_keep_the_scores_under_an_anonymous_participant(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await lived(store, anna, "p-anna")
    await store.erase_participants([anna], "system", "retention", at(20), keep_scores=True)
    [score] = await store.export_scores()
    assert score["participant"].startswith("anon-") and (score["score_id"], score["value"]) == ("total", 20.0)
    assert await store.export_answers() == []
    # the wave a score belongs to stays with it; a coach's note does not
    assert [(m.kind, m.key) for m in await store.marks()] == [("wave_run", "baseline")]
    assert await store.start_dates() == []  # the anonymous holder is nobody: not listed, not erased by time
    [erased] = [e for e in await store.audit_entries() if e.action == "person.erased"]
    assert erased.detail["anonymised_scores"] == 1 and erased.detail["reason"] == "retention"
    assert score["participant"] not in json.dumps(dict(erased.detail))


async def test_start_dates_list_everyone_with_their_programme_start(store: SqlStorage) -> None:
    anna = await enrolled(store)
    console = await store.get_or_create_participant("demo", "da", T0)
    assert [(p.id, start) for p, start in await store.start_dates()] == [(anna, date(2025, 3, 3)), (console.id, None)]


async def test_erase_checks_its_arguments(store: SqlStorage) -> None:
    anna = await enrolled(store)
    with pytest.raises(ValueError, match="reason"):
        await store.erase_participants([anna], "admin:root", "because", T0)
    with pytest.raises(ValueError, match="actor"):
        await store.erase_participants([anna], " ", "request", T0)
    assert await store.person_data(anna) is not None


# --- SQLite only: keys ---


def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (DATA_KEY, LOOKUP_KEY, RESEARCH_KEY):
        monkeypatch.delenv(name, raising=False)


async def test_a_development_key_file_is_made_once_owner_only_and_used_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _no_key_env(monkeypatch)
    db = tmp_path / "data" / "bot.db"
    store = await open_storage(db)
    try:
        pid = await enrolled(store)
    finally:
        await store.close()
    key_file = key_file_for(db)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert set(json.loads(key_file.read_text())) == {DATA_KEY, LOOKUP_KEY, RESEARCH_KEY}
    assert "production must set them" in caplog.text.lower()
    before = key_file.read_bytes()
    again = await open_storage(db)
    try:
        assert (await again.participant_by_address("sms", PHONE)) is not None
        profile = await again.profile(pid)
        assert profile is not None and profile.name == NAME
    finally:
        await again.close()
    assert key_file.read_bytes() == before
    key_file.chmod(0o640)  # readable by the group: the keys are no longer the owner's alone
    with pytest.raises(KeyConfigError, match="readable by them only"):
        await open_storage(db)
    key_file.chmod(0o600)


async def test_keys_from_the_environment_and_wrong_keys_refused(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    values = new_key_values()
    monkeypatch.setenv(DATA_KEY, values[DATA_KEY])
    monkeypatch.setenv(LOOKUP_KEY, values[LOOKUP_KEY])
    monkeypatch.delenv(RESEARCH_KEY, raising=False)
    db = tmp_path / "bot.db"
    store = await open_storage(db)
    try:
        await enrolled(store)
        assert store.keys.research is None
    finally:
        await store.close()
    assert not key_file_for(db).exists()  # production: no key file, ever

    other = new_key_values()
    monkeypatch.setenv(DATA_KEY, other[DATA_KEY])
    with pytest.raises(KeyConfigError, match=DATA_KEY):
        await open_storage(db)
    monkeypatch.setenv(DATA_KEY, f"{other[DATA_KEY]},{values[DATA_KEY]}")  # rotating: the old key still opens
    monkeypatch.setenv(LOOKUP_KEY, other[LOOKUP_KEY])
    with pytest.raises(KeyConfigError, match=LOOKUP_KEY):
        await open_storage(db)
    monkeypatch.setenv(LOOKUP_KEY, values[LOOKUP_KEY])
    rotated = await open_storage(db)
    try:
        assert await rotated.participant_by_address("sms", PHONE) is not None
    finally:
        await rotated.close()

    monkeypatch.delenv(LOOKUP_KEY)
    with pytest.raises(KeyConfigError, match="both"):
        SqlStorage(db)
    monkeypatch.setenv(LOOKUP_KEY, "too short")
    with pytest.raises(KeyConfigError, match="at least 32"):
        SqlStorage(db)
    monkeypatch.setenv(DATA_KEY, "not-a-fernet-key")
    monkeypatch.setenv(LOOKUP_KEY, values[LOOKUP_KEY])
    with pytest.raises(KeyConfigError) as refused:
        SqlStorage(db)
    assert "not-a-fernet-key" not in str(refused.value)


def test_tokens_are_aes_gcm_and_fernet_tokens_written_before_still_open() -> None:
    values = new_key_values()
    keys = Keys.from_values(values[DATA_KEY], values[LOOKUP_KEY])
    token = keys.seal("Jeg kan ikke mere 💔")
    assert base64.urlsafe_b64decode(token)[0] == GCM_VERSION
    assert keys.open(token) == "Jeg kan ikke mere 💔"
    assert keys.seal("") != keys.seal("") and keys.open(keys.seal("")) == ""
    older = Fernet(values[DATA_KEY].encode()).encrypt(b"+4512345678").decode()  # a token from before
    assert keys.open(older) == "+4512345678"
    stray = Keys.from_values(values[DATA_KEY][:10] + "æ" + values[DATA_KEY][10:], values[LOOKUP_KEY])
    assert stray.open(token) == "Jeg kan ikke mere 💔"  # a key Fernet accepted (stray characters ignored) still works


def test_a_rotated_key_opens_both_kinds_and_a_wrong_or_altered_token_is_refused() -> None:
    old, new = new_key_values(), new_key_values()
    before = Keys.from_values(old[DATA_KEY], old[LOOKUP_KEY])
    gcm, fernet = before.seal("Anna"), Fernet(old[DATA_KEY].encode()).encrypt(b"Bo").decode()
    rotated = Keys.from_values(f"{new[DATA_KEY]},{old[DATA_KEY]}", old[LOOKUP_KEY])
    assert (rotated.open(gcm), rotated.open(fernet)) == ("Anna", "Bo")
    assert Keys.from_values(new[DATA_KEY], old[LOOKUP_KEY]).open(rotated.seal("Cy")) == "Cy"  # the first seals
    stranger = Keys.from_values(new[DATA_KEY], old[LOOKUP_KEY])
    raw = bytearray(base64.urlsafe_b64decode(gcm))
    raw[-1] ^= 1
    for refused in (stranger, before):
        token = gcm if refused is stranger else base64.urlsafe_b64encode(bytes(raw)).decode()
        with pytest.raises(KeyConfigError, match=DATA_KEY):
            refused.open(token)
    short_tag = base64.urlsafe_b64encode(bytes((GCM_VERSION,)) + b"n" * 12 + b"12345").decode()
    for garbage in ("", "not base64 at all!", "gQ", "gQ==", short_tag):
        with pytest.raises(KeyConfigError):
            before.open(garbage)


def test_research_pseudonyms_are_stable_and_need_the_key() -> None:
    keys, other = Keys.generate(), Keys.generate()
    assert keys.pseudonym("p-anna") == keys.pseudonym("p-anna") != keys.pseudonym("p-bo")
    assert keys.pseudonym("p-anna") != other.pseudonym("p-anna")
    assert "anna" not in keys.pseudonym("p-anna")
    without = Keys.from_values(new_key_values()[DATA_KEY], "x" * 32)
    with pytest.raises(KeyConfigError, match=RESEARCH_KEY):
        without.pseudonym("p-anna")


# --- SQLite only: what an erase leaves, and migration 6 ---


async def test_erase_leaves_no_row_that_points_at_the_person(sqlite_store: SqlStorage) -> None:
    anna = await enrolled(sqlite_store)
    await lived(sqlite_store, anna, "p-anna")
    await sqlite_store.erase_participants([anna], "admin:root", "request", at(20))
    async with sqlite_store.engine.connect() as conn:
        for table in s.metadata.sorted_tables:
            if "participant_id" in table.c:
                left = (await conn.execute(text(f"SELECT count(*) FROM {table.name} WHERE participant_id = {anna}")))
                assert left.scalar() == 0, table.name
        assert (await conn.execute(text("PRAGMA foreign_key_check"))).all() == []


def normalised_schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    conn.close()
    return {(kind, name, " ".join(sql.replace("(", " ( ").replace(")", " ) ").split())) for kind, name, sql in rows}


def version_5_database(path: Path) -> None:
    """A database as migrations 1 to 5 left it, with contact details and a name in plaintext."""
    stamp = "'2025-01-01T00:00:00.000000+00:00'"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V5.read_text())
        for version in range(1, 6):
            conn.execute(f"INSERT INTO schema_migrations VALUES ({version}, 'migration {version}', {stamp})")
        conn.execute(f"INSERT INTO participants VALUES (1, 'p-old', 'da', {stamp})")
        conn.execute(f"INSERT INTO participants VALUES (2, 'p-console', 'da', {stamp})")
        conn.execute(f"INSERT INTO profiles VALUES (1, '{NAME}', '2025-01-06', 'coach', 'terms-1', {stamp}, 'c-1')")
        conn.execute(f"INSERT INTO profiles VALUES (2, '', NULL, NULL, 'terms-1', {stamp}, NULL)")
        conn.execute(f"INSERT INTO addresses VALUES (1, 'sms', '{PHONE}', 'active', {stamp})")
        conn.execute(f"INSERT INTO addresses VALUES (1, 'telegram', '{CHAT}', 'unreachable', {stamp})")
        conn.execute(
            "INSERT INTO outbox (id, participant_id, channel, payload, created_at, sent_at, attempts, provider_id) "
            f"VALUES (1, 1, 'telegram', '{{\"text\":\"hej\"}}', {stamp}, {stamp}, 1, '{CHAT}:77')"
        )
        conn.execute(
            "INSERT INTO outbox (id, participant_id, channel, payload, created_at, sent_at, attempts, provider_id) "
            f"VALUES (2, 1, 'sms', '{{\"text\":\"hej\"}}', {stamp}, {stamp}, 1, 'SM-2')"
        )
    conn.close()


def test_schema_v5_sql_is_version_4_plus_migration_5(tmp_path: Path) -> None:
    """schema_v5.sql is what it claims: schema_v4.sql migrated by the frozen migration 5."""
    v4 = tmp_path / "v4.sqlite"
    with sqlite3.connect(v4) as conn:
        conn.executescript(SCHEMA_V4.read_text())
    conn.close()
    engine = create_engine(f"sqlite:///{v4}")
    try:
        with engine.begin() as sync:
            MIGRATIONS[4].apply(sync)
    finally:
        engine.dispose()
    v5 = tmp_path / "v5.sqlite"
    version_5_database(v5)
    assert normalised_schema(v4) == normalised_schema(v5)


def file_bytes(db: Path) -> bytes:
    """The database file and its WAL, read by another process: closing a descriptor of them here would drop the
    POSIX locks SQLite holds for the connections open in this process."""
    code = "import os, sys; sys.stdout.buffer.write(b''.join(open(p, 'rb').read() for p in sys.argv[1:] " \
           "if os.path.exists(p)))"
    return subprocess.run([sys.executable, "-c", code, str(db), f"{db}-wal"], capture_output=True, check=True,
                          timeout=60).stdout


async def test_migration_6_encrypts_what_a_version_5_database_holds(tmp_path: Path) -> None:
    old = tmp_path / "v5.sqlite"
    version_5_database(old)
    assert NAME.encode() in file_bytes(old) and PHONE.encode() in file_bytes(old)
    keys = Keys.generate()
    store = SqlStorage(old, keys=keys)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current) == head()  # the numbered migrations, then Alembic's revisions
            provider_ids = (await conn.execute(text("SELECT provider_id FROM outbox ORDER BY id"))).scalars().all()
        assert provider_ids == ["telegram:1:77", "SM-2"]  # the chat id is gone from the provider id
        participant = await store.participant_by_address("sms", PHONE)
        assert participant is not None and participant.ref == "p-old"
        assert (await store.participant_by_address("telegram", CHAT)) == participant
        assert [(a.channel, a.address, a.status) for a in await store.addresses(1)] == [
            ("sms", PHONE, AddressStatus.ACTIVE), ("telegram", CHAT, AddressStatus.UNREACHABLE)]
        profile = await store.profile(1)
        assert profile is not None and (profile.name, profile.cohort, profile.consent_channel) == (NAME, "c-1", None)
        console = await store.profile(2)
        assert console is not None and console.name == ""
        assert (await store.outbox_by_provider_id("SM-2")) is not None
        raw = file_bytes(old)  # while open, as a running bot has it: nothing is left for a checkpoint to clean
        for secret in (NAME, PHONE, PHONE.removeprefix("+"), CHAT):
            assert secret.encode() not in raw, secret  # scrubbed: not in free space, old pages or the WAL
    finally:
        await store.close()

    fresh = tmp_path / "fresh.sqlite"
    new = await open_storage(fresh)
    await new.close()
    assert normalised_schema(old) == normalised_schema(fresh)


def test_migration_6_needs_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "v5.sqlite"
    version_5_database(path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as sync, pytest.raises(RuntimeError, match="keys"):
            MIGRATIONS[5].apply(sync)
    finally:
        engine.dispose()
    assert os.path.getsize(path) > 0 and PHONE.encode() in file_bytes(path)  # rolled back: nothing lost

