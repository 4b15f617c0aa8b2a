"""The outbox's claims with leases (storage/sql/claims.py says how claims work): what a dispatcher may claim, the
claim itself on a server's database (`ClaimOutbox`, the lease written to the rows), and on a SQLite file the same
leases kept in memory (`LocalLeases`: one process per file).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, or_, select, update

from storage.records import OutboxRow
from storage.sql import schema as s
from storage.sql.claims import lock_participants
from storage.sql.codecs import UTCDateTime
from storage.sql.directory import ContactOp
from storage.sql.outbox_rows import OUTBOX_COLUMNS, held_back, is_due, only_urgent_of, outbox_from_row

_o = s.outbox
_earlier = _o.alias("claims_earlier")


def _others_lease(table: Any, claimer: str, at: ColumnElement[Any]) -> ColumnElement[bool]:
    """The row is under a live lease of another claimer."""
    return and_(table.c.claimed_until.is_not(None), table.c.claimed_until > at, table.c.claimed_by != claimer)


def claimable_outbox(conn: Connection, channel: str, claimer: str, limit: int, now: datetime,
                     only_urgent_for: Collection[int] = (), urgent_only: bool = False) -> list[OutboxRow]:
    """`pending_outbox` (storage/sql/outbox.py) for one claimer: also leaving out rows under another claimer's live
    lease and the rows of a person that come after one (they could not be claimed). A read: `ClaimOutbox` decides."""
    o, e = _o, _earlier
    at = bindparam("now", now, type_=UTCDateTime)
    query = (
        select(*OUTBOX_COLUMNS)
        .where(
            and_(o.c.channel == channel, o.c.sent_at.is_(None), o.c.given_up_at.is_(None)),
            or_(o.c.not_before.is_(None), o.c.not_before <= at),
            ~_others_lease(o, claimer, at),
            ~held_back(o, e, or_(e.c.not_before > at, _others_lease(e, claimer, at))),
        )
        .order_by(o.c.priority, o.c.id)
        .limit(max(limit, 0))
    )
    return [outbox_from_row(row)
            for row in conn.execute(only_urgent_of(query, o, only_urgent_for, urgent_only)).mappings()]


def claimable_in_order(rows: Sequence[Mapping[Any, Any]], wanted: Collection[int], claimer: str,
                       now: datetime) -> list[int]:
    """Of one person's rows to send on a channel, in sending order, the wanted ones that may be claimed: each only
    while every row before it is claimed by `claimer` (already, or in this claim). A row that is deferred, under
    another's lease, or not wanted stops the rest."""
    claimed: list[int] = []
    for row in rows:
        mine = row["claimed_by"] == claimer and row["claimed_until"] is not None and row["claimed_until"] > now
        free = mine or row["claimed_until"] is None or row["claimed_until"] <= now
        if row["id"] in wanted and free and is_due(row, now):
            claimed.append(row["id"])
        elif not mine:
            break
    return claimed


_WANTED = select(_o.c.participant_id, _o.c.priority, _o.c.id).where(
    _o.c.id.in_(bindparam("ids", expanding=True)), _o.c.channel == bindparam("channel")
)
_TO_SEND = and_(_o.c.sent_at.is_(None), _o.c.given_up_at.is_(None))
_LEASE_FREE = or_(
    _o.c.claimed_until.is_(None), _o.c.claimed_until <= bindparam("now", type_=UTCDateTime),
    _o.c.claimed_by == bindparam("claimer"),
)
_TAKE = (
    update(_o)
    .where(_o.c.id.in_(bindparam("ids", expanding=True)), _TO_SEND, _LEASE_FREE)  # rechecked on the newest version
    .values(claimed_by=bindparam("claimer"), claimed_until=bindparam("lease", type_=UTCDateTime))
    .returning(_o.c.id)
)


def _wanted_rows(conn: Connection, channel: str, ids: Sequence[int]) -> list[Any]:
    return list(conn.execute(_WANTED, {"ids": list(ids), "channel": channel}).all())


def _rows_by_person(conn: Connection, channel: str, people: Collection[int], wanted: Sequence[Any]) -> dict[
        int, list[Mapping[Any, Any]]]:
    """The people's rows to send on `channel` up to the last one wanted, in sending order, by person."""
    last_priority, last_id = max((row.priority, row.id) for row in wanted)
    query = (
        select(_o.c.id, _o.c.participant_id, _o.c.sent_at, _o.c.given_up_at, _o.c.not_before, _o.c.attempts,
               _o.c.claimed_by, _o.c.claimed_until)
        .where(_o.c.channel == channel, _TO_SEND, _o.c.participant_id.in_(sorted(people)),
               or_(_o.c.priority < last_priority, and_(_o.c.priority == last_priority, _o.c.id <= last_id)))
        .order_by(_o.c.participant_id, _o.c.priority, _o.c.id)
    )
    by_person: dict[int, list[Mapping[Any, Any]]] = {}
    for row in conn.execute(query).mappings():
        by_person.setdefault(row["participant_id"], []).append(row)
    return by_person


@dataclass(frozen=True)
class ClaimOutbox(ContactOp):
    """Claim the wanted rows of `channel` for `claimer` until `lease_until`, those the person's order allows
    (`claimable_in_order`); returns the ids claimed, in the order wanted. The leases are written to the rows (a
    server's database, several processes; see `LocalLeases` for a SQLite file)."""

    channel: str
    claimer: str
    ids: tuple[int, ...]
    now: datetime
    lease_until: datetime

    def run(self, conn: Connection) -> list[int]:
        if not self.ids:
            return []
        wanted = _wanted_rows(conn, self.channel, self.ids)
        people = lock_participants(conn, {row.participant_id for row in wanted}, skip_locked=True)
        if not people:
            return []
        by_person = _rows_by_person(conn, self.channel, people, wanted)  # a new snapshot: after the locks
        ids = set(self.ids)
        take = [i for rows in by_person.values() for i in claimable_in_order(rows, ids, self.claimer, self.now)]
        if not take:
            return []
        params = {"ids": take, "claimer": self.claimer, "now": self.now, "lease": self.lease_until}
        taken = set(conn.scalars(_TAKE, params))
        return [i for i in self.ids if i in taken]


@dataclass(frozen=True)
class _Lease:
    claimer: str
    until: datetime
    attempts: int  # the row's attempts when claimed: any outcome recorded since (sent, deferred, given up) counts one


class LocalLeases:
    """A SQLite file's outbox leases, kept in memory: there is one `bot run` per file (bot/singleton.py), so nobody
    else needs to see them, and a claim then costs a read on the inline reader, not a write and its commit
    (`benchmarks/telegram.py`, Telegram's limits on, CPU per update: one round each, 16.1 ms before claims and 19.4
    with a write per look; three rounds before and two after, 12.1 -> 14.0 ms with these). The rules are those of
    the leases on a server's rows: the same `claimable_in_order`; a lease ends when it runs out, or when the row's
    outcome is recorded (every outcome counts an attempt, so a lease taken at another count of attempts is over); a
    restart forgets them all, as the death of the process frees a server's leases."""

    def __init__(self) -> None:
        self._leases: dict[int, _Lease] = {}
        self._pruned_at = 0  # how many were left at the last pruning

    def _as_claimed(self, row: Mapping[Any, Any], now: datetime) -> dict[Any, Any]:
        lease = self._leases.get(row["id"])
        if lease is None or lease.until <= now or lease.attempts != row["attempts"]:
            return {**row, "claimed_by": None, "claimed_until": None}
        return {**row, "claimed_by": lease.claimer, "claimed_until": lease.until}

    def visible(self, rows: Sequence[OutboxRow], claimer: str, now: datetime) -> list[OutboxRow]:
        """`pending_outbox`'s rows (sending order) as `claimer` sees them (`claimable_outbox`)."""
        blocked: set[int] = set()
        seen: list[OutboxRow] = []
        for row in rows:
            lease = self._leases.get(row.id)
            others = (lease is not None and lease.claimer != claimer and lease.until > now
                      and lease.attempts == row.attempts)
            if others:
                blocked.add(row.participant_id)
            if row.participant_id not in blocked:
                seen.append(row)
        return seen

    def claim(self, found: dict[int, list[Mapping[Any, Any]]], claimer: str, ids: Sequence[int], now: datetime,
              lease_until: datetime) -> list[int]:
        """As `ClaimOutbox`, on the rows `rows_to_claim` found, keeping the leases here."""
        wanted = set(ids)
        taken: list[int] = []
        for rows in found.values():
            for outbox_id in claimable_in_order([self._as_claimed(row, now) for row in rows], wanted, claimer, now):
                self._leases[outbox_id] = _Lease(claimer, lease_until, next(r["attempts"] for r in rows
                                                                            if r["id"] == outbox_id))
                taken.append(outbox_id)
        if len(self._leases) > 2 * self._pruned_at + 1000:  # now and then: forget those run out (most were sent)
            self._leases = {i: lease for i, lease in self._leases.items() if lease.until > now}
            self._pruned_at = len(self._leases)
        claimed = set(taken)
        return [i for i in ids if i in claimed]


def rows_to_claim(conn: Connection, payloads: list[Any]) -> list[Any]:
    """Batched reads for `LocalLeases.claim`: (channel, wanted ids) -> the people's rows to send, by person."""
    found: list[Any] = []
    for channel, ids in payloads:
        wanted = _wanted_rows(conn, channel, ids) if ids else []
        found.append(_rows_by_person(conn, channel, {row.participant_id for row in wanted}, wanted) if wanted else {})
    return found
