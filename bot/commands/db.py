"""`db upgrade`, `db current`, `db check` (administrators: the database's schema against this version of the bot) and
`db revision` (developers: a new Alembic revision after a change to storage/sql/schema.py)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bot import config
from bot.commands.common import Commands, handled_by


def add_parser(commands: Commands) -> None:
    db = commands.add_parser("db", help="the database's schema: upgrade it, see its revision, check it")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade", help="bring the schema to this version's newest revision (the bot also does it when it starts)")
    config.add_db_argument(upgrade)
    handled_by(upgrade, _upgrade, existing_db=True)  # a typo must not make an empty database
    current = db_commands.add_parser(
        "current", help="print the database's schema revision and this version's; exit 1 when it is behind")
    config.add_db_argument(current)
    handled_by(current, _current, existing_db=True)  # a typo must not make an empty database
    check = db_commands.add_parser(
        "check", help="compare the database's schema with the models; exit 1 and list what differs")
    config.add_db_argument(check)
    handled_by(check, _check, existing_db=True)  # a typo must not make an empty database
    revision = db_commands.add_parser(
        "revision",
        help="developers: write storage/alembic/versions/vNNNN_*.py from what storage/sql/schema.py changed")
    revision.add_argument("-m", "--message", required=True, help="what the change is, e.g. 'outbox: sent_by column'")
    handled_by(revision, _revision)


async def _upgrade(args: argparse.Namespace) -> int:
    from bot.settings import settings
    from storage import SqlStorage
    from storage.upgrade import current, head, sync_engine

    with sync_engine(args.db) as engine, engine.connect() as conn:
        before = current(conn)
    storage = SqlStorage(args.db, key_environ=settings().key_environ())
    try:
        await storage.migrate()  # as at start: one transaction, the file scrubbed after the encrypting migrations
    finally:
        await storage.close()
    print(f"schema revision {before or 'none'} -> {head()} (newest)")
    return 0


def _current(args: argparse.Namespace) -> int:
    from storage.upgrade import current, head, legacy_version, sync_engine

    with sync_engine(args.db) as engine, engine.connect() as conn:
        found, legacy = current(conn), legacy_version(conn)
    newest = head()
    if found == newest:
        print(f"schema revision {found} (newest)")
        return 0
    before = found or ("none" if legacy is None else f"none (numbered migration {legacy}, from before Alembic)")
    print(f"schema revision {before}; this version's newest is {newest}: run `db upgrade` (or start the bot)")
    return 1


def _check(args: argparse.Namespace) -> int:
    from storage.upgrade import current, differences, head, sync_engine

    with sync_engine(args.db) as engine, engine.connect() as conn:
        found, diffs = current(conn), differences(conn)
    if found != head():
        print(f"schema revision {found or 'none'}, not the newest ({head()}): run `db upgrade` first", file=sys.stderr)
        return 1
    for diff in diffs:
        print(diff)
    if diffs:
        print(f"{len(diffs)} differences between the database and the models (storage/sql/schema.py)", file=sys.stderr)
        return 1
    print(f"schema revision {found}: the database matches the models")
    return 0


def _revision(args: argparse.Namespace) -> int:
    from storage.upgrade import new_revision

    with tempfile.TemporaryDirectory() as scratch:
        path = new_revision(args.message, Path(scratch) / "head.sqlite")
    if path is None:
        print("storage/sql/schema.py matches the newest revision: nothing to write", file=sys.stderr)
        return 1
    print(f"wrote {path}: review it (frozen types, both dialects, data conversions), then test it")
    return 0
