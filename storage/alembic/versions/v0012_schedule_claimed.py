"""schedule: a partial index of the people someone is handling now (a claimed pending row)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:30:00

Both dialects. A claim of due schedule rows leaves out people with a row someone else holds (storage/sql/claims.py);
that check read every pending row. The index holds only pending rows with a lease, so it stays small however large
the schedule grows. No data changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMED = sa.text("status = 'pending' AND claimed_until IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index("ix_schedule_claimed", ["participant_id"], unique=False, sqlite_where=CLAIMED,
                              postgresql_where=CLAIMED)


def downgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_claimed", sqlite_where=CLAIMED, postgresql_where=CLAIMED)
