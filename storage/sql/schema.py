"""The one relational schema (SQLAlchemy Core): the tables, their indexes and constraints.

Portable by construction: plain Core types only, except two that pick their column per dialect (storage/sql/codecs.py):
datetimes as fixed-width ISO-8601 UTC text on SQLite and ``timestamptz`` on PostgreSQL, JSON as text on SQLite and
``jsonb`` on PostgreSQL. The partial indexes name both dialects' ``*_where``. Alembic owns how a database gets this
shape (storage/alembic, storage/upgrade.py): a change here needs a revision there.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
    insert_sentinel,
    literal_column,
    text,
    true,
)

from storage.sql.codecs import JSONText, UTCDateTime
from storage.sql.metadata import metadata as metadata
from storage.sql.schema_desk import allocations as allocations
from storage.sql.schema_desk import appointment_attendees as appointment_attendees
from storage.sql.schema_desk import appointments as appointments
from storage.sql.schema_desk import channel_heartbeats as channel_heartbeats
from storage.sql.schema_desk import desk_challenges as desk_challenges
from storage.sql.schema_desk import desk_login_failures as desk_login_failures
from storage.sql.schema_desk import desk_passkeys as desk_passkeys
from storage.sql.schema_desk import desk_sessions as desk_sessions
from storage.sql.schema_desk import desk_users as desk_users
from storage.sql.schema_desk import randomised_cohorts as randomised_cohorts

# The tables of the coaches' and administrators' side live in storage/sql/schema_desk.py, on the same metadata.


participants = Table(
    "participants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False),
    Column("lang", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("ref"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("participant_id", Integer, ForeignKey("participants.id"), primary_key=True, autoincrement=False),
    Column("state", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

answers = Table(
    "answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("run_seq", Integer, nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("item_id", String(100), nullable=False),
    Column("value_kind", String(8), nullable=False),
    Column("value_num", Float, nullable=True),
    Column("value_text", Text, nullable=True),
    Column("raw_text", Text, nullable=False),
    Column("answered_at", UTCDateTime, nullable=False),
    Column("superseded", Boolean, nullable=False, default=False, server_default=false()),
    CheckConstraint("value_kind IN ('int', 'float', 'str')", name="value_kind"),
    Index(None, "participant_id", "run_seq", "item_id"),
)

scores = Table(
    "scores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("run_seq", Integer, nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("score_id", String(100), nullable=False),
    Column("value", Float, nullable=False),
    Column("band", String(100), nullable=True),
    Column("completed_at", UTCDateTime, nullable=False),
    Index(None, "participant_id", "run_seq"),
    # A person's latest score of one kind, for the desk's caseload sorted by it (Alembic revision 0004).
    Index(None, "participant_id", "flow_id", "score_id", "completed_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    # Lets one multi-row INSERT ... RETURNING hand back ids in insertion order (SQLite has no ordering
    # guarantee for RETURNING); SQLAlchemy fills it during batched inserts and leaves it out of SELECTs.
    insert_sentinel("insert_sentinel"),
    # Delivery (added by migration 3 with ALTER TABLE ... ADD COLUMN, so they stay last and in this order):
    Column("provider_id", String(200), nullable=True),  # e.g. Twilio's MessageSid, for status callbacks
    Column("delivery_status", String(32), nullable=True),  # the provider's last word: sent, delivered, failed...
    Column("delivery_detail", Text, nullable=True),  # an error code or reason; never a message body
    Column("not_before", UTCDateTime, nullable=True),  # deferred (rate limit, retry): not sent before this
    Column("given_up_at", UTCDateTime, nullable=True),  # never to be sent
    # Added by migration 8 (last, in this order): which messages go first (storage.records.Priority), and when a
    # coach was told that this urgent message did not get through (so they are told once).
    Column("priority", Integer, nullable=False, server_default=text("1")),
    Column("undelivered_told_at", UTCDateTime, nullable=True),
    # Added by Alembic revision 0002 (last, in this order): the dispatcher's lease on a row it is sending
    # (storage/sql/claims.py).
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
)
# Only rows still to send are ever scanned; a partial index keeps that scan small as the table grows. It is in the
# order the dispatcher sends: by channel, most urgent first, oldest first.
_TO_SEND = (outbox.c.sent_at.is_(None), outbox.c.given_up_at.is_(None))
Index(
    "ix_outbox_unsent",
    outbox.c.channel,
    outbox.c.priority,
    outbox.c.id,
    sqlite_where=and_(*_TO_SEND),
    postgresql_where=and_(*_TO_SEND),
)
# The same rows by person (added by revision 0013): a claim checks the rows of the people it takes, in their sending
# order, up to the last one wanted (storage/sql/outbox_claims.py). Without it SQLite took ix_outbox_unsent and read
# every row still to send on the channel at each claim, growing with the backlog: with a few thousand queued
# (benchmarks/telegram.py, limits off, K = 1,000) that read was a tenth of the bot's CPU, and CPU per update fell from
# 3.05-3.25 to 2.05-2.49 ms with this index (alternating runs).
Index(
    "ix_outbox_unsent_person",
    outbox.c.participant_id,
    outbox.c.channel,
    outbox.c.priority,
    outbox.c.id,
    sqlite_where=and_(*_TO_SEND),
    postgresql_where=and_(*_TO_SEND),
)
# Urgent rows no coach has been told about: the few the undelivered-message watcher looks at (sent ones stay in it,
# but crisis replies are few).
_URGENT_UNTOLD = and_(outbox.c.priority == 0, outbox.c.undelivered_told_at.is_(None))
Index("ix_outbox_urgent", outbox.c.created_at, sqlite_where=_URGENT_UNTOLD, postgresql_where=_URGENT_UNTOLD)
# Deferred rows still to send: a participant's later messages wait behind them (see storage/sql/outbox.py).
_DEFERRED = and_(*_TO_SEND, outbox.c.not_before.is_not(None))
Index(
    "ix_outbox_deferred",
    outbox.c.participant_id,
    outbox.c.channel,
    outbox.c.id,
    sqlite_where=_DEFERRED,
    postgresql_where=_DEFERRED,
)
# Given-up rows, newest first (the administrators' channel health page): few, so a partial index stays small (added by
# revision channel_heartbeats).
_GIVEN_UP = outbox.c.given_up_at.is_not(None)
Index("ix_outbox_given_up", outbox.c.given_up_at, sqlite_where=_GIVEN_UP, postgresql_where=_GIVEN_UP)
# NULLs are distinct in a unique index on SQLite and PostgreSQL: many rows without a provider id are fine.
Index("ux_outbox_provider_id", outbox.c.provider_id, unique=True)
# A person's messages, newest first (the desk's person page): bounded to one participant however large the table.
Index(None, outbox.c.participant_id, outbox.c.id)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("channel_message_id", String(200), nullable=False),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=True),
    UniqueConstraint("channel", "channel_message_id"),
    # What the message said and what became of it (issue 11; added by migration 7 with ADD COLUMN, so they stay
    # last and in this order). The text is a sealed token, like names and numbers; the outcome never holds it.
    Column("body_enc", Text, nullable=True),  # the message, sealed (storage/crypto.py); NULL: no text
    Column("outcome", String(100), nullable=True),  # "answer", "keyword", "risk", "for_coach", ... ("+"-joined)
    Column("outcome_detail", JSONText, nullable=True),  # JSON: the flow and item answered, the keyword; never the text
    Column("for_coach", Boolean, nullable=False, default=False, server_default=false()),  # a coach must read it
    Column("read_by", String(200), nullable=True),  # the coach who read it...
    Column("read_at", UTCDateTime, nullable=True),  # ...and when (audited, "message.read")
    Column("task_id", Integer, nullable=True),  # the coach task it became while unread (coach_tasks.id)
)
# Messages that belong to no participant (a coach's command in their Telegram chat, a stranger's message): seen
# once, so a redelivered update is not acted on twice (issue 12). Ids and a time only; nothing the person wrote.
seen_messages = Table(
    "seen_messages",
    metadata,
    Column("channel", String(32), nullable=False),
    Column("channel_message_id", String(200), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("channel", "channel_message_id"),
)
# The coach's inbox reads only the messages for a coach: a partial index keeps that small however many answers come.
FOR_COACH = inbox.c.for_coach == true()
Index("ix_inbox_for_coach", inbox.c.received_at, sqlite_where=FOR_COACH, postgresql_where=FOR_COACH)
Index(None, inbox.c.participant_id, inbox.c.received_at)  # a person's messages in, newest first (the person page)

# The run-expiry timers are rows of `schedule` since migration 9 (kind "run_expiry", see bot/timers.py).

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("flow_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("flow_id", "version"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("detail", JSONText, nullable=False),
    Index(None, "at"),
)
# The administrators' search of the audit log: one person's rows, or one actor's, newest first, without scanning the
# whole log (bot/desk/views/admin_audit.py; added by revision channel_heartbeats).
Index(None, audit_log.c.subject, audit_log.c.at)
Index(None, audit_log.c.actor, audit_log.c.at)

# --- escalations (suicide-risk safety path; added by migration 2, whose frozen copy must stay in step) ---

NOT_CLOSED = literal_column("'closed'", String(16))  # a literal, not a parameter, so SQLite can match the partial index
escalations = Table(
    "escalations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("level", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("deadline_at", UTCDateTime, nullable=True),
    Column("tier", Integer, nullable=False, server_default=text("0")),
    Column("acknowledged_by", String(200), nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("outcome_note", Text, nullable=True),
    CheckConstraint("level IN ('low', 'moderate', 'high')", name="level"),
    CheckConstraint("status IN ('open', 'acknowledged', 'closed')", name="status"),
    Index(None, "status", "deadline_at"),  # due deadlines: status = 'open' AND deadline_at <= now
    Index(None, "participant_id", "opened_at"),  # a person's escalations, closed ones too (the person page)
)
# At most one escalation per participant that is not closed (the rule commit_step follows), enforced by the
# database as well; it is also the index that finds that escalation.
Index(
    "ux_escalations_active_participant",
    escalations.c.participant_id,
    unique=True,
    sqlite_where=escalations.c.status != NOT_CLOSED,
    postgresql_where=escalations.c.status != NOT_CLOSED,
)

escalation_triggers = Table(
    "escalation_triggers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("escalation_id", Integer, ForeignKey("escalations.id"), nullable=False),
    Column("level", String(16), nullable=False),
    Column("trigger_kind", String(32), nullable=False),
    Column("trigger", Text, nullable=False),  # JSON; holds the verbatim answer or text (never copied to audit)
    Column("at", UTCDateTime, nullable=False),
    Index(None, "escalation_id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("escalation_id", Integer, ForeignKey("escalations.id"), nullable=False),
    Column("coach_id", String(200), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("detail", Text, nullable=False, server_default=text("''")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
    CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
    Index(None, "escalation_id"),
    Index(None, "status"),
)

# --- enrolment and channel addresses (Telegram and SMS; added by migration 3, whose frozen copy must stay in step) ---

profiles = Table(
    "profiles",
    metadata,
    Column("participant_id", Integer, ForeignKey("participants.id"), primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),  # encrypted; shown to coaches only; never in logs or the audit log
    Column("start_date", Date, nullable=True),
    Column("coach_id", String(200), nullable=True),
    Column("consent_version", String(100), nullable=True),
    Column("consent_at", UTCDateTime, nullable=True),
    # The group the participant was enrolled with (e.g. "bornholm-2026-1"), for outcome reports; added by
    # migration 5 with ALTER TABLE ... ADD COLUMN, so it stays last.
    Column("cohort", String(100), nullable=True),
    # Where the terms were accepted ("sms", "telegram"); added by migration 6 with ADD COLUMN, so it stays last.
    Column("consent_channel", String(32), nullable=True),
    # The programme chosen at enrolment (a programme file's `id`, issue 15: several programmes in one deployment);
    # NULL: enrolled before programmes were recorded, or never enrolled: the deployment's default programme. Added
    # by the Alembic revision "programme choice" with ADD COLUMN, so it stays last.
    Column("programme", String(100), nullable=True),
)
# Since migration 6 `name` holds a sealed token (storage/crypto.py): the file alone names nobody.

# Rebuilt by migration 6: the address only as a sealed token, found by its keyed hash (storage/crypto.py).
addresses = Table(
    "addresses",
    metadata,
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("address_hash", String(64), nullable=False),  # HMAC-SHA256 (hex) of channel and address: the lookup
    Column("address_enc", Text, nullable=False),  # the E.164 number or Telegram chat id, encrypted; never in logs
    Column("status", String(16), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("participant_id", "channel"),  # one address per participant and channel
    UniqueConstraint("channel", "address_hash"),  # an address belongs to one participant (and finds them)
    CheckConstraint("status IN ('active', 'opted_out', 'unreachable')", name="status"),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code_digest", String(128), primary_key=True),  # only the digest: the code itself is never stored
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "participant_id"),
)

# --- the programme: bot-initiated events, coach tasks, milestones (added by migration 4, whose frozen copy must stay
# in step) ---

# A literal, not a parameter, so SQLite can match the partial index below.
SCHEDULE_PENDING = literal_column("'pending'", String(16))
schedule = Table(
    "schedule",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("key", String(200), nullable=False),  # unique per participant: planning it again is an upsert
    Column("kind", String(40), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("data", JSONText, nullable=False),  # JSON
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),  # never a message body
    Column("claimed_until", UTCDateTime, nullable=True),  # a claimer's lease (see claim_schedule)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
    UniqueConstraint("participant_id", "key"),  # also the index that finds a participant's rows
    # Not ``status IN (...)``: SQLite builds a temporary index for an IN list of three or more values each time
    # it checks a row, which doubled the cost of planning a cohort's programme (1.5 million rows).
    CheckConstraint(
        "status = 'pending' OR status = 'sent' OR status = 'skipped' OR status = 'cancelled'", name="status"
    ),
)
# Only pending rows are ever claimed; a partial index keeps the due scan small however many rows are finished.
Index(
    "ix_schedule_pending_due_at",
    schedule.c.due_at,
    sqlite_where=schedule.c.status == SCHEDULE_PENDING,
    postgresql_where=schedule.c.status == SCHEDULE_PENDING,
)
# The people someone is handling now (a claimed pending row): few at any time, and a claim leaves them out. Without
# it, that check read every pending row (a claim of 1,000 of a million due rows took 0.3-1.8 s on PostgreSQL).
_CLAIMED = and_(schedule.c.status == SCHEDULE_PENDING, schedule.c.claimed_until.is_not(None))
Index("ix_schedule_claimed", schedule.c.participant_id, sqlite_where=_CLAIMED, postgresql_where=_CLAIMED)

coach_tasks = Table(
    "coach_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", JSONText, nullable=False),  # JSON
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=True),
    Column("done_at", UTCDateTime, nullable=True),
    Column("done_by", String(200), nullable=True),
    Index(None, "participant_id"),
)
# The coach desk lists open tasks oldest first: only those are in this index.
Index(
    "ix_coach_tasks_open",
    coach_tasks.c.created_at,
    sqlite_where=coach_tasks.c.done_at.is_(None),
    postgresql_where=coach_tasks.c.done_at.is_(None),
)

programme_marks = Table(
    "programme_marks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("key", String(200), nullable=False),
    Column("detail", JSONText, nullable=False),  # JSON
    Column("at", UTCDateTime, nullable=False),
    Index(None, "participant_id"),
    Index(None, "participant_id", "kind"),  # a person's modules done, for the desk's caseload (revision 0004)
)
