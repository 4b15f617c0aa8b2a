"""Alembic's environment: runs the revisions on the connection the caller lends (``config.attributes["connection"]``,
see storage/upgrade.py), inside the caller's transaction, against the models of storage.sql.schema.

SQLite cannot alter most of a table in place, so its changes are rendered as batch operations (a copy of the table
with the change, the rows moved, the old table dropped). There is no offline (SQL script) mode: upgrades run on the
database itself, under its lock.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from storage.sql.codecs import JSONText, UTCDateTime
from storage.sql.schema import metadata

VERSION_TABLE = "alembic_version"
_FROZEN_TYPES = {UTCDateTime: "UTC_TIME", JSONText: "JSON_TEXT"}  # storage/alembic/column_types.py


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """A drafted revision names storage.sql.schema's per-dialect types by their frozen spelling, not by the class."""
    name = _FROZEN_TYPES.get(type(obj)) if kind == "type" else None
    if name is None:
        return False
    autogen_context.imports.add(f"from storage.alembic.column_types import {name}")
    return name


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("no offline mode: upgrade the database itself (python -m bot db upgrade)")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("storage/alembic runs on a connection lent by storage/upgrade.py")
    _run(connection)


_main()
