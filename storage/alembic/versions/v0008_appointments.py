"""appointments: booked talks and group sessions, and who is expected at them (issue 15)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 14:42:23.257954

Two new tables, both dialects, no data to convert. Types frozen: datetimes as ``UTC_TIME``
(storage/alembic/column_types.py). The reminders are schedule rows (kind ``appointment``), so no table of their own.
Renumbered from 0005 at merge (after the desk challenges, person page and caseload revisions).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("starts_at", UTC_TIME, nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("video", sa.String(length=500), nullable=False),
        sa.Column("cohort", sa.String(length=100), nullable=True),
        sa.Column("booked_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_starts_at"), ["starts_at"], unique=False)
    op.create_table(
        "appointment_attendees",
        sa.Column("appointment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("participant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("attendance", sa.String(length=16), nullable=True),
        sa.Column("marked_by", sa.String(length=200), nullable=True),
        sa.Column("marked_at", UTC_TIME, nullable=True),
        sa.CheckConstraint("attendance IN ('attended', 'missed')", name=op.f("ck_appointment_attendees_attendance")),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"],
                                name=op.f("fk_appointment_attendees_appointment_id_appointments")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_appointment_attendees_participant_id_participants")),
        sa.PrimaryKeyConstraint("appointment_id", "participant_id", name=op.f("pk_appointment_attendees")),
    )
    with op.batch_alter_table("appointment_attendees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointment_attendees_participant_id"), ["participant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appointment_attendees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_attendees_participant_id"))
    op.drop_table("appointment_attendees")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_starts_at"))
    op.drop_table("appointments")
