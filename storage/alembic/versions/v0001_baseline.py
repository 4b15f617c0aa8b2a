"""The baseline: today's schema, as the numbered migrations 1 to 10 (storage/legacy_migrations.py) left it.

Revision ID: 0001
Revises: (none)

A new database gets every table here at once. A database those migrations made is recognised by their ledger, brought
to version 10 by them if it is older, and stamped at this revision without running it (storage/upgrade.py), so on
SQLite this must create exactly what they created, byte for byte in ``sqlite_master``
(tests/storage/test_storage_upgrade.py compares it with tests/storage/schema_v10.sql).

Frozen like every revision: the types are spelled out here or in storage/alembic/column_types.py, never imported
from storage.sql.schema. On SQLite datetimes are fixed-width ISO-8601 UTC text and JSON is text (the on-disk format the
code and the v10 files have); on PostgreSQL they are ``timestamptz`` and ``jsonb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import JSON_TEXT, UTC_TIME

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (  # in the order they are created (a table after those it refers to)
    "audit_log",
    "flow_versions",
    "participants",
    "seen_messages",
    "addresses",
    "answers",
    "coach_tasks",
    "conversations",
    "escalations",
    "inbox",
    "link_codes",
    "outbox",
    "profiles",
    "programme_marks",
    "schedule",
    "scores",
    "escalation_triggers",
    "notifications",
)


def _index(
    name: str,
    table: str,
    columns: list[str],
    *,
    where: str | sa.ColumnElement[bool] | None = None,
    unique: bool = False,
) -> None:
    """An index; a partial one (only the rows `where` holds) on both dialects."""
    condition = sa.text(where) if isinstance(where, str) else where
    op.create_index(op.f(name), table, columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", JSON_TEXT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    _index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "flow_versions",
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "version", name=op.f("pk_flow_versions")),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint("ref", name=op.f("uq_participants_ref")),
    )
    op.create_table(
        "seen_messages",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_message_id", sa.String(length=200), nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("channel", "channel_message_id", name=op.f("pk_seen_messages")),
    )
    op.create_table(
        "addresses",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("participant_id", "channel", name=op.f("pk_addresses")),
        sa.UniqueConstraint("channel", "address_hash", name=op.f("uq_addresses_channel_address_hash")),
        sa.CheckConstraint("status IN ('active', 'opted_out', 'unreachable')", name=op.f("ck_addresses_status")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_addresses_participant_id_participants")
        ),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("run_seq", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=100), nullable=False),
        sa.Column("value_kind", sa.String(length=8), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("answered_at", UTC_TIME, nullable=False),
        sa.Column("superseded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.CheckConstraint("value_kind IN ('int', 'float', 'str')", name=op.f("ck_answers_value_kind")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_answers_participant_id_participants")
        ),
    )
    _index("ix_answers_participant_id_run_seq_item_id", "answers", ["participant_id", "run_seq", "item_id"])
    op.create_table(
        "coach_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", JSON_TEXT, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=True),
        sa.Column("done_at", UTC_TIME, nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_tasks")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_coach_tasks_participant_id_participants")
        ),
    )
    _index("ix_coach_tasks_open", "coach_tasks", ["created_at"], where="done_at IS NULL")
    _index("ix_coach_tasks_participant_id", "coach_tasks", ["participant_id"])
    op.create_table(
        "conversations",
        sa.Column("participant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_conversations")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_conversations_participant_id_participants")
        ),
    )
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("deadline_at", UTC_TIME, nullable=True),
        sa.Column("tier", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", UTC_TIME, nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.CheckConstraint("level IN ('low', 'moderate', 'high')", name=op.f("ck_escalations_level")),
        sa.CheckConstraint("status IN ('open', 'acknowledged', 'closed')", name=op.f("ck_escalations_status")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_escalations_participant_id_participants")
        ),
    )
    _index("ix_escalations_status_deadline_at", "escalations", ["status", "deadline_at"])
    _index(
        "ux_escalations_active_participant", "escalations", ["participant_id"], where="status != 'closed'", unique=True
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_message_id", sa.String(length=200), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("processed_at", UTC_TIME, nullable=True),
        sa.Column("body_enc", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=100), nullable=True),
        sa.Column("outcome_detail", JSON_TEXT, nullable=True),
        sa.Column("for_coach", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("read_by", sa.String(length=200), nullable=True),
        sa.Column("read_at", UTC_TIME, nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("channel", "channel_message_id", name=op.f("uq_inbox_channel_channel_message_id")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_inbox_participant_id_participants")
        ),
    )
    _index("ix_inbox_for_coach", "inbox", ["received_at"], where=sa.column("for_coach", sa.Boolean) == sa.true())
    op.create_table(
        "link_codes",
        sa.Column("code_digest", sa.String(length=128), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("code_digest", name=op.f("pk_link_codes")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_link_codes_participant_id_participants")
        ),
    )
    _index("ix_link_codes_participant_id", "link_codes", ["participant_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON_TEXT, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("insert_sentinel", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("delivery_status", sa.String(length=32), nullable=True),
        sa.Column("delivery_detail", sa.Text(), nullable=True),
        sa.Column("not_before", UTC_TIME, nullable=True),
        sa.Column("given_up_at", UTC_TIME, nullable=True),
        sa.Column("priority", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("undelivered_told_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_outbox_participant_id_participants")
        ),
    )
    _index(
        "ix_outbox_deferred",
        "outbox",
        ["participant_id", "channel", "id"],
        where="sent_at IS NULL AND given_up_at IS NULL AND not_before IS NOT NULL",
    )
    _index("ix_outbox_unsent", "outbox", ["channel", "priority", "id"], where="sent_at IS NULL AND given_up_at IS NULL")
    _index("ix_outbox_urgent", "outbox", ["created_at"], where="priority = 0 AND undelivered_told_at IS NULL")
    _index("ux_outbox_provider_id", "outbox", ["provider_id"], unique=True)
    op.create_table(
        "profiles",
        sa.Column("participant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("coach_id", sa.String(length=200), nullable=True),
        sa.Column("consent_version", sa.String(length=100), nullable=True),
        sa.Column("consent_at", UTC_TIME, nullable=True),
        sa.Column("cohort", sa.String(length=100), nullable=True),
        sa.Column("consent_channel", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_profiles")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_profiles_participant_id_participants")
        ),
    )
    op.create_table(
        "programme_marks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("detail", JSON_TEXT, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_marks")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_programme_marks_participant_id_participants")
        ),
    )
    _index("ix_programme_marks_participant_id", "programme_marks", ["participant_id"])
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=False),
        sa.Column("data", JSON_TEXT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("claimed_until", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
        sa.UniqueConstraint("participant_id", "key", name=op.f("uq_schedule_participant_id_key")),
        sa.CheckConstraint(
            "status = 'pending' OR status = 'sent' OR status = 'skipped' OR status = 'cancelled'",
            name=op.f("ck_schedule_status"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_schedule_participant_id_participants")
        ),
    )
    _index("ix_schedule_pending_due_at", "schedule", ["due_at"], where="status = 'pending'")
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("run_seq", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("score_id", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=100), nullable=True),
        sa.Column("completed_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_scores_participant_id_participants")
        ),
    )
    _index("ix_scores_participant_id_run_seq", "scores", ["participant_id", "run_seq"])
    op.create_table(
        "escalation_triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("trigger_kind", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_triggers")),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name=op.f("fk_escalation_triggers_escalation_id_escalations")
        ),
    )
    _index("ix_escalation_triggers_escalation_id", "escalation_triggers", ["escalation_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("detail", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_notifications_status")),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name=op.f("fk_notifications_escalation_id_escalations")
        ),
    )
    _index("ix_notifications_escalation_id", "notifications", ["escalation_id"])
    _index("ix_notifications_status", "notifications", ["status"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
