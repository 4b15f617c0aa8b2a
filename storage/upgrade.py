"""Bring a database's schema to the newest Alembic revision (storage/alembic), whatever made it.

Three kinds of database arrive here:

- an empty one: Alembic runs every revision from the baseline, which creates today's tables;
- one the numbered migrations made before Alembic (it has their ledger, ``schema_migrations``): the ones it lacks run
  first (storage/legacy_migrations.py, frozen), then, in the same transaction, the ledger goes and the database is
  stamped at the baseline revision, whose schema is theirs at version 10; Alembic takes it on from there;
- one Alembic already looks after (``alembic_version``): the revisions it lacks run.

Anything else (tables but neither ledger, or a revision this code does not know: a newer bot upgraded it) is refused
with a sentence for the administrator. `upgrade` runs in the caller's transaction, on its connection (PostgreSQL: the
storage's; a transaction-level advisory lock is taken here, so two processes starting together upgrade once and the
second finds the work done). A SQLite file is upgraded by `upgrade_file`, on a connection of its own under
``BEGIN IMMEDIATE`` with foreign keys off (see there). An upgrade that fails leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import (
    URL,
    Connection,
    Engine,
    MetaData,
    NullPool,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    select,
    text,
)

from storage.crypto import KEYS_INFO, Keys
from storage.legacy_migrations import LEDGER, apply_migrations, schema_migrations
from storage.sql.schema import metadata

SCRIPTS = Path(__file__).with_name("alembic")
VERSION_TABLE = "alembic_version"  # as storage/alembic/env.py configures it
BASELINE = "0001"  # storage/alembic/versions/v0001_baseline.py: the schema of legacy version 10
_LOCK_KEY = 0x5354_5245_5353  # PostgreSQL advisory lock of schema upgrades ("STRESS")


class UpgradeRefused(RuntimeError):
    """The database is not one this code can bring up to date; the message says what to do."""


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the numbered migrations run (old databases only), and the revision before and after."""

    legacy: tuple[int, ...]
    before: str | None  # None: an empty database, or one the numbered migrations made
    after: str


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, without an ini file: the scripts in storage/alembic, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")  # module names mypy and imports accept
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if found is None:
        raise RuntimeError("storage/alembic/versions has no revision")
    return found


def current(conn: Connection) -> str | None:
    """The revision the database is at; None when Alembic has not stamped it (empty, or made before Alembic)."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def legacy_version(conn: Connection) -> int | None:
    """The newest numbered migration of a database made before Alembic (None: it has no such ledger)."""
    if LEDGER not in inspect(conn).get_table_names():
        return None
    return conn.execute(select(func.max(schema_migrations.c.version))).scalar()


def differences(conn: Connection, models: MetaData = metadata) -> list[Any]:
    """What the database's schema and the models (storage.sql.schema) disagree on, as Alembic's autogenerate sees it
    (``alembic check``): empty when every revision matches the models. Tables outside the models are reported too."""
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                     "version_table": VERSION_TABLE})
    return list(compare_metadata(context, models))


@contextmanager
def sync_engine(target: str | os.PathLike[str]) -> Iterator[Engine]:
    """A synchronous engine on a database file or URL (as BOT_DB names it), for tools that only read its schema;
    disposed afterwards."""
    raw = os.fspath(target)
    url: URL = make_url(raw) if "://" in raw else URL.create("sqlite", database=str(Path(raw).expanduser()))
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")
    engine = create_engine(url, hide_parameters=True)
    try:
        yield engine
    finally:
        engine.dispose()


def new_revision(message: str, scratch: Path) -> Path | None:
    """Developers: write the next revision (``vNNNN_<message>.py``), autogenerated from what the models have and a
    database at the newest revision (a scratch SQLite file) lacks; None when they agree. The file is a draft: its
    types must be frozen and its operations checked on both dialects."""
    engine = create_engine(URL.create("sqlite", database=str(scratch)))
    try:
        with engine.begin() as conn:
            upgrade(conn)
            if not differences(conn):
                return None
            written = command.revision(alembic_config(conn), message=message, autogenerate=True,
                                       rev_id=f"{int(head()) + 1:04d}")
    finally:
        engine.dispose()
    if not isinstance(written, Script) or written.path is None:
        raise RuntimeError("Alembic wrote no revision file")
    return Path(written.path)


def upgrade(conn: Connection, keys: Keys | None = None) -> Upgrade:
    """Bring the database on `conn` to the newest revision inside the caller's transaction (see the module docstring).

    `keys` are lent to migrations that convert data (``conn.info[KEYS_INFO]``): the numbered migrations 6 and 7 seal
    contact details and messages with them, and later revisions find them in the same place."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    with _keys_lent(conn, keys):
        tables = set(inspect(conn).get_table_names())
        before = current(conn) if VERSION_TABLE in tables else None
        legacy: tuple[int, ...] = ()
        if VERSION_TABLE in tables:
            _require_known(before)
        elif LEDGER in tables:
            legacy = tuple(apply_migrations(conn))
            conn.execute(text(f"DROP TABLE {LEDGER}"))
            command.stamp(alembic_config(conn), BASELINE)
        elif tables & set(metadata.tables):
            raise UpgradeRefused(
                "the database has the bot's tables but no migration ledger (neither alembic_version nor "
                "schema_migrations): restore it from a backup, or point BOT_DB at an empty database")
        elif tables:
            raise UpgradeRefused(f"the database holds other tables ({', '.join(sorted(tables))}), not the bot's: "
                                 "point BOT_DB at an empty database or the bot's own")
        command.upgrade(alembic_config(conn), "head")
    after = current(conn)
    if after is None:
        raise RuntimeError("Alembic did not stamp the database")
    return Upgrade(legacy=legacy, before=before, after=after)


def upgrade_file(path: Path, keys: Keys | None = None) -> Upgrade:
    """`upgrade` a SQLite file on a connection of its own, with foreign keys off for the transaction.

    SQLite changes a table others refer to by copying it, dropping the old one and renaming the copy (Alembic's batch
    mode); with foreign keys on, that drop fails (and ``defer_foreign_keys`` only moves the failure to COMMIT), and
    they can only be turned off outside a transaction: so here, before ``BEGIN IMMEDIATE``, as SQLite's documentation
    for such changes says. ``PRAGMA foreign_key_check`` must then find nothing, or the whole upgrade rolls back. The
    other pragmas are the storage's (WAL, synchronous=FULL: an upgrade is committed as durably as a step)."""
    engine = create_engine(URL.create("sqlite", database=str(path)), poolclass=NullPool, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours (below), not the driver's
        for pragma in _SQLITE_PRAGMAS:
            dbapi_connection.execute(pragma)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as conn:
            done = upgrade(conn, keys)
            if broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all():
                raise RuntimeError(f"the upgrade would leave {len(broken)} rows referring to rows that do not exist "
                                   f"(first in table {broken[0][0]}); nothing was changed")
        return done
    finally:
        engine.dispose()


_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=5000",
                   "PRAGMA foreign_keys=OFF")


def _require_known(revision: str | None) -> None:
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if revision is not None and revision not in known:
        raise UpgradeRefused(
            f"the database is at schema revision {revision}, which this version of the bot does not know: a newer "
            "version upgraded it. Run that version, or restore the backup taken before its upgrade")


@contextmanager
def _keys_lent(conn: Connection, keys: Keys | None) -> Iterator[None]:
    if keys is None:
        yield
        return
    conn.info[KEYS_INFO] = keys
    try:
        yield
    finally:
        conn.info.pop(KEYS_INFO, None)
