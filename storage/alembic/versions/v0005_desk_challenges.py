"""desk: log-in challenges (passkeys, identity provider)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:43:43.109441

One new table, both dialects, no data to convert: a log-in's pending challenge, kept so that any desk process can
finish a log-in another began, and taken once. Types frozen: datetimes as ``UTC_TIME``
(storage/alembic/column_types.py); ``data`` is a Fernet token.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_challenges",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("coach_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_desk_challenges")),
    )
    with op.batch_alter_table("desk_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_challenges_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_challenges_expires_at"))

    op.drop_table("desk_challenges")
