"""arms: randomised cohorts and allocations (issue 15, the control arm)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 13:47:00.511471

Two new tables, both dialects, no data to convert. Types frozen: datetimes as ``UTC_TIME``
(storage/alembic/column_types.py). A cohort opted in to randomisation (`bot cohort randomise`) has a row in
``randomised_cohorts`` whose counter orders its allocations; each allocation is written in its enrolment's
transaction. If another branch also adds a 0004, renumber this one at merge (revision and down_revision only).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.alembic.column_types import UTC_TIME

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "randomised_cohorts",
        sa.Column("cohort", sa.String(length=100), nullable=False),
        sa.Column("scheme", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("cohort", name=op.f("pk_randomised_cohorts")),
    )
    op.create_table(
        "allocations",
        sa.Column("participant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cohort", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("block_size", sa.Integer(), nullable=False),
        sa.Column("allocated_by", sa.String(length=200), nullable=False),
        sa.Column("allocated_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("arm IN ('programme', 'control')", name=op.f("ck_allocations_arm")),
        sa.ForeignKeyConstraint(["cohort"], ["randomised_cohorts.cohort"],
                                name=op.f("fk_allocations_cohort_randomised_cohorts")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_allocations_participant_id_participants")),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_allocations")),
        sa.UniqueConstraint("cohort", "seq", name=op.f("uq_allocations_cohort_seq")),
    )


def downgrade() -> None:
    op.drop_table("allocations")
    op.drop_table("randomised_cohorts")
