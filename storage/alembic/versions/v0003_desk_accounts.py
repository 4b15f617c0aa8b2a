"""desk: coaches" log-ins, passkeys, sessions and failed log-ins (bot/desk/)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 13:36:16.581432

Four new tables, both dialects, no data to convert. Types frozen: datetimes as ``UTC_TIME``
(storage/alembic/column_types.py). A coach"s TOTP secret is a Fernet token; a session is stored by its id"s SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_login_failures")),
    )
    with op.batch_alter_table("desk_login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_login_failures_key_at"), ["key", "at"], unique=False)

    op.create_table(
        "desk_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("coach_id", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_desk_sessions")),
    )
    with op.batch_alter_table("desk_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_sessions_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "desk_users",
        sa.Column("coach_id", sa.String(length=64), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("coach_id", name=op.f("pk_desk_users")),
    )
    op.create_table(
        "desk_passkeys",
        sa.Column("credential_id", sa.String(length=700), nullable=False),
        sa.Column("coach_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["coach_id"], ["desk_users.coach_id"], name=op.f("fk_desk_passkeys_coach_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_desk_passkeys")),
    )
    with op.batch_alter_table("desk_passkeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_passkeys_coach_id"), ["coach_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_passkeys_coach_id"))

    op.drop_table("desk_passkeys")
    op.drop_table("desk_users")
    with op.batch_alter_table("desk_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_sessions_seen_at"))

    op.drop_table("desk_sessions")
    with op.batch_alter_table("desk_login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_login_failures_key_at"))

    op.drop_table("desk_login_failures")
