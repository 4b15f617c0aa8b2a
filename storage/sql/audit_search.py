"""The `AuditSearch` port on SQL: the audit log filtered and paged in the database, newest first.

Keyset pages, not OFFSET: a page is the rows before the last one shown, in (at, id) order, so page 500 costs what
page 1 costs and a row written meanwhile does not shift the pages. The filters that narrow most have indexes of
their own that end with the time (subject, at) and (actor, at); the time alone has (at).
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, or_, select

from storage.admin_records import AuditEntry, AuditPage, AuditQuery
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.codecs import require_utc
from storage.sql.rows import audit_from_row

_al = s.audit_log
MAX_PAGE = 500


def search_audit(conn: Connection, query: AuditQuery) -> AuditPage:
    conditions = []
    if query.actor is not None:
        conditions.append(_al.c.actor == query.actor)
    if query.subject is not None:
        conditions.append(_al.c.subject == query.subject)
    if query.action is not None:
        conditions.append(_al.c.action.startswith(query.action, autoescape=True))
    if query.since is not None:
        conditions.append(_al.c.at >= require_utc(query.since))
    if query.until is not None:
        conditions.append(_al.c.at < require_utc(query.until))
    if query.older_than is not None:
        last = select(_al.c.at).where(_al.c.id == query.older_than).scalar_subquery()
        conditions.append(or_(_al.c.at < last, and_(_al.c.at == last, _al.c.id < query.older_than)))
    limit = min(max(query.limit, 1), MAX_PAGE)
    statement = (select(_al).where(*conditions).order_by(_al.c.at.desc(), _al.c.id.desc()).limit(limit + 1))
    rows = conn.execute(statement).mappings().all()
    entries = tuple(AuditEntry(row["id"], audit_from_row(row)) for row in rows[:limit])
    return AuditPage(entries, len(rows) > limit)


class AuditSearchMethods(StoreBase):
    """The `AuditSearch` port."""

    async def search_audit(self, query: AuditQuery) -> AuditPage:
        async with self._connect() as conn:
            return await conn.run_sync(search_audit, query)
