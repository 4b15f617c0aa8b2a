"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Both dialects: SQLite changes tables with ``op.batch_alter_table`` (render_as_batch), PostgreSQL with ALTER. Types are
frozen here (no import of storage.sql.schema's, which keep changing): datetimes as ``UTC_TIME``, JSON as ``JSON_TEXT``
(storage/alembic/column_types.py). Data conversions that need the storage keys find them in
``op.get_bind().info[KEYS_INFO]`` (storage.crypto).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
