"""FROZEN: the numbered schema migrations 1 to 10 that came before Alembic, kept only to bring older databases to
version 10. Do not change them and do not add an 11th: a schema change is an Alembic revision (storage/alembic).

They were recorded in ``schema_migrations`` and applied in order exactly once. Version 10 is the schema of Alembic's
baseline revision (storage/alembic/versions/v0001_baseline.py): storage/upgrade.py runs the missing ones of these on a
database that has this ledger, in the same transaction drops the ledger and stamps the database at the baseline, and
from there Alembic upgrades it. New databases never come here (migration 1 used to create them from the then-current
models; the baseline does now), so a ledger without migration 1 is refused.

Each migration carries a frozen copy of what it creates or changes; the first five, which only shape the schema, are
in storage/legacy_tables.py. The tests that a database made at an older version
and migrated has exactly the schema of a fresh one: `tests/storage/test_storage_escalations.py` (version 1),
`tests/storage/test_storage_contacts.py` (2), `tests/storage/test_storage_programme.py` (3),
`tests/storage/test_storage_outcomes.py` (4), `tests/storage/test_storage_encryption.py` (5; migration 6 also converts
data: it encrypts contact details, with the keys the storage passes in ``Connection.info``),
`tests/storage/test_storage_messages.py` (6; migration 7 seals what participants wrote, and migration 8 gives the
outbox its priority) and `tests/storage/test_storage_run_expiry.py` (8, `schema_v8.sql`: migration 9 moves the pending
run-expiry timers into the schedule and drops their table).
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
    select,
    text,
    true,
    update,
)
from sqlalchemy.schema import CreateColumn, CreateIndex, DropIndex, DropTable

from storage.crypto import KEYS_INFO, Keys
from storage.legacy_tables import (
    add_channel_tables_and_delivery,
    add_profile_cohort,
    create_escalation_tables,
    create_initial_schema,
    create_programme_tables,
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


ledger_metadata = MetaData()
schema_migrations = Table(  # the ledger, frozen as it was
    "schema_migrations",
    ledger_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", String(32), nullable=False),  # storage.sql.codecs.UTCDateTime's column type
)
LEDGER = schema_migrations.name


def _encrypt_contact_details(conn: Connection) -> None:
    """Migration 6: phone numbers, Telegram chat ids and names encrypted at rest (storage/crypto.py), frozen as at
    version 6. Needs the keys in ``conn.info[KEYS_INFO]`` (`SqlStorage.migrate` puts them there).

    ``addresses`` is rebuilt (its address becomes a keyed hash to find it by and a Fernet token): the rows are read,
    the old table dropped (so its constraint names are free on every backend), the new one created and the rows
    written back sealed, all in the migration's transaction. Profile names are sealed in place, the consent channel
    is added last, and Telegram provider ids, which began with the chat id, become ``telegram:<outbox id>:<message
    id>``. The plaintext stays in the file's free pages and the WAL until `SqlStorage.migrate` scrubs it."""
    keys = conn.info.get(KEYS_INFO)
    if not isinstance(keys, Keys):
        raise RuntimeError("migration 6 encrypts contact details: it needs the storage keys (open the database "
                           "with SqlStorage, which passes them)")
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
    utc = String(32)  # storage.sql.codecs.UTCDateTime's column type
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
    The plaintext stays in free pages and the WAL until `SqlStorage.migrate` scrubs the file."""
    keys = conn.info.get(KEYS_INFO)
    if not isinstance(keys, Keys):
        raise RuntimeError("migration 7 encrypts what participants wrote: it needs the storage keys (open the "
                           "database with SqlStorage, which passes them)")
    utc = String(32)  # storage.sql.codecs.UTCDateTime's column type
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
    told = Column("undelivered_told_at", String(32), nullable=True)  # storage.sql.codecs.UTCDateTime's column type
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
    utc = String(32)  # storage.sql.codecs.UTCDateTime's column type
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
    Migration(1, "create initial schema", create_initial_schema),
    Migration(2, "escalations, escalation triggers and coach notifications", create_escalation_tables),
    Migration(3, "profiles, channel addresses, link codes and outbox delivery", add_channel_tables_and_delivery),
    Migration(4, "schedule, coach tasks and programme marks", create_programme_tables),
    Migration(5, "the cohort on profiles", add_profile_cohort),
    Migration(6, "contact details and names encrypted, consent channel", _encrypt_contact_details),
    Migration(7, "inbound messages kept, what participants wrote encrypted", _seal_bodies_and_keep_messages),
    Migration(8, "outbox priority and undelivered urgent messages", _add_outbox_priority),
    Migration(9, "run-expiry timers become schedule rows", _move_timers_into_schedule),
    Migration(10, "messages that belong to no participant, seen once", _create_seen_messages),
)
ENCRYPTED_CONTACTS = 6  # the migrations after which `SqlStorage.migrate` scrubs the file of the plaintext
ENCRYPTED_BODIES = 7


def _check_numbering(migrations: tuple[Migration, ...]) -> None:
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise RuntimeError("migrations must be numbered 1..N without gaps")


def apply_migrations(
    conn: Connection, migrations: tuple[Migration, ...] = MIGRATIONS, now: datetime | None = None,
    keys: Keys | None = None,
) -> list[int]:
    """Apply the missing migrations to a database these migrations made (its ledger has migration 1), inside the
    caller's (write-locked) transaction; return their versions.

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
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    applied = set(conn.execute(select(schema_migrations.c.version)).scalars())
    known = {m.version for m in migrations}
    if unknown := applied - known:
        raise RuntimeError(f"database has migrations this code does not know: {sorted(unknown)}")
    if 1 not in applied:
        raise RuntimeError("the migration ledger lacks migration 1: not a database these migrations made")
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        migration.apply(conn)
        conn.execute(insert(schema_migrations).values(version=migration.version, name=migration.name, applied_at=at))
        done.append(migration.version)
    return done
