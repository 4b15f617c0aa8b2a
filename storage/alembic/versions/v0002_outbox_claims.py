"""outbox claims: an outbox row's lease, so that several bot processes never send it twice (storage/sql/claims.py)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 12:10:12.019651

Both dialects: two nullable columns without a default, added with a plain ``ALTER TABLE ... ADD COLUMN`` (on SQLite
no table rebuild, on PostgreSQL no table rewrite: the existing rows read NULL, no lease). Types frozen: the claimer
as ``VARCHAR(64)``, the lease's end as ``UTC_TIME`` (storage/alembic/column_types.py). Replaces the claims branch's
numbered migration 11, which never reached main (storage/legacy_migrations.py stays at 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("outbox", sa.Column("claimed_until", UTC_TIME, nullable=True))


def downgrade() -> None:
    # SQLite rebuilds the table here (batch mode); PostgreSQL drops the columns.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
