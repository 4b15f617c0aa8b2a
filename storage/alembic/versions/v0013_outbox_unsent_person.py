"""outbox: a partial index of each person's rows still to send

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:20:00

Both dialects. A dispatcher's claim reads the rows still to send of the people it takes, in their sending order
(storage/sql/outbox_claims.py). SQLite answered that from ix_outbox_unsent, reading every row still to send on the
channel at each claim, however few people were taken. This index holds the same rows by person. No data changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TO_SEND = sa.text("sent_at IS NULL AND given_up_at IS NULL")
COLUMNS = ["participant_id", "channel", "priority", "id"]


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unsent_person", COLUMNS, unique=False, sqlite_where=TO_SEND,
                              postgresql_where=TO_SEND)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsent_person", sqlite_where=TO_SEND, postgresql_where=TO_SEND)
