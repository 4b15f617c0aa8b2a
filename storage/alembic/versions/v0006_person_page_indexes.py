"""person page: per-person indexes on outbox, inbox and escalations (bot/desk/, a person's page)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 13:43:48.692559

Both dialects: three plain indexes that start with the participant, so a person's messages in and out and their
escalations are read without scanning the tables (the desk's person page, p99 <= 200 ms at 10,000 participants).
No data changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalations_participant_id_opened_at"), ["participant_id", "opened_at"],
                              unique=False)
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_participant_id_received_at"), ["participant_id", "received_at"],
                              unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_participant_id_id"), ["participant_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_participant_id_id"))
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_participant_id_received_at"))
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_participant_id_opened_at"))
