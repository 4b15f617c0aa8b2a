"""An administrator upgrades and checks the database's schema (`python -m bot db ...`, bot/commands/db.py), on a file
today's `main` made and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from storage.crypto import new_key_values
from storage.upgrade import head
from tests.storage.test_storage_upgrade import V10_KEYS, as_upgraded, every_row, version_10_database
from tests.test_cli import bot


def test_an_administrator_upgrades_a_database_made_by_main(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = version_10_database(data / "bot.db")
    rows = every_row(db)

    behind = bot("db", "current", db=db, check=False)
    assert behind.returncode == 1
    assert "numbered migration 10, from before Alembic" in behind.stdout and "db upgrade" in behind.stdout

    assert bot("db", "upgrade", db=db, env=V10_KEYS).stdout == f"schema revision none -> {head()} (newest)\n"
    assert bot("db", "current", db=db).stdout == f"schema revision {head()} (newest)\n"
    assert bot("db", "check", db=db).stdout == f"schema revision {head()}: the database matches the models\n"
    assert bot("db", "upgrade", db=db, env=V10_KEYS).stdout == f"schema revision {head()} -> {head()} (newest)\n"

    after = every_row(db)
    assert after.pop("alembic_version") == [(head(),)]
    rows.pop("schema_migrations")
    assert after == as_upgraded(rows)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600 and stat.S_IMODE(data.stat().st_mode) == 0o700


def test_check_lists_what_the_database_lacks(tmp_path: Path) -> None:
    db = version_10_database(tmp_path / "bot.db")
    bot("db", "upgrade", db=db, env=V10_KEYS)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_schedule_pending_due_at")
    conn.close()
    drifted = bot("db", "check", db=db, check=False)
    assert drifted.returncode == 1
    assert "ix_schedule_pending_due_at" in drifted.stdout and "1 differences" in drifted.stderr


def test_a_mistyped_path_makes_no_database(tmp_path: Path) -> None:
    for action in ("upgrade", "current", "check"):
        result = bot("db", action, "--db", str(tmp_path / "bot.dbb"), check=False)
        assert result.returncode == 1 and "there is no database at" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_upgrade_and_check_on_postgresql(postgres_url: str) -> None:
    keys = new_key_values()  # a server database has no key file beside it
    assert bot("db", "current", "--db", postgres_url, check=False).returncode == 1
    assert bot("db", "upgrade", "--db", postgres_url, env=keys).stdout == f"schema revision none -> {head()} (newest)\n"
    assert bot("db", "check", "--db", postgres_url).returncode == 0
