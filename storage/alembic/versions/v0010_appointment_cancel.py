"""appointment_cancel: appointments cancelled or moved, and the group sessions a programme declares (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 16:49:22.396937

Five new columns on ``appointments``, both dialects, no data to convert: existing rows are neither cancelled nor
moved (``moves`` 0) nor declared sessions (``series`` NULL). The unique index on ``series`` is what makes booking a
cohort's declared sessions idempotent across processes. Types frozen: datetimes as ``UTC_TIME``
(storage/alembic/column_types.py). Renumbered 0010 at merge (revision and
down_revision only).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("moves", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("moved_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_appointments_series"), ["series"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_series"))
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("moved_at")
        batch_op.drop_column("moves")
        batch_op.drop_column("series")
