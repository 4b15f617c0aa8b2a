"""The column types revisions write for storage.sql.schema's two types that pick their column per dialect. Frozen: a
revision that imports one relies on it meaning this for ever; a different storage needs a new name here.

- `UTC_TIME` (storage.sql.codecs.UTCDateTime): fixed-width ISO-8601 UTC text on SQLite, ``timestamptz`` on PostgreSQL;
- `JSON_TEXT` (storage.sql.codecs.JSONText): text on SQLite, ``jsonb`` on PostgreSQL.

storage/alembic/env.py renders those types as these names when it drafts a revision (`python -m bot db revision`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

UTC_TIME = sa.String(32).with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
JSON_TEXT = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
