"""Numbered schema migrations, recorded in ``schema_migrations`` and applied in order exactly once.

Migration 1 creates every table from `storage.schema.metadata`. Because that metadata is always the *current*
schema, an empty database gets all tables in their newest shape at once and every later migration is recorded
as applied without running; later migrations therefore only ever run against databases created before them.
To change the schema: edit `schema.py` and append a migration that brings an existing database to that shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, inspect, select

from storage.schema import ledger_metadata, metadata, schema_migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_initial_schema(conn: Connection) -> None:
    metadata.create_all(conn)


MIGRATIONS: tuple[Migration, ...] = (Migration(1, "create initial schema", _create_initial_schema),)


def _check_numbering(migrations: tuple[Migration, ...]) -> None:
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise RuntimeError("migrations must be numbered 1..N without gaps")


def apply_migrations(
    conn: Connection, migrations: tuple[Migration, ...] = MIGRATIONS, now: datetime | None = None
) -> list[int]:
    """Apply the missing migrations inside the caller's (write-locked) transaction; return their versions."""
    _check_numbering(migrations)
    at = now or datetime.now(UTC)
    ledger_metadata.create_all(conn)
    applied = set(conn.execute(select(schema_migrations.c.version)).scalars())
    known = {m.version for m in migrations}
    if unknown := applied - known:
        raise RuntimeError(f"database has migrations this code does not know: {sorted(unknown)}")
    fresh = not applied and not (set(inspect(conn).get_table_names()) & set(metadata.tables))
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        if not (fresh and migration.version > 1):
            migration.apply(conn)
        conn.execute(insert(schema_migrations).values(version=migration.version, name=migration.name, applied_at=at))
        done.append(migration.version)
    return done
