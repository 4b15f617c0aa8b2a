"""channel heartbeats: when each channel last heard from its provider; indexes for the audit search and given-up rows

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:46:41.585048

Both dialects. A new table (`channel_heartbeats`: one row per channel and signal, bot/heartbeats.py), two plain
indexes on the audit log (subject, at) and (actor, at) so the administrators' search of one person's or one actor's
rows does not scan the log, and a partial index of given-up outbox rows (few) for the channel health page. No data
changes; on a large audit log the two indexes take a moment to build (PostgreSQL holds writes to it meanwhile).
Renumbered 0011 at merge.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GIVEN_UP = sa.text("given_up_at IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "channel_heartbeats",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("channel", "signal", name=op.f("pk_channel_heartbeats")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_actor_at"), ["actor", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_subject_at"), ["subject", "at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_given_up", ["given_up_at"], unique=False, sqlite_where=GIVEN_UP,
                              postgresql_where=GIVEN_UP)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_given_up", sqlite_where=GIVEN_UP, postgresql_where=GIVEN_UP)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor_at"))
    op.drop_table("channel_heartbeats")
