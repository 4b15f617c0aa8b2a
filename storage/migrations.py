"""Numbered schema migrations, recorded in ``schema_migrations`` and applied in order exactly once.

Migration 1 creates every table from `storage.schema.metadata`. Because that metadata is always the *current*
schema, an empty database gets all tables in their newest shape at once and every later migration is recorded
as applied without running; later migrations therefore only ever run against databases created before them.
To change the schema: edit `schema.py` and append a migration that brings an existing database to that shape.
A migration must not build its DDL from `schema.py`'s tables (those keep changing): it carries a frozen copy of
what it creates, as migration 2 does. `tests/storage/test_storage_escalations.py` checks that a database created
by migration 1 and then migrated has exactly the schema of a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    literal_column,
    select,
    text,
)

from storage.schema import ledger_metadata, metadata, schema_migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_initial_schema(conn: Connection) -> None:
    metadata.create_all(conn)


def _create_escalation_tables(conn: Connection) -> None:
    """Migration 2: escalations, their triggers and coach notifications, frozen as they were at version 2."""
    v2 = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    Table("participants", v2, Column("id", Integer, primary_key=True))  # exists since migration 1; not created
    utc = String(32)  # storage.schema.UTCDateTime's column type
    escalations = Table(
        "escalations",
        v2,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("level", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("opened_at", utc, nullable=False),
        Column("deadline_at", utc, nullable=True),
        Column("tier", Integer, nullable=False, server_default=text("0")),
        Column("acknowledged_by", String(200), nullable=True),
        Column("acknowledged_at", utc, nullable=True),
        Column("closed_by", String(200), nullable=True),
        Column("closed_at", utc, nullable=True),
        Column("outcome_note", Text, nullable=True),
        CheckConstraint("level IN ('low', 'moderate', 'high')", name="level"),
        CheckConstraint("status IN ('open', 'acknowledged', 'closed')", name="status"),
        Index(None, "status", "deadline_at"),
    )
    not_closed = escalations.c.status != literal_column("'closed'", String(16))
    Index(
        "ux_escalations_active_participant",
        escalations.c.participant_id,
        unique=True,
        sqlite_where=not_closed,
        postgresql_where=not_closed,
    )
    triggers = Table(
        "escalation_triggers",
        v2,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("escalation_id", Integer, ForeignKey("escalations.id"), nullable=False),
        Column("level", String(16), nullable=False),
        Column("trigger_kind", String(32), nullable=False),
        Column("trigger", Text, nullable=False),
        Column("at", utc, nullable=False),
        Index(None, "escalation_id"),
    )
    notifications = Table(
        "notifications",
        v2,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("escalation_id", Integer, ForeignKey("escalations.id"), nullable=False),
        Column("coach_id", String(200), nullable=False),
        Column("channel", String(32), nullable=False),
        Column("tier", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("detail", Text, nullable=False, server_default=text("''")),
        Column("created_at", utc, nullable=False),
        Column("updated_at", utc, nullable=True),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index(None, "escalation_id"),
        Index(None, "status"),
    )
    v2.create_all(conn, tables=[escalations, triggers, notifications], checkfirst=False)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create initial schema", _create_initial_schema),
    Migration(2, "escalations, escalation triggers and coach notifications", _create_escalation_tables),
)


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
