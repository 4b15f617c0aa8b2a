"""FROZEN: the first five numbered migrations (1 to 5, before Alembic), each with a frozen copy of the tables or
columns it creates: the ones that only shape the schema. storage/legacy_migrations.py lists and applies them with the
later ones, which also convert data; its docstring says why they are kept and how they are tested.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
    text,
)
from sqlalchemy.schema import CreateColumn, CreateIndex, DropIndex


def create_initial_schema(conn: Connection) -> None:
    """Migration 1 created a new database from the models of its day; Alembic's baseline revision does that now."""
    raise RuntimeError("new databases are created by Alembic's baseline revision (storage/upgrade.py)")


def create_escalation_tables(conn: Connection) -> None:
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
    utc = String(32)  # storage.sql.codecs.UTCDateTime's column type
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


def add_channel_tables_and_delivery(conn: Connection) -> None:
    """Migration 3: profiles, channel addresses, Telegram link codes; delivery columns and indexes on the outbox.

    Frozen as they were at version 3. The outbox's new columns are added with ``ALTER TABLE ... ADD COLUMN``
    (portable, and instant on SQLite, which places each one after the last column, before the constraints: the
    table's DDL then reads as a fresh one's). Its partial index of unsent rows is rebuilt with the new condition.
    """
    v3 = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    Table("participants", v3, Column("id", Integer, primary_key=True))  # exists since migration 1; not created
    utc = String(32)  # storage.sql.codecs.UTCDateTime's column type
    profiles = Table(
        "profiles",
        v3,
        Column("participant_id", Integer, ForeignKey("participants.id"), primary_key=True, autoincrement=False),
        Column("name", Text, nullable=False),
        Column("start_date", Date, nullable=True),
        Column("coach_id", String(200), nullable=True),
        Column("consent_version", String(100), nullable=True),
        Column("consent_at", utc, nullable=True),
    )
    addresses = Table(
        "addresses",
        v3,
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("channel", String(32), nullable=False),
        Column("address", String(200), nullable=False),
        Column("status", String(16), nullable=False),
        Column("updated_at", utc, nullable=False),
        PrimaryKeyConstraint("participant_id", "channel"),
        UniqueConstraint("channel", "address"),
        CheckConstraint("status IN ('active', 'opted_out', 'unreachable')", name="status"),
    )
    link_codes = Table(
        "link_codes",
        v3,
        Column("code_digest", String(128), primary_key=True),
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("expires_at", utc, nullable=False),
        Column("used_at", utc, nullable=True),
        Column("created_at", utc, nullable=False),
        Index(None, "participant_id"),
    )
    v3.create_all(conn, tables=[profiles, addresses, link_codes], checkfirst=False)

    # The outbox exists since migration 1: only the columns the new DDL needs are declared here.
    new_columns = (
        Column("provider_id", String(200), nullable=True),
        Column("delivery_status", String(32), nullable=True),
        Column("delivery_detail", Text, nullable=True),
        Column("not_before", utc, nullable=True),
        Column("given_up_at", utc, nullable=True),
    )
    outbox = Table(
        "outbox",
        v3,
        Column("id", Integer, primary_key=True),
        Column("participant_id", Integer, nullable=False),
        Column("channel", String(32), nullable=False),
        Column("sent_at", utc, nullable=True),
        *new_columns,
    )
    table_name = conn.dialect.identifier_preparer.format_table(outbox)
    for column in new_columns:
        spec = CreateColumn(column).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {spec}")
    to_send = and_(outbox.c.sent_at.is_(None), outbox.c.given_up_at.is_(None))
    deferred = and_(to_send, outbox.c.not_before.is_not(None))
    unsent = Index("ix_outbox_unsent", outbox.c.channel, outbox.c.id, sqlite_where=to_send, postgresql_where=to_send)
    conn.execute(DropIndex(unsent))  # version 1's: WHERE sent_at IS NULL
    conn.execute(CreateIndex(unsent))
    conn.execute(
        CreateIndex(
            Index(
                "ix_outbox_deferred",
                outbox.c.participant_id,
                outbox.c.channel,
                outbox.c.id,
                sqlite_where=deferred,
                postgresql_where=deferred,
            )
        )
    )
    conn.execute(CreateIndex(Index("ux_outbox_provider_id", outbox.c.provider_id, unique=True)))


def create_programme_tables(conn: Connection) -> None:
    """Migration 4: the schedule of bot-initiated events, coach tasks and programme milestones, frozen as they
    were at version 4."""
    v4 = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    Table("participants", v4, Column("id", Integer, primary_key=True))  # exists since migration 1; not created
    utc = String(32)  # storage.sql.codecs.UTCDateTime's column type
    schedule = Table(
        "schedule",
        v4,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("key", String(200), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("due_at", utc, nullable=False),
        Column("data", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("reason", Text, nullable=False, server_default=text("''")),
        Column("claimed_until", utc, nullable=True),
        Column("created_at", utc, nullable=False),
        Column("updated_at", utc, nullable=True),
        UniqueConstraint("participant_id", "key"),
        CheckConstraint(
            "status = 'pending' OR status = 'sent' OR status = 'skipped' OR status = 'cancelled'", name="status"
        ),
    )
    pending = schedule.c.status == literal_column("'pending'", String(16))
    Index("ix_schedule_pending_due_at", schedule.c.due_at, sqlite_where=pending, postgresql_where=pending)
    coach_tasks = Table(
        "coach_tasks",
        v4,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("detail", Text, nullable=False),
        Column("created_at", utc, nullable=False),
        Column("due_at", utc, nullable=True),
        Column("done_at", utc, nullable=True),
        Column("done_by", String(200), nullable=True),
        Index(None, "participant_id"),
    )
    open_tasks = coach_tasks.c.done_at.is_(None)
    Index("ix_coach_tasks_open", coach_tasks.c.created_at, sqlite_where=open_tasks, postgresql_where=open_tasks)
    marks = Table(
        "programme_marks",
        v4,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("key", String(200), nullable=False),
        Column("detail", Text, nullable=False),
        Column("at", utc, nullable=False),
        Index(None, "participant_id"),
    )
    v4.create_all(conn, tables=[schedule, coach_tasks, marks], checkfirst=False)


def add_profile_cohort(conn: Connection) -> None:
    """Migration 5: ``profiles.cohort``, the group a participant was enrolled with (for outcome reports), frozen
    as it was at version 5. ``ALTER TABLE ... ADD COLUMN`` places it last, as in a fresh database."""
    cohort = Column("cohort", String(100), nullable=True)
    profiles = Table("profiles", MetaData(), Column("participant_id", Integer, primary_key=True), cohort)
    table_name = conn.dialect.identifier_preparer.format_table(profiles)
    conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {CreateColumn(cohort).compile(dialect=conn.dialect)}")
