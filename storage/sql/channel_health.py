"""The `ChannelHealth` port on SQL: the channels' heartbeats, and the outbox counted per channel for the
administrators' channel health page (bot/desk/views/admin_health.py).

The outbox is the bot's largest table; these reads touch only its rows still to send (the partial index
``ix_outbox_unsent``, starting with the channel) and its given-up rows (the partial index ``ix_outbox_given_up``),
so they cost what waits and what failed, not what was ever sent. Nothing here reads a message's payload, and the
given-up list names the participant by ref only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.admin_records import ChannelOutbox, GivenUpMessage, Heartbeat
from storage.records import Priority
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import require_utc
from storage.sql.directory import ContactOp

_o, _h, _p = s.outbox, s.channel_heartbeats, s.participants
_WAITING = and_(_o.c.sent_at.is_(None), _o.c.given_up_at.is_(None))  # the partial index's own condition


def _heartbeat_upsert(make_insert: Callable[[Any], Any], row: dict[str, Any]) -> Any:
    """Insert, or move `seen_at` forward (never back: two processes may write out of order)."""
    statement = make_insert(_h).values(row)
    return statement.on_conflict_do_update(index_elements=[_h.c.channel, _h.c.signal],
                                           set_={"seen_at": statement.excluded.seen_at},
                                           where=_h.c.seen_at < statement.excluded.seen_at)


@dataclass(frozen=True)
class RecordHeartbeat(ContactOp):
    channel: str
    signal: str
    at: datetime

    def run(self, conn: Connection) -> None:
        make_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(_heartbeat_upsert(make_insert, {"channel": self.channel, "signal": self.signal,
                                                     "seen_at": self.at}))


def count_outbox(conn: Connection, now: datetime, given_up_since: datetime) -> list[ChannelOutbox]:
    due = or_(_o.c.not_before.is_(None), _o.c.not_before <= now)
    waiting = conn.execute(
        select(_o.c.channel, func.count(), func.sum(case((due, 1), else_=0)), func.min(case((due, _o.c.created_at))),
               func.sum(case((_o.c.attempts > 0, 1), else_=0)))
        .where(_WAITING).group_by(_o.c.channel)
    ).all()
    given_up: dict[str, int] = {channel: count for channel, count in conn.execute(
        select(_o.c.channel, func.count())
        .where(_o.c.given_up_at.is_not(None), _o.c.given_up_at >= given_up_since).group_by(_o.c.channel))}
    found = {}
    for channel, count, due_count, oldest, retrying in waiting:
        latest = None
        if retrying:
            latest = conn.scalar(select(_o.c.delivery_detail).where(_WAITING, _o.c.channel == channel,
                                                                    _o.c.attempts > 0)
                                 .order_by(_o.c.id.desc()).limit(1))
        found[channel] = ChannelOutbox(channel, count, int(due_count or 0), oldest, int(retrying or 0),
                                       given_up.get(channel, 0), latest)
    for channel, count in given_up.items():
        found.setdefault(channel, ChannelOutbox(channel, 0, 0, None, 0, count, None))
    return [found[channel] for channel in sorted(found)]


def read_given_up(conn: Connection, since: datetime, limit: int) -> list[GivenUpMessage]:
    query = (
        select(_o.c.id, _o.c.channel, _p.c.ref, _o.c.priority, _o.c.created_at, _o.c.given_up_at,
               _o.c.delivery_detail)
        .join(_p, _p.c.id == _o.c.participant_id)
        .where(_o.c.given_up_at.is_not(None), _o.c.given_up_at >= since)
        .order_by(_o.c.given_up_at.desc(), _o.c.id.desc())
        .limit(limit)
    )
    return [GivenUpMessage(row.id, row.channel, row.ref, row.priority == int(Priority.URGENT), row.created_at,
                           row.given_up_at, row.delivery_detail or "")
            for row in conn.execute(query)]


class ChannelHealthMethods(StoreBase):
    """The `ChannelHealth` port."""

    async def record_heartbeat(self, channel: str, signal: str, at: datetime) -> None:
        await self._writer.submit(Kind.CONTACT, RecordHeartbeat(channel, signal, require_utc(at)))

    async def heartbeats(self) -> list[Heartbeat]:
        async with self._connect() as conn:
            rows = (await conn.execute(select(_h).order_by(_h.c.channel, _h.c.signal))).all()
        return [Heartbeat(row.channel, row.signal, row.seen_at) for row in rows]

    async def outbox_health(self, now: datetime, given_up_since: datetime) -> list[ChannelOutbox]:
        at, since = require_utc(now), require_utc(given_up_since)
        async with self._connect() as conn:
            return await conn.run_sync(count_outbox, at, since)

    async def given_up_since(self, since: datetime, limit: int = 20) -> list[GivenUpMessage]:
        at = require_utc(since)
        async with self._connect() as conn:
            return await conn.run_sync(read_given_up, at, max(limit, 0))
