"""desk: indexes for the caseload page (a person's latest score of one kind, their modules done)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:10:00.000000

The my-participants page sorts up to every participant by their latest PSS-10 or WHO-5 and by modules done
(storage/sql/caseload.py): each is one index seek per person with these, instead of reading all their scores or
milestones. Indexes only, both dialects, no data to convert.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_scores_participant_id_flow_id_score_id_completed_at", "scores",
                    ["participant_id", "flow_id", "score_id", "completed_at"], unique=False)
    op.create_index("ix_programme_marks_participant_id_kind", "programme_marks", ["participant_id", "kind"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_programme_marks_participant_id_kind", table_name="programme_marks")
    op.drop_index("ix_scores_participant_id_flow_id_score_id_completed_at", table_name="scores")
