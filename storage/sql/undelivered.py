"""Outbox messages that did not get through: the urgent ones a coach must hear about, and what was given up.

Nothing is given up silently (issue 11). The SQL is portable Core in functions of a sync
`Connection`, like storage/sql/outbox.py.

- undelivered urgent: an URGENT row (a crisis reply) that no coach has been told about yet, and that was given up,
  or is still to send and was written at or before the cutoff the caller gives (now minus the configured
  minutes). A row that was sent and then reported failed is back in the queue (its ``sent_at`` cleared), so it
  counts again. Once a coach is told (``undelivered_told_at``), the row is left out: coaches hear of it once.
- given up: ``given_up_at`` is set; the person's page lists them, newest first, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from storage.errors import UnknownOutboxError
from storage.records import Priority, UndeliveredRow
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import UTCDateTime, require_utc
from storage.sql.directory import ContactOp
from storage.sql.outbox_rows import outbox_from_row

_o = s.outbox
_COLUMNS = (_o.c.id, _o.c.participant_id, _o.c.channel, _o.c.payload, _o.c.created_at, _o.c.attempts, _o.c.priority,
            _o.c.delivery_detail, _o.c.given_up_at)


def undelivered_from_row(row: Mapping[Any, Any]) -> UndeliveredRow:
    return UndeliveredRow(outbox_from_row(row), row["delivery_detail"], row["given_up_at"])


def undelivered_urgent(conn: Connection, created_before: datetime, limit: int) -> list[UndeliveredRow]:
    """The module docstring's rule, oldest first (on the partial index of urgent rows nobody was told about)."""
    at = bindparam("before", created_before, type_=UTCDateTime)
    unsent = and_(_o.c.sent_at.is_(None), _o.c.given_up_at.is_(None), _o.c.created_at <= at)
    query = (
        select(*_COLUMNS)
        .where(_o.c.priority == int(Priority.URGENT), _o.c.undelivered_told_at.is_(None),
               or_(_o.c.given_up_at.is_not(None), unsent))
        .order_by(_o.c.created_at, _o.c.id)
        .limit(limit)
    )
    return [undelivered_from_row(row) for row in conn.execute(query).mappings()]


def given_up_messages(conn: Connection, participant_id: int, limit: int) -> list[UndeliveredRow]:
    query = (
        select(*_COLUMNS)
        .where(_o.c.participant_id == participant_id, _o.c.given_up_at.is_not(None))
        .order_by(_o.c.given_up_at.desc(), _o.c.id.desc())
        .limit(limit)
    )
    return [undelivered_from_row(row) for row in conn.execute(query).mappings()]


@dataclass(frozen=True)
class MarkUndeliveredTold(ContactOp):
    """Record that a coach was told; a second call keeps the first time."""

    outbox_id: int
    at: datetime

    def run(self, conn: Connection) -> Exception | None:
        found = conn.execute(select(_o.c.id).where(_o.c.id == self.outbox_id)).first()
        if found is None:
            return UnknownOutboxError(f"outbox row {self.outbox_id} does not exist")
        conn.execute(update(_o).where(_o.c.id == self.outbox_id, _o.c.undelivered_told_at.is_(None))
                     .values(undelivered_told_at=self.at))
        return None


class UndeliveredMethods(StoreBase):
    """The `Outbox` port's undelivered rows."""

    async def undelivered_urgent(self, created_before: datetime, limit: int = 100) -> list[UndeliveredRow]:
        """URGENT rows no coach has been told about that were given up or are overdue (the module says which)."""
        before = require_utc(created_before)
        async with self._connect() as conn:
            return await conn.run_sync(undelivered_urgent, before, max(limit, 0))

    async def mark_undelivered_told(self, outbox_id: int, at: datetime) -> None:
        op = MarkUndeliveredTold(outbox_id, require_utc(at))
        await self._writer.submit(Kind.CONTACT, op)

    async def given_up_messages(self, participant_id: int, limit: int = 20) -> list[UndeliveredRow]:
        async with self._connect() as conn:
            return await conn.run_sync(given_up_messages, participant_id, max(limit, 0))
