"""The database's files are the owner's alone (issue 11, point 1): on a new database made by `bot chat`, `bot run`
(its console fallback) and `bot enroll`, the database, its WAL and shared-memory index are 0600 and a data directory
the bot creates is 0700, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from storage.files import private_database
from tests.test_cli import ROOT, bot

NO_CHANNELS = {"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_FROM": "", "TELEGRAM_BOT_TOKEN": ""}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private(db: Path) -> None:
    assert mode(db.parent) == 0o700, oct(mode(db.parent))
    for file in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), db.with_name(db.name + ".keys")):
        if file.exists():
            assert mode(file) == 0o600, f"{file.name}: {oct(mode(file))}"


def while_running(db: Path, *args: str) -> str:
    """Start `python -m bot ARGS` with a loose umask, say one line, and check the files while the process still has
    the database open (its WAL and index exist only then); then end it with Ctrl-D."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB": str(db), **NO_CHANNELS}
    process = subprocess.Popen([sys.executable, "-m", "bot", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, umask=0o022)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("2\n")
        process.stdin.flush()
        wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
        deadline = time.monotonic() + 60
        while not (wal.exists() and shm.exists()):
            assert time.monotonic() < deadline and process.poll() is None, process.stderr and process.stderr.read()
            time.sleep(0.05)
        assert_private(db)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    return out


def test_bot_chat_on_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "new-data" / "bot.db"
    out = while_running(db, "chat", "--participant", "demo", "--start", "pss10")
    assert "(2/10)" in out
    assert_private(db)


def test_bot_run_console_fallback_on_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "run-data" / "bot.db"
    while_running(db, "run", "--db", str(db))
    assert_private(db)


def test_bot_enroll_on_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "enrol-data" / "bot.db"
    bot("enroll", "--name", "Anna Jensen", "--phone", "12345678", db=db, env=NO_CHANNELS)
    assert_private(db)


def test_an_existing_database_others_could_read_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    for file in (db, tmp_path / "bot.db-wal"):
        file.write_bytes(b"")
        os.chmod(file, 0o644)
    os.chmod(tmp_path, 0o755)
    private_database(db)
    assert mode(db) == 0o600 and mode(tmp_path / "bot.db-wal") == 0o600
    assert mode(tmp_path) == 0o755  # a directory that already existed is not the bot's to change
