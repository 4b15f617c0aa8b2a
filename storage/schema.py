"""The one relational schema (SQLAlchemy Core) and the codecs for values stored in it.

Portable by construction: plain Core types only, datetimes as fixed-width ISO-8601 UTC text (so text order is
time order on every backend), JSON as text. Nothing here is SQLite-specific except the partial index hint,
which other dialects ignore or honour through their own ``*_where`` keyword.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Dialect,
    Float,
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
    false,
    insert_sentinel,
    literal_column,
    text,
    true,
)
from sqlalchemy.types import TypeDecorator

from storage.interface import (
    RISK_LEVELS,
    AnswerValue,
    AuditRecord,
    CoachTask,
    CoachTaskRecord,
    Escalation,
    EscalationRecord,
    EscalationStatus,
    EscalationTrigger,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    Priority,
    ScheduledRecord,
    ScheduleOutcome,
    ScheduleRow,
    ScheduleStatus,
    ScoreRecord,
    StepRecord,
)

Row = dict[str, Any]


class UnknownParticipantError(LookupError):
    """A step or message refers to a participant id that does not exist."""


def unknown_participant(participant_id: int) -> UnknownParticipantError:
    return UnknownParticipantError(f"participant {participant_id} does not exist")


class UnknownEscalationError(LookupError):
    """A notification refers to an escalation id that does not exist."""


class UnknownNotificationError(LookupError):
    """An update refers to a notification id that does not exist."""


class UnknownOutboxError(LookupError):
    """A delivery update refers to an outbox id that does not exist."""


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def require_utc(value: datetime) -> datetime:
    """Return `value` in UTC; refuse naive datetimes, whose meaning would be a guess."""
    if value.tzinfo is UTC:  # already normalised: the common case, and on bulk paths the checks add up
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused: storage needs timezone-aware datetimes")
    return value.astimezone(UTC)


def utc_text(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, e.g. ``2025-01-31T08:00:00.000000+00:00``; sorts chronologically."""
    return require_utc(value).isoformat(timespec="microseconds")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime stored as fixed-width ISO-8601 text (portable, sortable)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # already normalised (rows built by this package are): skip the checks
            return value.isoformat(timespec="microseconds")
        return utc_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _json_default(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
# `json.dumps` with options builds an encoder, and `JSONEncoder.encode` a C encoder, on every call: more than half
# the cost of encoding a small object, which adds up to seconds when a cohort's programme (1.5 million rows) is
# planned. So the C encoder, built with the same options, is built once. Without the circular-reference check,
# which needs a fresh dict per call: a cyclic object still fails, with RecursionError instead of ValueError.
_make_c_encoder: Callable[..., Callable[[Any, int], Any]] | None = getattr(json.encoder, "c_make_encoder", None)
_C_JSON = (
    None
    if _make_c_encoder is None
    else _make_c_encoder(None, _json_default, encode_basestring, None, ":", ",", False, False, False)
)


def dump_json(value: Mapping[str, Any]) -> str:
    """Serialise a JSON object strictly (no NaN), so every backend can read it back."""
    if _C_JSON is None:
        return _JSON.encode(value)
    return "".join(_C_JSON(value, 0))


def load_json(raw: str) -> dict[str, Any]:
    loaded = json.loads(raw)
    if not isinstance(loaded, dict):
        raise ValueError("stored JSON is not an object")
    return loaded


def encode_answer(value: AnswerValue) -> tuple[str, float | None, str | None]:
    """Split an answer into (kind, value_num, value_text) so ints, floats and strings round-trip exactly.

    Numbers keep a numeric column for analysis in SQL; ints beyond 2**53 would not survive a REAL column and
    are refused, as are NaN and infinities (not answers a participant can give).
    """
    if isinstance(value, bool):
        raise TypeError("bool is not an answer value; use int")
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise ValueError("integer answer too large to store exactly")
        return "int", float(value), None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite float answer refused")
        return "float", value, None
    if isinstance(value, str):
        return "str", None, value
    raise TypeError(f"unsupported answer value type: {type(value).__name__}")


def decode_answer(kind: str, num: float | None, txt: str | None) -> AnswerValue:
    if kind == "int" and num is not None:
        return int(num)
    if kind == "float" and num is not None:
        return float(num)
    if kind == "str" and txt is not None:
        return txt
    raise ValueError(f"corrupt answer value (kind={kind!r})")


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
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("payload", Text, nullable=False),
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
    # Added by migration 8 (last, in this order): which messages go first (storage.interface.Priority), and when a
    # coach was told that this urgent message did not get through (so they are told once).
    Column("priority", Integer, nullable=False, server_default=text("1")),
    Column("undelivered_told_at", UTCDateTime, nullable=True),
    # Added by migration 11 (last, in this order): the dispatcher's lease on a row it is sending (storage/claims.py).
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
# Urgent rows no coach has been told about: the few the undelivered-message watcher looks at (sent ones stay in it,
# but crisis replies are few).
_URGENT_UNTOLD = and_(outbox.c.priority == 0, outbox.c.undelivered_told_at.is_(None))
Index("ix_outbox_urgent", outbox.c.created_at, sqlite_where=_URGENT_UNTOLD, postgresql_where=_URGENT_UNTOLD)
# Deferred rows still to send: a participant's later messages wait behind them (see storage/contacts.py).
_DEFERRED = and_(*_TO_SEND, outbox.c.not_before.is_not(None))
Index(
    "ix_outbox_deferred",
    outbox.c.participant_id,
    outbox.c.channel,
    outbox.c.id,
    sqlite_where=_DEFERRED,
    postgresql_where=_DEFERRED,
)
# NULLs are distinct in a unique index on SQLite and PostgreSQL: many rows without a provider id are fine.
Index("ux_outbox_provider_id", outbox.c.provider_id, unique=True)

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
    # last and in this order). The text is a Fernet token, like names and numbers; the outcome never holds it.
    Column("body_enc", Text, nullable=True),  # the message, sealed (storage/crypto.py); NULL: no text
    Column("outcome", String(100), nullable=True),  # "answer", "keyword", "risk", "for_coach", ... ("+"-joined)
    Column("outcome_detail", Text, nullable=True),  # JSON: the flow and item answered, the keyword; never the text
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
    Column("detail", Text, nullable=False),
    Index(None, "at"),
)

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
)
# Since migration 6 `name` holds a Fernet token (storage/crypto.py): the file alone names nobody.

# Rebuilt by migration 6: the address only as a Fernet token, found by its keyed hash (storage/crypto.py).
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
    Column("data", Text, nullable=False),  # JSON
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

coach_tasks = Table(
    "coach_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
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
    Column("detail", Text, nullable=False),  # JSON
    Column("at", UTCDateTime, nullable=False),
    Index(None, "participant_id"),
)

# Tracked apart from `metadata` so that creating the data tables never touches the migration ledger.
ledger_metadata = MetaData()
schema_migrations = Table(
    "schema_migrations",
    ledger_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class StepRows:
    """A step checked and encoded into rows before any transaction, so bad data fails only its caller."""

    step: StepRecord
    state: str
    inbox: Row | None
    answers: tuple[Row, ...]
    scores: tuple[Row, ...]
    outbox: tuple[Row, ...]
    audit: tuple[Row, ...]
    escalations: tuple[Row, ...] = ()  # signals, see `signal_row`; applied in order after the rest
    outcome: Row | None = None  # see `outcome_row`: a precondition, then applied first of the schedule changes
    cancel_kinds: tuple[str, ...] = ()  # then these kinds' pending rows are cancelled...
    cancel_keys: tuple[str, ...] = ()  # ...and those with these keys...
    schedule: tuple[Row, ...] = ()  # ...then these are planned (see `schedule_row` and `replan_changes`)
    tasks: tuple[Row, ...] = ()
    marks: tuple[Row, ...] = ()
    contacts: tuple[Any, ...] = ()  # storage/contacts.py operations (address, consent), run after the rest

    @property
    def changes_schedule(self) -> bool:
        return self.outcome is not None or bool(self.cancel_kinds) or bool(self.cancel_keys) or bool(self.schedule)


Seal = Callable[[str], str]  # storage/crypto.Keys.seal: what a person wrote is a Fernet token at rest
MAX_BODY_CHARS = 20_000  # a message is kept up to here (no phone sends more; the risk scan reads as far)


def inbox_row(step: StepRecord, seal: Seal) -> Row | None:
    """The inbound message with what became of it (`StepRecord.heard`), its text sealed."""
    if step.inbound is None:
        return None
    heard = step.heard
    body = None if heard is None or heard.body is None else seal(heard.body[:MAX_BODY_CHARS])
    return {
        "channel": step.inbound.channel,
        "channel_message_id": step.inbound.channel_message_id,
        "participant_id": step.participant_id,
        "received_at": require_utc(step.inbound.received_at),
        "processed_at": require_utc(step.at),
        "body_enc": body,
        "outcome": None if heard is None else _name(heard.outcome, "outcome", 100),
        "outcome_detail": None if heard is None else dump_json(heard.detail),
        "for_coach": heard is not None and heard.for_coach,
        "read_by": None,
        "read_at": None,
        "task_id": None,
    }


def step_rows(step: StepRecord, seal: Seal) -> StepRows:
    """The step checked and encoded; everything the person wrote (the message, answers' text, a risk trigger's
    words, the conversation state that holds answers) sealed with `seal`."""
    pid = step.participant_id
    require_utc(step.at)
    answer_rows = []
    for a in step.answers:
        kind, num, txt = encode_answer(a.value)
        answer_rows.append(
            {
                "participant_id": pid,
                "run_seq": a.run_seq,
                "flow_id": a.flow_id,
                "flow_version": a.flow_version,
                "item_id": a.item_id,
                "value_kind": kind,
                "value_num": num,
                "value_text": None if txt is None else seal(txt),
                "raw_text": seal(a.raw_text),
                "answered_at": require_utc(a.answered_at),
                "superseded": False,
            }
        )
    score_rows = tuple(
        {
            "participant_id": pid,
            "run_seq": s.run_seq,
            "flow_id": s.flow_id,
            "flow_version": s.flow_version,
            "score_id": s.score_id,
            "value": _finite(float(s.value)),
            "band": s.band,
            "completed_at": require_utc(s.completed_at),
        }
        for s in step.scores
    )
    outbox_rows = tuple(
        {
            "participant_id": pid,
            "channel": o.channel,
            "payload": dump_json(o.payload),
            "created_at": require_utc(o.created_at),
            "sent_at": None,
            "attempts": 0,
            "priority": int(Priority(o.priority)),  # ValueError for a priority that does not exist
        }
        for o in step.outbox
    )
    return StepRows(
        step=step,
        state=seal(dump_json(step.state)),
        inbox=inbox_row(step, seal),
        answers=tuple(answer_rows),
        scores=score_rows,
        outbox=outbox_rows,
        audit=tuple(audit_row(e) for e in step.audit),
        escalations=tuple(signal_row(e, seal) for e in step.escalations),
        outcome=None if step.schedule_outcome is None else outcome_row(step.schedule_outcome, step.at),
        cancel_kinds=tuple(dict.fromkeys(_name(kind, "schedule kind", 40) for kind in step.cancel_schedule_kinds)),
        cancel_keys=tuple(dict.fromkeys(_name(key, "schedule key", 200) for key in step.cancel_schedule_keys)),
        schedule=tuple(schedule_row(pid, record, step.at) for record in step.schedule),
        tasks=tuple(task_row(pid, task) for task in step.tasks),
        marks=tuple(mark_row(pid, mark) for mark in step.marks),
    )


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("non-finite score refused")
    return value


def audit_row(entry: AuditRecord) -> Row:
    return {
        "at": require_utc(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "detail": dump_json(entry.detail),
    }


def audit_from_row(row: Mapping[Any, Any]) -> AuditRecord:
    return AuditRecord(
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        at=row["at"],
        detail=load_json(row["detail"]),
    )


Open = Callable[[str], str]  # storage/crypto.Keys.open


def answer_export(row: Mapping[Any, Any], ref: str, open_text: Open) -> dict[str, Any]:
    """An answer as exports show it, its sealed text opened."""
    text = row["value_text"]
    return {
        "participant": ref,
        "flow_id": row["flow_id"],
        "flow_version": row["flow_version"],
        "run_seq": row["run_seq"],
        "item_id": row["item_id"],
        "value": decode_answer(row["value_kind"], row["value_num"], None if text is None else open_text(text)),
        "raw_text": open_text(row["raw_text"]),
        "answered_at": utc_text(row["answered_at"]),
    }


def score_export(row: Mapping[Any, Any], ref: str) -> dict[str, Any]:
    return {
        "participant": ref,
        "flow_id": row["flow_id"],
        "flow_version": row["flow_version"],
        "run_seq": row["run_seq"],
        "score_id": row["score_id"],
        "value": row["value"],
        "band": row["band"],
        "completed_at": utc_text(row["completed_at"]),
    }


# --- escalations ---


def level_rank(level: str) -> int:
    """Position in `RISK_LEVELS` (higher is more urgent); an unknown level is refused."""
    try:
        return RISK_LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown risk level {level!r}; expected one of {RISK_LEVELS}") from None


def signal_row(record: EscalationRecord, seal: Seal) -> Row:
    """A risk signal checked and encoded; the trigger JSON (verbatim text included) goes, sealed, to its own table."""
    level_rank(record.level)
    if not record.trigger_kind:
        raise ValueError("an escalation needs a trigger_kind")
    return {
        "level": record.level,
        "trigger_kind": record.trigger_kind,
        "trigger": seal(dump_json(record.trigger)),
        "at": require_utc(record.at),
        "deadline_at": require_utc(record.deadline_at),
    }


def require_actor(coach_id: str) -> str:
    if not coach_id or not coach_id.strip():
        raise ValueError("a coach id is required")
    return coach_id


def require_tier(tier: int) -> int:
    if isinstance(tier, bool) or not isinstance(tier, int) or tier < 0:
        raise ValueError(f"tier must be a non-negative int, not {tier!r}")
    return tier


def outcome_note(note: str) -> str:
    """The coach's outcome note, stripped; closing without one is refused."""
    stripped = note.strip() if isinstance(note, str) else ""
    if not stripped:
        raise ValueError("closing an escalation requires a non-empty outcome note")
    return stripped


def trigger_from_row(row: Mapping[Any, Any], open_text: Open) -> EscalationTrigger:
    return EscalationTrigger(
        level=row["level"], trigger_kind=row["trigger_kind"], trigger=load_json(open_text(row["trigger"])),
        at=row["at"],
    )


def escalation_from_row(row: Mapping[Any, Any], ref: str, triggers: tuple[EscalationTrigger, ...]) -> Escalation:
    return Escalation(
        id=row["id"],
        participant_id=row["participant_id"],
        participant_ref=ref,
        level=row["level"],
        status=EscalationStatus(row["status"]),
        opened_at=row["opened_at"],
        deadline_at=row["deadline_at"],
        tier=row["tier"],
        triggers=triggers,
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        outcome_note=row["outcome_note"],
    )


def notification_from_row(row: Mapping[Any, Any]) -> Notification:
    return Notification(
        id=row["id"],
        escalation_id=row["escalation_id"],
        coach_id=row["coach_id"],
        channel=row["channel"],
        tier=row["tier"],
        status=NotificationStatus(row["status"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        detail=row["detail"],
        updated_at=row["updated_at"],
    )


# --- the programme: schedule rules shared by both storages, and rows for tasks and milestones ---

_PENDING = ScheduleStatus.PENDING.value
REPLANNABLE = frozenset({_PENDING, ScheduleStatus.CANCELLED.value})  # sent and skipped rows are never planned again
REPLACED = "replaced"  # the reason of a row cancelled by a step's `cancel_schedule_kinds`


def check_message_id(value: object) -> str:
    """A channel's id of a message (update id, MessageSid), as the inbox keeps it."""
    return _name(value, "channel_message_id", 200)


def _name(value: object, field: str, max_length: int) -> str:
    """A required short identifier (a key or a kind), checked against its column's length."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} is required")
    if len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters")
    return value


def schedule_row(participant_id: int, record: ScheduledRecord, at: datetime) -> Row:
    """A planned event checked and encoded as the pending row an insert writes (`replan_changes` for an update)."""
    return {
        "participant_id": participant_id,
        "key": _name(record.key, "schedule key", 200),
        "kind": _name(record.kind, "schedule kind", 40),
        "due_at": require_utc(record.due_at),
        "data": dump_json(record.data),
        "status": _PENDING,
        "reason": "",
        "claimed_until": None,
        "created_at": require_utc(at),
        "updated_at": None,
    }


def schedule_rows(entries: Iterable[tuple[int, ScheduledRecord]], at: datetime) -> list[Row]:
    """`schedule_row` for each (participant id, event): an event object planned for many participants (a cohort
    shares one plan) is checked and encoded once, which is most of the cost of planning a whole cohort."""
    at = require_utc(at)
    encoded: dict[int, tuple[ScheduledRecord, Row]] = {}  # by id(); the record is kept so its id stays its own
    rows: list[Row] = []
    for participant_id, record in entries:
        found = encoded.get(id(record))
        if found is None or found[0] is not record:
            found = encoded[id(record)] = (record, schedule_row(participant_id, record, at))
        rows.append({**found[1], "participant_id": participant_id})
    return rows


def replan_changes(row: Mapping[str, Any], planned: Row) -> Row:
    """What planning `planned` again changes on the row with its key: a pending or cancelled row is planned anew
    (and loses any lease); a sent or skipped one is left alone, so an event never happens twice."""
    if row["status"] not in REPLANNABLE:
        return {}
    return {
        "kind": planned["kind"],
        "due_at": planned["due_at"],
        "data": planned["data"],
        "status": _PENDING,
        "reason": "",
        "claimed_until": None,
        "updated_at": planned["created_at"],
    }


def outcome_row(outcome: ScheduleOutcome, at: datetime) -> Row:
    """A step's schedule outcome checked: a deferral (pending) needs its new due time, nothing else takes one."""
    if isinstance(outcome.schedule_id, bool) or not isinstance(outcome.schedule_id, int):
        raise TypeError("schedule_id must be an int")
    status = ScheduleStatus(outcome.status)
    deferred = status is ScheduleStatus.PENDING
    if deferred and outcome.due_at is None:
        raise ValueError("a deferral (status pending) needs the new due_at")
    if not deferred and outcome.due_at is not None:
        raise ValueError("due_at is only for a deferral (status pending)")
    if not isinstance(outcome.reason, str):
        raise TypeError("reason must be a str")
    return {
        "id": outcome.schedule_id,
        "status": status.value,
        "reason": outcome.reason,
        "due_at": None if outcome.due_at is None else require_utc(outcome.due_at),
        "updated_at": require_utc(at),
    }


def outcome_applies(row: Mapping[str, Any] | None, participant_id: int) -> bool:
    """The precondition of a step's schedule outcome: the row is the participant's and still pending. Otherwise
    it was handled already (by another process, or before a crash) and the step must not be written."""
    return row is not None and row["participant_id"] == participant_id and row["status"] == _PENDING


def outcome_changes(outcome: Row) -> Row:
    """What an outcome that applies changes: the status, the reason, the lease, and a deferral's due time."""
    changes = {
        "status": outcome["status"],
        "reason": outcome["reason"],
        "claimed_until": None,
        "updated_at": outcome["updated_at"],
    }
    if outcome["due_at"] is not None:
        changes["due_at"] = outcome["due_at"]
    return changes


def cancels(row: Mapping[str, Any], kinds: tuple[str, ...], keys: tuple[str, ...] = ()) -> bool:
    """Whether a step's `cancel_schedule_kinds` or `cancel_schedule_keys` withdraw this row: pending rows of those
    kinds or with those keys only (a row already handled keeps its outcome)."""
    return row["status"] == _PENDING and (row["kind"] in kinds or row["key"] in keys)


def cancel_changes(at: datetime) -> Row:
    return {"status": ScheduleStatus.CANCELLED.value, "reason": REPLACED, "updated_at": at}


def claimable(row: Mapping[str, Any], now: datetime) -> bool:
    """Pending, due at `now`, and not held: never claimed, or the holder's lease has run out."""
    held_until = row["claimed_until"]
    return row["status"] == _PENDING and row["due_at"] <= now and (held_until is None or held_until <= now)


SCHEDULE_ROW_COLUMNS = ("id", "participant_id", "key", "kind", "due_at", "data", "status", "reason", "updated_at")


def schedule_from_row(row: Mapping[Any, Any]) -> ScheduleRow:
    return ScheduleRow(
        id=row["id"],
        participant_id=row["participant_id"],
        key=row["key"],
        kind=row["kind"],
        due_at=row["due_at"],
        data=load_json(row["data"]),
        status=ScheduleStatus(row["status"]),
        reason=row["reason"],
        updated_at=row["updated_at"],
    )


def task_row(participant_id: int, record: CoachTaskRecord) -> Row:
    return {
        "participant_id": participant_id,
        "kind": _name(record.kind, "task kind", 40),
        "detail": dump_json(record.detail),
        "created_at": require_utc(record.created_at),
        "due_at": None if record.due_at is None else require_utc(record.due_at),
        "done_at": None,
        "done_by": None,
    }


def task_from_row(row: Mapping[Any, Any]) -> CoachTask:
    return CoachTask(
        id=row["id"],
        participant_id=row["participant_id"],
        kind=row["kind"],
        detail=load_json(row["detail"]),
        created_at=row["created_at"],
        due_at=row["due_at"],
        done_at=row["done_at"],
        done_by=row["done_by"],
    )


def mark_row(participant_id: int, record: MarkRecord) -> Row:
    if not isinstance(record.key, str) or len(record.key) > 200:
        raise ValueError("mark key must be a str of at most 200 characters")
    return {
        "participant_id": participant_id,
        "kind": _name(record.kind, "mark kind", 40),
        "key": record.key,
        "detail": dump_json(record.detail),
        "at": require_utc(record.at),
    }


def mark_from_row(row: Mapping[Any, Any]) -> Mark:
    return Mark(
        participant_id=row["participant_id"],
        kind=row["kind"],
        key=row["key"],
        detail=load_json(row["detail"]),
        at=row["at"],
    )


def score_from_row(row: Mapping[Any, Any]) -> ScoreRecord:
    return ScoreRecord(
        run_seq=row["run_seq"],
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        score_id=row["score_id"],
        value=row["value"],
        band=row["band"],
        completed_at=row["completed_at"],
    )
