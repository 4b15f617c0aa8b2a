"""Alembic owns the schema (storage/upgrade.py, storage/alembic): a database today's `main` made is taken over without
losing a row, a new one is created by the baseline exactly as the numbered migrations made it, and the models and the
revisions agree, on SQLite and on the run's PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Column, Connection, Engine, MetaData, String, create_engine, text
from sqlalchemy.exc import OperationalError

import storage.upgrade as upgrade_module
from storage import (
    AuditRecord,
    OutboundRecord,
    ScheduledRecord,
    ScheduleStatus,
    SqlStorage,
    StepRecord,
)
from storage.alembic.versions.v0001_baseline import TABLES as BASELINE_TABLES
from storage.crypto import Keys
from storage.legacy_migrations import MIGRATIONS
from storage.sql.schema import metadata
from storage.upgrade import (
    BASELINE,
    SCRIPTS,
    Upgrade,
    UpgradeRefused,
    alembic_config,
    current,
    differences,
    head,
    legacy_version,
    new_revision,
    upgrade,
    upgrade_file,
)
from tests.storage.test_storage_encryption import normalised_schema
from tests.storage.test_storage_run_expiry import version_8_database

SCHEMA_V10 = Path(__file__).with_name("schema_v10.sql")
V10_KEYS = {  # the keys schema_v10.sql was sealed with (made for that file only)
    "BOT_DATA_KEY": "7vNmK1S0S4aF3xR8rQZrWn2o9hK0L5b1cXyPq3tU8eA=",
    "BOT_LOOKUP_KEY": "lookup-key-for-the-version-10-fixture-only",
    "BOT_RESEARCH_KEY": "research-key-for-the-version-10-fixture-only",
}
T1 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def version_10_database(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V10.read_text(encoding="utf-8"))
    conn.close()
    path.chmod(0o600)
    return path


def every_row(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as SQLite stores it (text, numbers, NULLs), in a stable order."""
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}
    conn.close()
    return found


def as_upgraded(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """A version-10 file's rows as they read after the revisions since the baseline: 0002 added the outbox's lease
    columns (claimed_by, claimed_until) last, empty, as no row is claimed; 0003 added the desk's four tables, 0004
    (arms) the randomised cohorts and allocations, 0005 the desk's challenges, 0008 the appointments and their
    attendees, all empty; 0009 (programme choice) the profiles' programme last, empty, as nobody enrolled before it
    chose one; 0011 channel_heartbeats the channels' heartbeats, empty; nothing else changes."""
    desk: dict[str, list[tuple[Any, ...]]] = {
        table: [] for table in ("desk_users", "desk_passkeys", "desk_sessions", "desk_login_failures",
                                "randomised_cohorts", "allocations", "desk_challenges", "appointments",
                                "appointment_attendees", "channel_heartbeats")}
    return {**rows, "outbox": [(*row, None, None) for row in rows["outbox"]],
            "profiles": [(*row, None) for row in rows["profiles"]], **desk}


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.sqlite'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on each backend: a SQLite file, and one of the run's PostgreSQL server."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else (
        f"sqlite:///{tmp_path / 'bot.sqlite'}")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_baseline_creates_exactly_what_the_numbered_migrations_made(sqlite_engine: Engine, tmp_path: Path) -> None:
    """On SQLite, byte for byte in sqlite_master: a database made by the baseline and one made by today's `main`
    differ only in their ledger."""
    with sqlite_engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
    made_by_main = version_10_database(tmp_path / "v10.sqlite")
    by_alembic = {entry for entry in normalised_schema(tmp_path / "bot.sqlite") if entry[1] != "alembic_version"}
    by_main = {entry for entry in normalised_schema(made_by_main) if entry[1] != "schema_migrations"}
    assert by_alembic == by_main
    baseline = [metadata.tables[name] for name in BASELINE_TABLES]  # later revisions add tables of their own...
    later = {"ix_outbox_participant_id_id", "ix_inbox_participant_id_received_at",  # ...and indexes (0006, 0007)
             "ix_escalations_participant_id_opened_at", "ix_scores_participant_id_flow_id_score_id_completed_at",
             "ix_programme_marks_participant_id_kind",
             "ix_audit_log_subject_at", "ix_audit_log_actor_at", "ix_outbox_given_up",  # (channel_heartbeats)
             "ix_schedule_claimed",  # (0012)
             "ix_outbox_unsent_person"}  # (0013)
    assert len(by_main) == len(baseline) + sum(len([i for i in t.indexes if i.name not in later]) for t in baseline)


async def test_a_database_made_by_main_is_taken_over_without_losing_a_row(tmp_path: Path) -> None:
    old = version_10_database(tmp_path / "bot.sqlite")
    before = every_row(old)
    assert sorted(before.pop("schema_migrations")) == [
        (m.version, m.name, "2026-12-06T10:48:02.076177+00:00") for m in MIGRATIONS]  # recognised by this ledger
    assert all(before.values())  # the fixture has rows in every table
    engine = create_engine(f"sqlite:///{old}")
    try:
        with engine.begin() as conn:
            assert (legacy_version(conn), current(conn)) == (10, None)
            report = upgrade(conn, Keys.generate())  # recognised at version 10: no numbered migration runs
            assert report == Upgrade(legacy=(), before=None, after=head())
            assert upgrade(conn) == Upgrade(legacy=(), before=head(), after=head())
            assert legacy_version(conn) is None
    finally:
        engine.dispose()
    after = every_row(old)
    assert after.pop("alembic_version") == [(head(),)]
    assert after == as_upgraded(before)  # every row of every table, unchanged

    # And the bot works on it with its keys: what was sealed opens, what was planned is still to come.
    store = SqlStorage(old, key_environ=V10_KEYS)
    try:
        await store.migrate()
        anna = await store.participant_by_address("sms", "+4520000001")
        assert anna is not None and anna.ref == "p-anna"
        profile = await store.profile(anna.id)
        assert profile is not None and (profile.name, profile.cohort, profile.start_date) == (
            "Anna Jensen", "bornholm-2026-1", date(2026, 11, 23))
        assert (await store.load_conversation(anna.id)).state == {
            "flow": "pss10", "item": "q2", "answers": {"q1": 3}}
        assert [a["value"] for a in await store.export_answers()] == [3, "træt"]
        [escalation] = await store.escalations()
        assert escalation.triggers[0].trigger == {"matched": "kan ikke mere", "text": "Jeg kan ikke mere"}
        assert [r.key for r in await store.schedule_of(anna.id)] == ["module:1", "wave:week4:open"]
        assert not await store.first_sighting("telegram", "coach-msg-1", T1)  # seen before the upgrade
        result = await store.commit_step(StepRecord(
            participant_id=anna.id, expected_revision=1, state={"flow": None}, at=T1,
            outbox=[OutboundRecord("sms", {"text": "Hej igen"}, T1)],
            audit=[AuditRecord("system", "test.after_upgrade", "participant:p-anna", T1)],
            schedule=[ScheduledRecord("module:2", "module", T1, {"module": 2})]))
        assert result.revision == 2 and result.outbox_ids == (3,)  # ids go on from the old rows
        claimed = await store.claim_schedule(T1, 10, T1.replace(hour=10))
        assert [(r.key, r.status) for r in claimed] == [("timer:expire:1", ScheduleStatus.PENDING),
                                                       ("module:1", ScheduleStatus.PENDING),
                                                       ("module:2", ScheduleStatus.PENDING)]
    finally:
        await store.close()


async def test_an_older_database_runs_the_numbered_migrations_then_alembics(tmp_path: Path) -> None:
    old = tmp_path / "v8.sqlite"
    version_8_database(old)
    engine = create_engine(f"sqlite:///{old}")
    try:
        with engine.begin() as conn:
            assert upgrade(conn, Keys.generate()) == Upgrade(legacy=(9, 10), before=None, after=head())
            assert differences(conn) == []
    finally:
        engine.dispose()


async def test_an_upgrade_that_fails_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """Numbered migration 9 runs (timers moved, their table dropped), then 10 fails: all of it rolls back."""
    old = tmp_path / "v8.sqlite"
    version_8_database(old)
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE seen_messages (x INTEGER)")  # in the way of migration 10
    conn.close()
    before = every_row(old)
    store = SqlStorage(old, keys=Keys.generate())
    try:
        with pytest.raises(OperationalError, match="already exists"):
            await store.migrate()
    finally:
        await store.close()
    assert every_row(old) == before
    assert before["timers"]  # still there, with its rows


REBUILD_PARTICIPANTS = """
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "{revision}", "{down_revision}", None, None


def upgrade() -> None:
    with op.batch_alter_table("participants", recreate="always") as batch:  # copy, drop, rename
        batch.alter_column("lang", existing_type=sa.String(16), type_=sa.String(32), existing_nullable=False)
"""
ORPHAN_A_LINK_CODE = """
from alembic import op

revision, down_revision, branch_labels, depends_on = "{revision}", "{down_revision}", None, None


def upgrade() -> None:
    op.execute("DELETE FROM participants WHERE ref = 'console-demo'")  # its link code stays behind
"""


def test_a_revision_may_rebuild_a_table_others_refer_to_on_sqlite(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's batch mode copies `participants` (every table refers to it), drops it and renames the copy: that runs
    (foreign keys off for the upgrade) and keeps every row; a revision that would leave a reference dangling is
    rolled back whole."""
    scripts = tmp_path / "alembic"
    shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    ours, rebuild, orphan = head(), f"{int(head()) + 1:04d}", f"{int(head()) + 2:04d}"  # after the real revisions
    (scripts / "versions" / f"v{rebuild}_rebuild_participants.py").write_text(
        REBUILD_PARTICIPANTS.format(revision=rebuild, down_revision=ours), encoding="utf-8")
    monkeypatch.setattr(upgrade_module, "SCRIPTS", scripts)
    db = version_10_database(tmp_path / "bot.sqlite")
    before = every_row(db)
    assert upgrade_file(db) == Upgrade(legacy=(), before=None, after=rebuild)
    after = every_row(db)
    assert after.pop("alembic_version") == [(rebuild,)] and before.pop("schema_migrations")
    assert after == as_upgraded(before)
    with sqlite3.connect(db) as conn:
        [(sql,)] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'participants'").fetchall()
    conn.close()
    assert "lang VARCHAR(32) NOT NULL" in sql

    (scripts / "versions" / f"v{orphan}_orphan_a_link_code.py").write_text(
        ORPHAN_A_LINK_CODE.format(revision=orphan, down_revision=rebuild), encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"1 rows referring to rows that do not exist \(first in table link_codes\)"):
        upgrade_file(db)
    assert every_row(db) == {**after, "alembic_version": [(rebuild,)]}


def test_databases_it_cannot_take_over_are_refused_with_what_to_do(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    with pytest.raises(UpgradeRefused, match="other tables"), sqlite_engine.begin() as conn:
        upgrade(conn)
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP TABLE invoices"))
        metadata.create_all(conn)  # the bot's tables, but no ledger: nobody knows their version
    with pytest.raises(UpgradeRefused, match="no migration ledger"), sqlite_engine.begin() as conn:
        upgrade(conn)


def test_a_database_a_newer_bot_upgraded_is_refused(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        upgrade(conn)
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(UpgradeRefused, match="newer version"), sqlite_engine.begin() as conn:
        upgrade(conn)
    with sqlite_engine.connect() as conn:
        assert current(conn) == "9999"  # left alone


def test_the_models_and_the_migrations_agree(any_engine: Engine) -> None:
    """`alembic check`'s comparison on each backend: a database made by the revisions has what storage.sql.schema says
    (tables, columns, types per dialect, nullability, defaults, indexes and their conditions, constraints)."""
    with any_engine.begin() as conn:
        assert upgrade(conn).after == head()
        assert differences(conn) == []


def test_the_comparison_sees_a_model_change_without_a_revision(any_engine: Engine) -> None:
    """The check above can fail: a column the models gained, or an index the database lost, is reported."""
    with any_engine.begin() as conn:
        upgrade(conn)
        changed = MetaData(naming_convention=metadata.naming_convention)
        for table in metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["profiles"].append_column(Column("nickname", String(50), nullable=True))
        [(kind, _, table, column)] = differences(conn, changed)
        assert (kind, table, column.name) == ("add_column", "profiles", "nickname")
        conn.execute(text("DROP INDEX ix_outbox_urgent"))
        assert [(d[0], d[1].name) for d in differences(conn)] == [("add_index", "ix_outbox_urgent")]


def test_on_postgresql_times_are_timestamptz_and_json_is_jsonb(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            upgrade(conn)
            types = column_types(conn)
    finally:
        engine.dispose()
    assert types["outbox"]["created_at"] == types["schedule"]["due_at"] == "timestamp with time zone"
    assert {types[t][c] for t, c in [("outbox", "payload"), ("inbox", "outcome_detail"), ("audit_log", "detail"),
                                     ("schedule", "data"), ("coach_tasks", "detail"),
                                     ("programme_marks", "detail")]} == {"jsonb"}
    assert types["conversations"]["state"] == "text"  # sealed (a Fernet token), not JSON
    every_time = {c for t, cols in types.items() for c, kind in cols.items() if kind == "timestamp with time zone"}
    assert every_time == {c.name for t in metadata.tables.values() for c in t.c
                          if type(c.type).__name__ == "UTCDateTime"}


def column_types(conn: Connection) -> dict[str, dict[str, str]]:
    rows = conn.execute(text("SELECT table_name, column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'public'")).all()
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        found.setdefault(table, {})[column] = kind
    return found


def test_two_processes_starting_together_upgrade_once(postgres_url: str) -> None:
    """Each bot process upgrades at start: on PostgreSQL an advisory lock makes the second wait and find it done."""
    engines = [create_engine(postgres_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports: list[Upgrade] = []
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            with engine.begin() as conn:
                barrier.wait(timeout=30)
                reports.append(upgrade(conn))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for engine in engines:
            engine.dispose()
    assert not any(thread.is_alive() for thread in threads)  # neither waits for ever on the other
    assert errors == []
    assert sorted(reports, key=lambda r: r.before or "") == [Upgrade(legacy=(), before=None, after=head()),
                                                               Upgrade(legacy=(), before=head(), after=head())]


def test_a_revision_is_drafted_only_when_the_models_changed(tmp_path: Path) -> None:
    """`python -m bot db revision` compares the models with a scratch database at the newest revision."""
    assert new_revision("nothing changed", tmp_path / "scratch.sqlite") is None
    assert "alembic_version" in every_row(tmp_path / "scratch.sqlite")
