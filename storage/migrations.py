"""Numbered schema migrations, recorded in ``schema_migrations`` and applied in order exactly once.

Migration 1 creates every table from `storage.schema.metadata`. Because that metadata is always the *current*
schema, an empty database gets all tables in their newest shape at once and every later migration is recorded
as applied without running; later migrations therefore only ever run against databases created before them.
To change the schema: edit `schema.py` and append a migration that brings an existing database to that shape.
A migration must not build its DDL from `schema.py`'s tables (those keep changing): it carries a frozen copy of
what it creates, as migrations 2 to 4 do. `tests/storage/test_storage_escalations.py` checks that a database
created by migration 1 and then migrated has exactly the schema of a fresh one,
`tests/storage/test_storage_contacts.py` does the same for a database created at version 2, and
`tests/storage/test_storage_programme.py` for one created at version 3, and `tests/storage/test_storage_outcomes.py`
for one created at version 4, and `tests/storage/test_storage_encryption.py` for one created at version 5 (migration
6 also converts data: it encrypts contact details, with the keys the storage passes in ``Connection.info``), and
`tests/storage/test_storage_messages.py` for one created at version 6 (migration 7 seals what participants wrote;
that test migrates on to the newest version, so it covers migration 8, the outbox's priority, too), and
`tests/storage/test_storage_run_expiry.py` for one created at version 8 (`schema_v8.sql`: migration 9 moves the
pending run-expiry timers into the schedule and drops their table).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
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
    bindparam,
    false,
    insert,
    inspect,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.schema import CreateColumn, CreateIndex, DropIndex, DropTable

from storage.crypto import KEYS_INFO, Keys
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


def _add_channel_tables_and_delivery(conn: Connection) -> None:
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
    utc = String(32)  # storage.schema.UTCDateTime's column type
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


def _create_programme_tables(conn: Connection) -> None:
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
    utc = String(32)  # storage.schema.UTCDateTime's column type
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


def _add_profile_cohort(conn: Connection) -> None:
    """Migration 5: ``profiles.cohort``, the group a participant was enrolled with (for outcome reports), frozen
    as it was at version 5. ``ALTER TABLE ... ADD COLUMN`` places it last, as in a fresh database."""
    cohort = Column("cohort", String(100), nullable=True)
    profiles = Table("profiles", MetaData(), Column("participant_id", Integer, primary_key=True), cohort)
    table_name = conn.dialect.identifier_preparer.format_table(profiles)
    conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {CreateColumn(cohort).compile(dialect=conn.dialect)}")


def _encrypt_contact_details(conn: Connection) -> None:
    """Migration 6: phone numbers, Telegram chat ids and names encrypted at rest (storage/crypto.py), frozen as at
    version 6. Needs the keys in ``conn.info[KEYS_INFO]`` (`SqliteStorage.migrate` puts them there).

    ``addresses`` is rebuilt (its address becomes a keyed hash to find it by and a Fernet token): the rows are read,
    the old table dropped (so its constraint names are free on every backend), the new one created and the rows
    written back sealed, all in the migration's transaction. Profile names are sealed in place, the consent channel
    is added last, and Telegram provider ids, which began with the chat id, become ``telegram:<outbox id>:<message
    id>``. The plaintext stays in the file's free pages and the WAL until `SqliteStorage.migrate` scrubs it."""
    keys = conn.info.get(KEYS_INFO)
    if not isinstance(keys, Keys):
        raise RuntimeError("migration 6 encrypts contact details: it needs the storage keys (open the database "
                           "with SqliteStorage, which passes them)")
    v6 = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    Table("participants", v6, Column("id", Integer, primary_key=True))  # exists since migration 1; not created
    utc = String(32)  # storage.schema.UTCDateTime's column type
    old = Table(
        "addresses",
        MetaData(),
        Column("participant_id", Integer, primary_key=True),
        Column("channel", String(32), primary_key=True),
        Column("address", String(200)),
        Column("status", String(16)),
        Column("updated_at", utc),
    )
    rows = [dict(row) for row in conn.execute(select(old)).mappings()]
    conn.execute(DropTable(old))
    addresses = Table(
        "addresses",
        v6,
        Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
        Column("channel", String(32), nullable=False),
        Column("address_hash", String(64), nullable=False),
        Column("address_enc", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("updated_at", utc, nullable=False),
        PrimaryKeyConstraint("participant_id", "channel"),
        UniqueConstraint("channel", "address_hash"),
        CheckConstraint("status IN ('active', 'opted_out', 'unreachable')", name="status"),
    )
    v6.create_all(conn, tables=[addresses], checkfirst=False)
    if rows:
        sealed = [
            {**{k: v for k, v in row.items() if k != "address"},
             "address_hash": keys.digest(row["channel"], row["address"]), "address_enc": keys.seal(row["address"])}
            for row in rows
        ]
        conn.execute(insert(addresses), sealed)

    consent_channel = Column("consent_channel", String(32), nullable=True)
    profiles = Table(
        "profiles", MetaData(), Column("participant_id", Integer, primary_key=True), Column("name", Text),
        consent_channel,
    )
    names = conn.execute(select(profiles.c.participant_id, profiles.c.name)).all()
    if names:
        seal = update(profiles).where(profiles.c.participant_id == bindparam("pid")).values(name=bindparam("sealed"))
        conn.execute(seal, [{"pid": pid, "sealed": keys.seal(name)} for pid, name in names])
    table_name = conn.dialect.identifier_preparer.format_table(profiles)
    spec = CreateColumn(consent_channel).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {spec}")

    outbox = Table(
        "outbox", MetaData(), Column("id", Integer, primary_key=True), Column("channel", String(32)),
        Column("provider_id", String(200)),
    )
    sent_on_telegram = and_(outbox.c.channel == "telegram", outbox.c.provider_id.is_not(None))
    telegram = conn.execute(select(outbox.c.id, outbox.c.provider_id).where(sent_on_telegram)).all()
    if telegram:
        renamed = update(outbox).where(outbox.c.id == bindparam("oid")).values(provider_id=bindparam("new"))
        conn.execute(renamed, [{"oid": oid, "new": f"telegram:{oid}:{old_id.rpartition(':')[2]}"}
                               for oid, old_id in telegram])


def _seal_bodies_and_keep_messages(conn: Connection) -> None:
    """Migration 7: every inbound message kept with its text, what became of it and who read it (issue 11), and what
    a person wrote sealed at rest, frozen as at version 7. Needs the keys in ``conn.info[KEYS_INFO]``.

    The inbox gets its new columns with ``ALTER TABLE ... ADD COLUMN`` (last, as in a fresh database) and a partial
    index of the messages for a coach. Sealed in place (Fernet tokens under the data key): answers' raw text and text
    values, escalation triggers (the verbatim risk text) and conversation states (which hold the open run's answers).
    The plaintext stays in free pages and the WAL until `SqliteStorage.migrate` scrubs the file."""
    keys = conn.info.get(KEYS_INFO)
    if not isinstance(keys, Keys):
        raise RuntimeError("migration 7 encrypts what participants wrote: it needs the storage keys (open the "
                           "database with SqliteStorage, which passes them)")
    utc = String(32)  # storage.schema.UTCDateTime's column type
    new_columns = (
        Column("body_enc", Text, nullable=True),
        Column("outcome", String(100), nullable=True),
        Column("outcome_detail", Text, nullable=True),
        Column("for_coach", Boolean, nullable=False, server_default=false()),
        Column("read_by", String(200), nullable=True),
        Column("read_at", utc, nullable=True),
        Column("task_id", Integer, nullable=True),
    )
    inbox = Table("inbox", MetaData(), Column("id", Integer, primary_key=True), Column("received_at", utc),
                  *new_columns)
    table_name = conn.dialect.identifier_preparer.format_table(inbox)
    for column in new_columns:
        spec = CreateColumn(column).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {spec}")
    for_coach = inbox.c.for_coach == true()
    conn.execute(CreateIndex(Index("ix_inbox_for_coach", inbox.c.received_at, sqlite_where=for_coach,
                                   postgresql_where=for_coach)))
    old = MetaData()
    sealed = (
        Table("answers", old, Column("id", Integer, primary_key=True), Column("raw_text", Text),
              Column("value_text", Text)),
        Table("escalation_triggers", old, Column("id", Integer, primary_key=True), Column("trigger", Text)),
        Table("conversations", old, Column("participant_id", Integer, primary_key=True), Column("state", Text)),
    )
    for table in sealed:
        key, *texts = table.c
        rows = conn.execute(select(*table.c)).all()
        if not rows:
            continue
        change = update(table).where(key == bindparam("b_key")).values(
            **{c.name: bindparam(f"b_{c.name}") for c in texts})
        conn.execute(change, [{"b_key": row[0], **{f"b_{c.name}": None if value is None else keys.seal(value)
                                                   for c, value in zip(texts, row[1:], strict=True)}}
                              for row in rows])


def _add_outbox_priority(conn: Connection) -> None:
    """Migration 8: the outbox's priority (crisis replies first) and when a coach was told an urgent message did not
    get through, frozen as at version 8. Rows already queued keep the middle priority (1, a reply); the index of rows
    to send is rebuilt in sending order (channel, priority, id), and a small one finds urgent rows nobody was told
    about."""
    priority = Column("priority", Integer, nullable=False, server_default=text("1"))
    told = Column("undelivered_told_at", String(32), nullable=True)  # storage.schema.UTCDateTime's column type
    outbox = Table(
        "outbox", MetaData(), Column("id", Integer, primary_key=True), Column("channel", String(32)),
        Column("created_at", String(32)), Column("sent_at", String(32)), Column("given_up_at", String(32)), priority,
        told,
    )
    table_name = conn.dialect.identifier_preparer.format_table(outbox)
    for column in (priority, told):
        spec = CreateColumn(column).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {spec}")
    to_send = and_(outbox.c.sent_at.is_(None), outbox.c.given_up_at.is_(None))
    conn.execute(DropIndex(Index("ix_outbox_unsent", outbox.c.channel)))
    conn.execute(CreateIndex(Index("ix_outbox_unsent", outbox.c.channel, outbox.c.priority, outbox.c.id,
                                   sqlite_where=to_send, postgresql_where=to_send)))
    untold = and_(outbox.c.priority == 0, outbox.c.undelivered_told_at.is_(None))
    conn.execute(CreateIndex(Index("ix_outbox_urgent", outbox.c.created_at, sqlite_where=untold,
                                   postgresql_where=untold)))


def _create_seen_messages(conn: Connection) -> None:
    """Migration 10: the dedupe keys of messages that belong to no participant (coach commands, strangers)."""
    Table("seen_messages", MetaData(), Column("channel", String(32), nullable=False),
          Column("channel_message_id", String(200), nullable=False), Column("seen_at", String(32), nullable=False),
          PrimaryKeyConstraint("channel", "channel_message_id", name="pk_seen_messages")).create(conn)


def _move_timers_into_schedule(conn: Connection) -> None:
    """Migration 9: a questionnaire's expiry timer becomes a row of the schedule, claimed with a lease and answered by
    exactly one outcome like every other scheduled event (the ``timers`` table had no lease and no outcome, so a timer
    the engine did not cancel fired on every tick). Frozen as at version 9: each pending timer becomes a pending row
    of kind ``run_expiry`` keyed ``timer:<key>`` with ``{"key": <key>}`` as its data (bot/timers.py writes the same),
    due when the timer was; then the table goes."""
    utc = String(32)  # storage.schema.UTCDateTime's column type
    timers = Table(
        "timers", MetaData(), Column("participant_id", Integer), Column("key", String(100)), Column("due_at", utc),
    )
    schedule = Table(
        "schedule", MetaData(), Column("id", Integer, primary_key=True), Column("participant_id", Integer),
        Column("key", String(200)), Column("kind", String(40)), Column("due_at", utc), Column("data", Text),
        Column("status", String(16)), Column("reason", Text), Column("claimed_until", utc),
        Column("created_at", utc), Column("updated_at", utc),
    )
    pending = conn.execute(
        select(timers.c.participant_id, timers.c.key, timers.c.due_at).order_by(timers.c.due_at, timers.c.key)
    ).all()
    if pending:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.execute(insert(schedule), [
            {"participant_id": pid, "key": f"timer:{key}", "kind": "run_expiry", "due_at": due,
             "data": json.dumps({"key": key}, ensure_ascii=False, separators=(",", ":")), "status": "pending",
             "reason": "", "claimed_until": None, "created_at": now, "updated_at": None}
            for pid, key, due in pending
        ])
    conn.execute(DropTable(timers))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create initial schema", _create_initial_schema),
    Migration(2, "escalations, escalation triggers and coach notifications", _create_escalation_tables),
    Migration(3, "profiles, channel addresses, link codes and outbox delivery", _add_channel_tables_and_delivery),
    Migration(4, "schedule, coach tasks and programme marks", _create_programme_tables),
    Migration(5, "the cohort on profiles", _add_profile_cohort),
    Migration(6, "contact details and names encrypted, consent channel", _encrypt_contact_details),
    Migration(7, "inbound messages kept, what participants wrote encrypted", _seal_bodies_and_keep_messages),
    Migration(8, "outbox priority and undelivered urgent messages", _add_outbox_priority),
    Migration(9, "run-expiry timers become schedule rows", _move_timers_into_schedule),
    Migration(10, "messages that belong to no participant, seen once", _create_seen_messages),
)
ENCRYPTED_CONTACTS = 6  # the migrations after which `SqliteStorage.migrate` scrubs the file of the plaintext
ENCRYPTED_BODIES = 7


def _check_numbering(migrations: tuple[Migration, ...]) -> None:
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise RuntimeError("migrations must be numbered 1..N without gaps")


def apply_migrations(
    conn: Connection, migrations: tuple[Migration, ...] = MIGRATIONS, now: datetime | None = None,
    keys: Keys | None = None,
) -> list[int]:
    """Apply the missing migrations inside the caller's (write-locked) transaction; return their versions.

    `keys` are lent to the migrations that convert data (in ``conn.info`` while they run)."""
    if keys is None:
        return _apply(conn, migrations, now)
    conn.info[KEYS_INFO] = keys
    try:
        return _apply(conn, migrations, now)
    finally:
        conn.info.pop(KEYS_INFO, None)


def _apply(conn: Connection, migrations: tuple[Migration, ...], now: datetime | None) -> list[int]:
    _check_numbering(migrations)
    if conn.dialect.name == "postgresql":  # processes starting together: one migrates, the others wait, then see it
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7242031)")  # held until this transaction ends
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
