"""Claims with leases: how several bot processes share the schedule and the outbox, nothing done twice, nothing lost.

A claimer writes a lease (``claimed_until``; on the outbox also ``claimed_by``) on the rows it is about to handle,
in a transaction of its own, before it handles them. A row under someone else's live lease is left alone; a lease
that runs out (its process died) makes the row claimable again; finishing a row ends its lease (the schedule's
outcome, an outbox row's `mark_sent`/`mark_delivery`/`defer_outbox`/`give_up_outbox`: `LEASE_ENDED`).

**A person's order.** A row of person P may be claimed only if every earlier row of P (due schedule rows by due
time; outbox rows to send on the same channel in sending order) is finished or claimed by the same claimer. On
PostgreSQL two claims run at once, so checking rows one by one is not enough: ``FOR UPDATE SKIP LOCKED`` on rows
would let process B take P's second row while A, still inside its claim, holds the first. So a claim first locks
the *participants* it wants (``FOR NO KEY UPDATE SKIP LOCKED``: another claim busy with a person is passed over,
never waited for; inserts that reference the person are not blocked), and only then, in a new statement (in READ
COMMITTED a new snapshot, which sees every claim of those people committed before we got their locks), reads and
claims their rows. The ``UPDATE`` repeats the row conditions, so a row finished meanwhile by a step (which does not
take the claim's lock) is rechecked on its newest version and skipped.

SQLite is one `bot run` per file (bot/singleton.py): there the schedule's claim stays one ``UPDATE`` under the
writer's ``BEGIN IMMEDIATE`` (storage/sql/schedule.py; the one tick handles a batch before it claims the next,
which keeps a person's order), the participant locks are skipped (`lock_participants` does nothing), and the
outbox's leases are kept in memory (`LocalLeases`, storage/sql/outbox_claims.py): a look of the dispatcher then
costs no write and no commit.

The same locks serialise the escalation path on PostgreSQL (`lock_participants`: a step's batch, and acknowledge,
close and raise tier), where SQLite relied on ``BEGIN IMMEDIATE`` holding the write lock from the first read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, any_, bindparam, func, null, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY

from storage.records import ScheduleRow
from storage.sql import schema as s
from storage.sql.codecs import UTCDateTime
from storage.sql.schedule_rows import SCHEDULE_ROW_COLUMNS, schedule_from_row

# on an outbox row, whenever it is finished (NULL in the SQL itself: a statement of bound rows, storage/sql/bulk.py)
LEASE_ENDED: dict[str, Any] = {"claimed_by": null(), "claimed_until": null()}

_p, _sch, _e = s.participants, s.schedule, s.escalations
_busy = _sch.alias("claims_busy")


def locking(conn: Connection) -> bool:
    """Whether claims must lock participants: PostgreSQL, where several processes write at once."""
    return conn.dialect.name == "postgresql"


_ANY_PID = any_(bindparam("pids", type_=ARRAY(Integer)))  # one array parameter: one statement text, planned once
# FOR NO KEY UPDATE (key_share): foreign keys to the people still insert. One array, not an IN list: a batch's or a
# claim's people, however many, are one statement text, which psycopg prepares once (a claim's 125 took 2.3 ms).
_LOCK_PEOPLE = select(_p.c.id).where(_p.c.id == _ANY_PID).order_by(_p.c.id).with_for_update(key_share=True)
_LOCK_FREE_PEOPLE = _LOCK_PEOPLE.with_for_update(key_share=True, skip_locked=True)


def lock_participants(conn: Connection, participant_ids: Iterable[int], *, skip_locked: bool = False) -> list[int]:
    """Lock the participants' rows until the transaction ends (PostgreSQL; on SQLite nothing to do: returns them
    all) in id order, so two transactions locking several never deadlock on each other. With `skip_locked`, those
    another transaction holds are left out (a claim passes over them); returns the ids locked."""
    wanted = sorted(set(participant_ids))
    if not wanted or not locking(conn):
        return wanted
    return list(conn.scalars(_LOCK_FREE_PEOPLE if skip_locked else _LOCK_PEOPLE, {"pids": wanted}))


def lock_escalation_owners(conn: Connection, escalation_ids: Iterable[int]) -> None:
    """Lock the participants whose escalations these are (acknowledge, close, raise tier): on PostgreSQL their
    checks then see what a step of the same person committed, and no step of theirs runs in between."""
    wanted = sorted(set(escalation_ids))
    if wanted and locking(conn):
        lock_participants(conn, conn.scalars(select(_e.c.participant_id).where(_e.c.id.in_(wanted))))


# --- the schedule ---

_SCHEDULE_ROW = tuple(_sch.c[name] for name in SCHEDULE_ROW_COLUMNS)
_NOW = bindparam("now", type_=UTCDateTime)
_FREE = or_(_sch.c.claimed_until.is_(None), _sch.c.claimed_until <= _NOW)
_CLAIMABLE = and_(_sch.c.status == s.SCHEDULE_PENDING, _sch.c.due_at <= _NOW, _FREE)
_HELD = and_(_busy.c.status == s.SCHEDULE_PENDING, _busy.c.claimed_until > _NOW)  # someone is handling that row
# The due rows to try, earliest first, after a point in that order (the index scan in due order stops after `limit`
# rows). Those of people with a row someone is handling are left out afterwards (`_HELD_AMONG`, on the small partial
# index of claimed rows), and the next rows read while room is left: their other due rows must not fill the limit (a
# claim would then find no one while other people's rows are due). Not one query with NOT EXISTS: its plan depends on
# how many rows PostgreSQL believes are claimed, and when it believed one it compared every due row with every claimed
# one (0.3 s per claim at a million rows).
_DUE_FROM = (
    select(_sch.c.participant_id, _sch.c.due_at, _sch.c.id)
    .where(_CLAIMABLE, tuple_(_sch.c.due_at, _sch.c.id) > tuple_(bindparam("after_due", type_=UTCDateTime),
                                                              bindparam("after_id")))
    .order_by(_sch.c.due_at, _sch.c.id)
    .limit(bindparam("limit"))
)
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_HELD_PEOPLE = select(_busy.c.participant_id).where(_busy.c.participant_id == _ANY_PID, _HELD)
_HELD_AMONG = _HELD_PEOPLE.distinct()
_DUE_COUNTS = (  # how many rows a claim of each of these people would take
    select(_sch.c.participant_id, func.count()).where(_sch.c.participant_id == _ANY_PID, _CLAIMABLE)
    .group_by(_sch.c.participant_id)
)
_CLAIM_PEOPLES_ROWS = (
    update(_sch)
    .where(
        _sch.c.id.in_(
            select(_sch.c.id)
            .where(_sch.c.participant_id == _ANY_PID, _sch.c.participant_id.not_in(_HELD_PEOPLE), _CLAIMABLE)
            .order_by(_sch.c.due_at, _sch.c.id)
            .limit(bindparam("limit"))
        ),
        _CLAIMABLE,  # again on the row's newest version, should a step have finished it meanwhile
    )
    .values(claimed_until=bindparam("lease", type_=UTCDateTime))
    .returning(*_SCHEDULE_ROW)
)
_FIRST_CHUNK = 64  # people whose due rows are counted first; then as many as the room left holds at their average
_LOCK_ATTEMPTS = 3  # looks for people to claim when every one found was locked by another transaction


def claim_schedule(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[ScheduleRow]:
    """PostgreSQL's claim (SQLite's is one UPDATE in storage/sql/schedule.py): whole people, in the order of their
    earliest due row nobody holds, none of whose rows someone else is handling, with every due row of theirs nobody
    holds, up to `limit` rows (the first person's earliest `limit` if they alone have more); the people locked first
    (module docstring). If another transaction has every person found locked (a step of theirs, another claim), the
    people after them are looked for, a few times, rather than returning nothing while others' rows are due.

    Whole people, not simply the earliest `limit` rows: a person with some rows claimed is held, and every other claim
    must pass over their remaining due rows until the holder is done. With a backlog (everyone's rows due, or a
    process that died holding a batch) each claim read more of those rows than the last: the 20th claim of 1,000
    out of a million due rows took 1.2 s, where a claim of whole people takes the same 40 ms each time
    (benchmarks/schedule.py --postgres). When fewer rows are due than `limit`, both take every one."""
    if limit <= 0:
        return []
    passed: set[int] = set()
    for _ in range(_LOCK_ATTEMPTS):
        candidates = _candidate_people(conn, now, limit, passed)
        people = lock_participants(conn, candidates, skip_locked=True)
        if people or not candidates:
            break
        passed.update(candidates)
    if not people:
        return []
    params = {"now": now, "limit": limit, "lease": lease_until, "pids": people}
    rows = [schedule_from_row(row) for row in conn.execute(_CLAIM_PEOPLES_ROWS, params).mappings()]
    return sorted(rows, key=lambda row: (row.due_at, row.id))


def _candidate_people(conn: Connection, now: datetime, limit: int, passed: set[int]) -> list[int]:
    """People with due rows nobody holds, none of whose rows someone is handling, and not `passed`, earliest due
    first, as many as `limit` rows hold when each brings all of theirs (at least one person)."""
    people: list[int] = []
    seen = set(passed)
    room = limit
    after: tuple[datetime, int] = (_EARLIEST, 0)
    while room > 0:
        rows = conn.execute(_DUE_FROM, {"now": now, "limit": limit, "after_due": after[0], "after_id": after[1]}).all()
        if not rows:
            break
        fresh = list(dict.fromkeys(row.participant_id for row in rows if row.participant_id not in seen))
        seen.update(fresh)
        held = set(conn.scalars(_HELD_AMONG, {"now": now, "pids": fresh})) if fresh else set()
        room = _add_whole_people(conn, now, [person for person in fresh if person not in held], people, room)
        after = (rows[-1].due_at, rows[-1].id)
    return people


def _add_whole_people(conn: Connection, now: datetime, candidates: list[int], people: list[int], room: int) -> int:
    """Append candidates (in order) to `people` while all their due rows fit in `room`; returns the room left (0 once
    one did not fit: the people after them come later in due order, and wait for the next claim). Their rows are
    counted a few people first, then as many more as the room would hold at the rows per person seen so far (one
    row each when a wave falls due for everyone, eight each in a backlog): two queries in either case."""
    start, size, counted, rows_seen = 0, _FIRST_CHUNK, 0, 0
    while start < len(candidates) and room > 0:
        chunk = candidates[start:start + size]
        start += len(chunk)
        counts = {person: due for person, due in conn.execute(_DUE_COUNTS, {"now": now, "pids": chunk})}
        counted, rows_seen = counted + len(chunk), rows_seen + sum(counts.values())
        for person in chunk:
            due = counts.get(person, 0)  # 0: handled since the page was read
            if not due:
                continue
            if due > room and people:
                return 0
            people.append(person)
            room -= due
        size = max(_FIRST_CHUNK, -(-room * counted // max(rows_seen, 1)) + 1)
    return max(room, 0)


# --- PostgreSQL chose a transaction as a deadlock's victim ---

RACE_RETRIES = 3  # a batch rolled back by a deadlock is run again this many times (nothing of it was written)
_RACE_STATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def lost_race(exc: BaseException) -> bool:
    """Whether the database rolled the transaction back because it raced another (then it may simply run again)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _RACE_STATES
