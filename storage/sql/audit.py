"""The audit log: who did what (never message bodies or phone numbers), written through the writer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from storage.records import AuditRecord
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.rows import audit_from_row, audit_row


def write_audit(conn: Connection, payloads: list[Any]) -> list[Any]:
    conn.execute(insert(s.audit_log), payloads)
    return [None] * len(payloads)


class AuditMethods(StoreBase):
    """The `Audit` port."""

    async def record_audit(self, entry: AuditRecord) -> None:
        await self._writer.submit(Kind.AUDIT, audit_row(entry))

    async def audit_entries(self, limit: int = 1000) -> list[AuditRecord]:
        """The newest `limit` entries, newest first."""
        al = s.audit_log
        query = select(al).order_by(al.c.at.desc(), al.c.id.desc()).limit(limit)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [audit_from_row(r) for r in rows]
