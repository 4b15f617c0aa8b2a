"""Migration 9: the run-expiry timers of a version-8 database become schedule rows, and the ``timers`` table goes.

SQLite only (a file made at version 8 from the frozen schema_v8.sql); the schedule rows' rules themselves are the
contract tests' (test_storage_programme.py).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

from storage import ScheduleStatus, SqlStorage, open_storage
from storage.crypto import Keys
from storage.legacy_migrations import MIGRATIONS, apply_migrations
from storage.upgrade import current, head
from tests.storage.test_storage_encryption import SCHEMA_V5, normalised_schema

SCHEMA_V8 = Path(__file__).with_name("schema_v8.sql")
STAMP = "2025-01-01T00:00:00.000000+00:00"
DUE = datetime(2025, 1, 8, 0, 0, tzinfo=UTC)


def version_8_database(path: Path) -> None:
    """A database as migrations 1 to 8 left it: two participants (one never enrolled) with pending expiry timers,
    and a programme row of one of them."""
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V8.read_text())
        for version in range(1, 9):
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, f"migration {version}", STAMP))
        conn.execute("INSERT INTO participants VALUES (1, 'console-demo', 'da', ?)", (STAMP,))
        conn.execute("INSERT INTO participants VALUES (2, 'p-old', 'da', ?)", (STAMP,))
        conn.execute("INSERT INTO timers VALUES (1, 'expire:3', ?)", (DUE.isoformat(timespec="microseconds"),))
        conn.execute("INSERT INTO timers VALUES (2, 'expire:1', '2025-01-02T00:00:00.000000+00:00')")
        conn.execute("INSERT INTO schedule (participant_id, \"key\", kind, due_at, data, status, reason, created_at) "
                     "VALUES (2, 'module:1', 'module', ?, '{\"module\":1}', 'pending', '', ?)", (STAMP, STAMP))
    conn.close()


def test_schema_v8_sql_is_version_5_plus_migrations_6_to_8(tmp_path: Path) -> None:
    """schema_v8.sql is what it claims: schema_v5.sql migrated by the frozen migrations 6, 7 and 8."""
    v5 = tmp_path / "v5.sqlite"
    with sqlite3.connect(v5) as conn:
        conn.executescript(SCHEMA_V5.read_text())
        for version in range(1, 6):
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, f"migration {version}", STAMP))
    conn.close()
    engine = create_engine(f"sqlite:///{v5}")
    try:
        with engine.begin() as sync:
            assert apply_migrations(sync, MIGRATIONS[:8], keys=Keys.generate()) == [6, 7, 8]
    finally:
        engine.dispose()
    v8 = tmp_path / "v8.sqlite"
    version_8_database(v8)
    assert normalised_schema(v5) == normalised_schema(v8)


async def test_migration_9_moves_pending_timers_into_the_schedule_and_drops_their_table(tmp_path: Path) -> None:
    old = tmp_path / "v8.sqlite"
    version_8_database(old)
    store = SqlStorage(old)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current) == head()  # the numbered migrations, then Alembic's revisions
        [timer] = await store.schedule_of(1)  # the participant without a profile has theirs too
        # The rows bot/timers.py plans: key "timer:<key>", kind run_expiry, the engine's key in the data.
        assert (timer.key, timer.kind, timer.due_at, timer.data, timer.status, timer.reason) == (
            "timer:expire:3", "run_expiry", DUE, {"key": "expire:3"}, ScheduleStatus.PENDING, "")
        assert [(r.key, r.kind) for r in await store.schedule_of(2)] == [("module:1", "module"),
                                                                        ("timer:expire:1", "run_expiry")]
        # Claimed with a lease like every other row, earliest first.
        claimed = await store.claim_schedule(DUE, 10, DUE.replace(hour=1))
        assert [(r.participant_id, r.key) for r in claimed] == [(2, "module:1"), (2, "timer:expire:1"),
                                                               (1, "timer:expire:3")]
        assert await store.claim_schedule(DUE, 10, DUE.replace(hour=1)) == []
    finally:
        await store.close()
    assert "timers" not in {name for _, name, _ in normalised_schema(old)}
    fresh = tmp_path / "fresh.sqlite"
    await (await open_storage(fresh)).close()
    assert normalised_schema(old) == normalised_schema(fresh)
