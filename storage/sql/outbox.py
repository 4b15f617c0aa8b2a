"""The outbox: what waits to be sent, and what the providers said about what was sent.

Outbox rows, as `pending_outbox` sees them:

- to send: ``sent_at`` and ``given_up_at`` are NULL;
- due: to send, and ``not_before`` is NULL, or at or before `now` (without a `now`, a deferred row is never due:
  whoever defers rows must pass the time when asking for them again);
- a participant's order on a channel: most urgent first (`Priority`), then oldest first;
- held: to send but not due. A held row holds back the rows of the same participant on its channel that come after
  it in that order, so a conversation's messages never overtake each other across a rate limit or a retry, and
  nothing less urgent reaches the person while their crisis reply waits for a retry.

`pending_outbox` returns the due rows that are not held back, in sending order: priority, then id.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, and_, bindparam, insert, literal_column, or_, select, update

from storage.errors import AlreadyTaken, UnknownOutboxError
from storage.records import OutboxRow
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.bulk import Bulk
from storage.sql.claims import LEASE_ENDED
from storage.sql.codecs import Row, UTCDateTime, require_utc
from storage.sql.directory import ContactOp, find_participant
from storage.sql.directory_rows import check_status
from storage.sql.outbox_claims import ClaimOutbox, LocalLeases, claimable_outbox
from storage.sql.outbox_rows import (
    OUTBOX_COLUMNS,
    PROVIDER_ID_TAKEN,
    SENT,
    defer_changes,
    delivery_changes,
    give_up_changes,
    given_up_audit,
    held_back,
    only_urgent_of,
    outbox_from_row,
)

_o, _al = s.outbox, s.audit_log
_earlier = _o.alias("earlier")
_OUTBOX_ROW = select(_o).where(_o.c.id == bindparam("oid")).with_for_update()
_PROVIDER_OWNER = select(_o.c.id).where(_o.c.provider_id == bindparam("provider_id"))


class _OutboxOp(ContactOp):
    """Reads the row (locked where the database can), decides with the shared rule, writes the changes."""

    outbox_id: int
    at: datetime

    def run(self, conn: Connection) -> Exception | None:
        row = conn.execute(_OUTBOX_ROW, {"oid": self.outbox_id}).mappings().first()
        if row is None:
            return UnknownOutboxError(f"outbox row {self.outbox_id} does not exist")
        changes = self.changes(row)
        provider_id = changes.get("provider_id")
        if provider_id is not None:
            other = conn.execute(_PROVIDER_OWNER, {"provider_id": provider_id}).scalar()
            if other is not None and other != self.outbox_id:
                return AlreadyTaken(PROVIDER_ID_TAKEN)
        if changes:
            # whatever it was, the sender's lease on it ends (storage/sql/claims.py)
            conn.execute(update(_o).where(_o.c.id == self.outbox_id).values(**changes, **LEASE_ENDED))
            self.after(conn, {**row, **changes})
        return None

    @abstractmethod
    def changes(self, row: Mapping[Any, Any]) -> Row: ...

    def after(self, conn: Connection, row: Mapping[Any, Any]) -> None:
        pass


@dataclass(frozen=True)
class MarkDelivery(_OutboxOp):
    outbox_id: int
    provider_id: str | None
    status: str
    at: datetime
    detail: str

    def changes(self, row: Mapping[Any, Any]) -> Row:
        return delivery_changes(row, self.provider_id, self.status, self.at, self.detail)


@dataclass(frozen=True)
class DeferOutbox(_OutboxOp):
    outbox_id: int
    not_before: datetime
    at: datetime
    detail: str

    def changes(self, row: Mapping[Any, Any]) -> Row:
        return defer_changes(row, self.not_before, self.detail)


@dataclass(frozen=True)
class GiveUpOutbox(_OutboxOp):
    outbox_id: int
    at: datetime
    detail: str

    def changes(self, row: Mapping[Any, Any]) -> Row:
        return give_up_changes(row, self.at, self.detail)

    def after(self, conn: Connection, row: Mapping[Any, Any]) -> None:
        participant = find_participant(conn, row["participant_id"])
        assert participant is not None  # the foreign key
        conn.execute(insert(_al), given_up_audit(participant.ref, row, self.at))


def outbox_by_provider_ids(conn: Connection, provider_ids: list[Any]) -> list[Any]:
    """Batched lookups of provider id -> OutboxRow | None."""
    query = select(*OUTBOX_COLUMNS, _o.c.provider_id).where(_o.c.provider_id.in_(sorted(set(provider_ids))))
    found = {row["provider_id"]: outbox_from_row(row) for row in conn.execute(query).mappings()}
    return [found.get(provider_id) for provider_id in provider_ids]


def pending_outbox(conn: Connection, channel: str, limit: int, now: datetime | None,
                   only_urgent_for: frozenset[int] = frozenset(), urgent_only: bool = False) -> list[OutboxRow]:
    """The module docstring's rule: due rows not held back by an earlier held row, in sending order; of the
    participants in `only_urgent_for`, only URGENT rows."""
    o, e = _o, _earlier
    due: ColumnElement[bool]
    held: ColumnElement[bool]
    if now is None:
        due, held = o.c.not_before.is_(None), e.c.not_before.is_not(None)
    else:
        at = bindparam("now", now, type_=UTCDateTime)
        due, held = or_(o.c.not_before.is_(None), o.c.not_before <= at), e.c.not_before > at
    query = (
        select(*OUTBOX_COLUMNS)
        .where(and_(o.c.channel == channel, o.c.sent_at.is_(None), o.c.given_up_at.is_(None)), due,
               ~held_back(o, e, held))
        .order_by(o.c.priority, o.c.id)
        .limit(limit)
    )
    return [outbox_from_row(row)
            for row in conn.execute(only_urgent_of(query, o, only_urgent_for, urgent_only)).mappings()]


MARK_SENT = Bulk(
    update(_o)
    .where(_o.c.id == bindparam("b_id"), _o.c.sent_at.is_(None))
    .values(sent_at=bindparam("b_at"), attempts=_o.c.attempts + literal_column("1"), **LEASE_ENDED)
)


# what `delivery_changes` reads of a row (its payload is not decoded for nothing)
_ROWS_TO_MARK = (select(_o.c.id, _o.c.sent_at, _o.c.attempts, _o.c.provider_id, _o.c.delivery_status,
                        _o.c.delivery_detail)
                 .where(_o.c.id.in_(bindparam("ids", expanding=True))).order_by(_o.c.id).with_for_update())
_PROVIDER_OWNERS = select(_o.c.id, _o.c.provider_id).where(_o.c.provider_id.in_(bindparam("pids", expanding=True)))
_SET_COLUMNS: dict[tuple[str, ...], Bulk] = {}  # the UPDATE for each set of changed columns, made once


def write_sent(conn: Connection, payloads: list[Any]) -> list[Any]:
    """`mark_sent`'s (id, at) pairs, and "sent" reports (`MarkDelivery`): every message sends one, so they are
    written together: the rows read in one statement, each report decided by `MarkDelivery.changes` (the rule of
    `mark_delivery`, unchanged), and the changes written with one statement per set of changed columns."""
    plain = [{"b_id": p[0], "b_at": p[1]} for p in payloads if isinstance(p, tuple)]
    if plain:
        MARK_SENT.run(conn, plain)
    reports = [p for p in payloads if isinstance(p, MarkDelivery)]
    results = _sent_reports(conn, reports) if reports else {}
    return [None if isinstance(p, tuple) else results[id(p)] for p in payloads]


def _sent_reports(conn: Connection, reports: list[MarkDelivery]) -> dict[int, Exception | None]:
    """`_OutboxOp.run` for many reports at once: the same checks and changes, in the same order."""
    rows = {row["id"]: dict(row) for row in
            conn.execute(_ROWS_TO_MARK, {"ids": sorted({r.outbox_id for r in reports})}).mappings()}
    pids = sorted({r.provider_id for r in reports if r.provider_id is not None})
    owners = {row.provider_id: row.id for row in conn.execute(_PROVIDER_OWNERS, {"pids": pids})} if pids else {}
    results: dict[int, Exception | None] = {}
    writes: dict[tuple[str, ...], list[Row]] = {}
    for report in reports:
        row = rows.get(report.outbox_id)
        if row is None:
            results[id(report)] = UnknownOutboxError(f"outbox row {report.outbox_id} does not exist")
            continue
        changes = report.changes(row)
        provider_id = changes.get("provider_id")
        if provider_id is not None and owners.setdefault(provider_id, report.outbox_id) != report.outbox_id:
            results[id(report)] = AlreadyTaken(PROVIDER_ID_TAKEN)
            continue
        if changes:
            row.update(changes)  # a later report of the same row in this batch sees this one's outcome
            writes.setdefault(tuple(sorted(changes)), []).append(
                {"b_id": report.outbox_id, **{f"v_{name}": value for name, value in changes.items()}})
        results[id(report)] = None
    for columns, params in writes.items():
        _update_of(columns).run(conn, params)
    return results


def _update_of(columns: tuple[str, ...]) -> Bulk:
    statement = _SET_COLUMNS.get(columns)
    if statement is None:  # whatever it was, the sender's lease on it ends (storage/sql/claims.py)
        values = {name: bindparam(f"v_{name}", type_=_o.c[name].type) for name in columns}
        statement = _SET_COLUMNS[columns] = Bulk(update(_o).where(_o.c.id == bindparam("b_id")).values(
            **values, **LEASE_ENDED))
    return statement


class OutboxMethods(StoreBase):
    """The `Outbox` port, but for the undelivered rows (storage/sql/undelivered.py)."""

    _leases: LocalLeases | None  # a SQLite file's outbox leases, in memory (one process per file); None on a server

    async def pending_outbox(self, channel: str, limit: int = 100, *, now: datetime | None = None,
                             only_urgent_for: Collection[int] = (), urgent_only: bool = False) -> list[OutboxRow]:
        """Rows to send on `channel`, most urgent first, then oldest first: not sent, not given up, not deferred
        past `now` (without `now`, not deferred at all), and not behind such a deferred row of the same participant
        on the same channel, so a conversation's messages keep their order (see the module docstring); only URGENT
        rows of the participants in `only_urgent_for` (of everyone: `urgent_only`)."""
        at = None if now is None else require_utc(now)
        return await self.lookup(pending_outbox, channel, max(limit, 0), at, frozenset(only_urgent_for), urgent_only)

    async def mark_sent(self, outbox_id: int, at: datetime) -> None:
        await self._writer.submit(Kind.SENT, (outbox_id, require_utc(at)))

    async def claimable_outbox(self, channel: str, claimer: str, limit: int, now: datetime,
                               only_urgent_for: Collection[int] = (), urgent_only: bool = False) -> list[OutboxRow]:
        """See `Outbox.claimable_outbox` and storage/sql/outbox_claims.py."""
        at = require_utc(now)
        if self._leases is not None:
            rows = await self.pending_outbox(channel, limit, now=at, only_urgent_for=only_urgent_for,
                                             urgent_only=urgent_only)
            return self._leases.visible(rows, claimer, at)
        async with self._connect() as conn:
            return await conn.run_sync(claimable_outbox, channel, claimer, limit, at, frozenset(only_urgent_for),
                                       urgent_only)

    async def claim_outbox(self, channel: str, claimer: str, outbox_ids: Sequence[int], now: datetime,
                           lease_until: datetime) -> list[int]:
        """See `Outbox.claim_outbox` and storage/sql/outbox_claims.py."""
        if self._leases is not None:
            found = await self._reader.submit(Kind.READ_OUTBOX_CLAIM, (channel, list(outbox_ids)))
            return self._leases.claim(found, claimer, outbox_ids, require_utc(now), require_utc(lease_until))
        op = ClaimOutbox(channel, claimer, tuple(outbox_ids), require_utc(now), require_utc(lease_until))
        return cast(list[int], await self._writer.submit(Kind.CONTACT, op))

    async def mark_delivery(
        self, outbox_id: int, provider_id: str | None, status: str, at: datetime, detail: str = ""
    ) -> None:
        """Record a provider's report; see `delivery_changes` for what each status changes.

        `provider_id` must identify one message at the provider (Twilio's MessageSid does; a Telegram
        message_id is unique only within its chat): AlreadyTaken if another row has it. UnknownOutboxError for
        an unknown id."""
        op = MarkDelivery(outbox_id, provider_id, check_status(status), require_utc(at), detail)
        await self._writer.submit(Kind.SENT if status == SENT else Kind.CONTACT, op)  # "sent": batched, write_sent

    async def outbox_by_provider_id(self, provider_id: str) -> OutboxRow | None:
        return cast(OutboxRow | None, await self._reader.submit(Kind.READ_BY_PROVIDER_ID, provider_id))

    async def defer_outbox(self, outbox_id: int, not_before: datetime, at: datetime, detail: str = "") -> None:
        """Count the attempt and keep the row unsent until `not_before` (pass `now` to `pending_outbox`); a row
        reported undelivered or failed goes back to the queue. See `defer_changes`."""
        op = DeferOutbox(outbox_id, require_utc(not_before), require_utc(at), detail)
        await self._writer.submit(Kind.CONTACT, op)

    async def give_up_outbox(self, outbox_id: int, at: datetime, detail: str) -> None:
        """Never send the row; audited ("outbox.given_up", without `detail`). A second call changes nothing."""
        op = GiveUpOutbox(outbox_id, require_utc(at), detail)
        await self._writer.submit(Kind.CONTACT, op)
