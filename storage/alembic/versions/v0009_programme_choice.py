"""programme choice: the programme each participant was enrolled in (issue 15: several programmes in one deployment)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:12:41.300118

Both dialects: one nullable column without a default, ``profiles.programme`` (a programme file's ``id``), added with a
plain ``ALTER TABLE ... ADD COLUMN`` (on SQLite no table rebuild, on PostgreSQL no table rewrite). The existing rows
read NULL: people enrolled before this revision follow the deployment's default programme (docs/programme.md), so
nothing needs converting. Type frozen: ``VARCHAR(100)``. If another branch also adds a 0009, renumber this one at merge
(revision and down_revision only).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("profiles", sa.Column("programme", sa.String(length=100), nullable=True))


def downgrade() -> None:
    # SQLite rebuilds the table here (batch mode); PostgreSQL drops the column.
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("programme")
