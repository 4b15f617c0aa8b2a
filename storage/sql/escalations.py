"""Escalations (the suicide-risk safety path): the SQL.

The rules (`new_escalation_row`, `merge_signal`, the audit rows) are in storage/sql/escalation_rows.py. The SQL is
portable Core in functions of a sync `Connection`, run inside the writer's transaction (writes) or one read
transaction (reads).

Writes never copy a trigger's text into the audit log: it lives only in ``escalation_triggers``, sealed (a
token under the data key, like names and numbers), and reads open it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, update

from storage.errors import UnknownEscalationError, UnknownNotificationError
from storage.records import Escalation, EscalationStatus, EscalationTrigger, Notification, NotificationStatus
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.claims import lock_escalation_owners
from storage.sql.codecs import Open, Row, UTCDateTime, require_actor, require_tier, require_utc, utc_text
from storage.sql.escalation_rows import (
    ACKNOWLEDGED,
    CLOSED,
    NOTIFICATION_QUEUED,
    RE_ESCALATED,
    audit,
    merge_signal,
    new_escalation_row,
    notification_audit,
    signal_audit,
    trigger_row,
)
from storage.sql.rows import escalation_from_row, notification_from_row, outcome_note, trigger_from_row

_OPEN = EscalationStatus.OPEN.value
_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED.value
_CLOSED = EscalationStatus.CLOSED.value
_e, _et, _n, _p, _al = s.escalations, s.escalation_triggers, s.notifications, s.participants, s.audit_log
_NOT_CLOSED = _e.c.status != s.NOT_CLOSED  # the partial unique index's own condition, so SQLite uses it
_REFS = select(_p.c.id, _p.c.ref).where(_p.c.id.in_(bindparam("pids", expanding=True)))
_REF = select(_p.c.ref).where(_p.c.id == bindparam("pid"))
_ACTIVE = select(_e).where(_e.c.participant_id.in_(bindparam("pids", expanding=True)), _NOT_CLOSED)
_INSERT_ESCALATION = insert(_e).returning(_e.c.id)
_INSERT_NOTIFICATION = insert(_n).returning(_n.c.id)
_ESCALATION_OWNER = select(_e.c.participant_id).where(_e.c.id == bindparam("eid"))


def _ref(conn: Connection, participant_id: int) -> str:
    return str(conn.execute(_REF, {"pid": participant_id}).scalar_one())


def write_signals(conn: Connection, steps: Sequence[tuple[int, tuple[Row, ...]]]) -> list[tuple[int, ...]]:
    """Store the signals of committed steps, given as (participant id, signals) in commit order.

    Returns the escalation id of each signal, per step. Runs after the steps' other rows in the same
    transaction, so a refused step never gets here and a failed batch writes none of it.
    """
    pids = list({pid for pid, _ in steps})
    refs: dict[int, str] = {pid: ref for pid, ref in conn.execute(_REFS, {"pids": pids})}
    active: dict[int, Row] = {
        row["participant_id"]: dict(row) for row in conn.execute(_ACTIVE, {"pids": pids}).mappings()
    }
    changed: dict[int, Row] = {}
    triggers: list[Row] = []
    audits: list[Row] = []
    results: list[tuple[int, ...]] = []
    for pid, signals in steps:
        ids: list[int] = []
        for signal in signals:
            current = active.get(pid)
            changes: Row = {}
            if current is None:
                row = new_escalation_row(pid, signal)
                escalation_id = int(conn.execute(_INSERT_ESCALATION, row).scalar_one())
                active[pid] = {"id": escalation_id, **row}
                before = None
            else:
                escalation_id = current["id"]
                before = dict(current)
                changes = merge_signal(current, signal)
                if changes:
                    current.update(changes)
                    changed.setdefault(escalation_id, {}).update(changes)
            triggers.append(trigger_row(escalation_id, signal))
            audits.append(signal_audit(refs[pid], escalation_id, signal, before, changes))
            ids.append(escalation_id)
        results.append(tuple(ids))
    for escalation_id, final in changed.items():
        conn.execute(update(_e).where(_e.c.id == escalation_id).values(**final))
    conn.execute(insert(_et), triggers)
    conn.execute(insert(_al), audits)
    return results


class EscalationOp(ABC):
    """A write other than a step, queued on the writer and run in queue order inside its transaction.

    `run` decides with one conditional UPDATE, so of two coaches acting at once exactly one succeeds, here
    and on a database with weaker locking. It returns an exception instead of raising it when only its own
    caller is at fault, so the rest of the batch still commits.
    """

    @abstractmethod
    def run(self, conn: Connection) -> Any: ...


@dataclass(frozen=True)
class RaiseTier(EscalationOp):
    escalation_id: int
    tier: int
    deadline_at: datetime
    at: datetime

    def run(self, conn: Connection) -> bool:
        query = (
            update(_e)
            # only while its deadline has passed: a second watcher (another process) finds it already raised
            .where(_e.c.id == self.escalation_id, _e.c.status == _OPEN, _e.c.deadline_at <= self.at)
            .values(**self.changes())
            .returning(_e.c.participant_id, _e.c.level)
        )
        row = conn.execute(query).first()
        if row is None:
            return False
        conn.execute(insert(_al), self.audit(_ref(conn, row.participant_id), row.level))
        return True

    def changes(self) -> Row:
        return {"tier": self.tier, "deadline_at": self.deadline_at}

    def audit(self, ref: str, level: str) -> Row:
        detail = {
            "escalation_id": self.escalation_id,
            "level": level,
            "tier": self.tier,
            "deadline_at": utc_text(self.deadline_at),
        }
        return audit("system", RE_ESCALATED, ref, self.at, detail)


@dataclass(frozen=True)
class Acknowledge(EscalationOp):
    escalation_id: int
    coach_id: str
    at: datetime

    def run(self, conn: Connection) -> bool:
        query = (
            update(_e)
            .where(_e.c.id == self.escalation_id, _e.c.status == _OPEN)
            .values(**self.changes())
            .returning(_e.c.participant_id, _e.c.level)
        )
        row = conn.execute(query).first()
        if row is None:
            return False
        conn.execute(insert(_al), self.audit(_ref(conn, row.participant_id), row.level))
        return True

    def changes(self) -> Row:
        return {
            "status": _ACKNOWLEDGED,
            "deadline_at": None,
            "acknowledged_by": self.coach_id,
            "acknowledged_at": self.at,
        }

    def audit(self, ref: str, level: str) -> Row:
        detail = {"escalation_id": self.escalation_id, "level": level}
        return audit(f"coach:{self.coach_id}", ACKNOWLEDGED, ref, self.at, detail)


@dataclass(frozen=True)
class Close(EscalationOp):
    escalation_id: int
    coach_id: str
    note: str
    at: datetime

    def run(self, conn: Connection) -> bool:
        status_before = conn.execute(select(_e.c.status).where(_e.c.id == self.escalation_id)).scalar()
        if status_before is None or status_before == _CLOSED:
            return False
        at = bindparam("b_at", self.at, type_=UTCDateTime)
        query = (
            update(_e)
            .where(_e.c.id == self.escalation_id, _NOT_CLOSED)  # the arbiter if two coaches close at once
            .values(
                acknowledged_by=func.coalesce(_e.c.acknowledged_by, self.coach_id),
                acknowledged_at=func.coalesce(_e.c.acknowledged_at, at),
                **self.changes(),
            )
            .returning(_e.c.participant_id, _e.c.level)
        )
        row = conn.execute(query).first()
        if row is None:
            return False
        conn.execute(insert(_al), self.audit(_ref(conn, row.participant_id), row.level, status_before))
        return True

    def changes(self) -> Row:
        """The columns set, besides acknowledged_by/_at when nobody acknowledged it before: then the closer."""
        return {
            "status": _CLOSED,
            "deadline_at": None,
            "closed_by": self.coach_id,
            "closed_at": self.at,
            "outcome_note": self.note,
        }

    def audit(self, ref: str, level: str, previous_status: str) -> Row:
        """Ids and statuses only: the outcome note is in the escalation's row, not in the audit log."""
        detail = {"escalation_id": self.escalation_id, "level": level, "previous_status": previous_status}
        return audit(f"coach:{self.coach_id}", CLOSED, ref, self.at, detail)


@dataclass(frozen=True)
class AddNotification(EscalationOp):
    escalation_id: int
    coach_id: str
    channel: str
    tier: int
    at: datetime

    def run(self, conn: Connection) -> Notification | Exception:
        owner = conn.execute(_ESCALATION_OWNER, {"eid": self.escalation_id}).scalar()
        if owner is None:
            return UnknownEscalationError(f"escalation {self.escalation_id} does not exist")
        row = self.row()
        row["id"] = int(conn.execute(_INSERT_NOTIFICATION, row).scalar_one())
        conn.execute(insert(_al), self.audit(row, _ref(conn, owner)))
        return notification_from_row(row)

    def audit(self, row: Mapping[Any, Any], ref: str) -> Row:
        return notification_audit(row, ref, NOTIFICATION_QUEUED, self.at)

    def row(self) -> Row:
        return {
            "escalation_id": self.escalation_id,
            "coach_id": self.coach_id,
            "channel": self.channel,
            "tier": self.tier,
            "status": NotificationStatus.PENDING.value,
            "attempts": 0,
            "detail": "",
            "created_at": self.at,
            "updated_at": None,
        }


@dataclass(frozen=True)
class UpdateNotification(EscalationOp):
    notification_id: int
    status: NotificationStatus
    at: datetime
    detail: str

    def run(self, conn: Connection) -> Exception | None:
        query = (
            update(_n)
            .where(_n.c.id == self.notification_id)
            .values(attempts=_n.c.attempts + 1, **self.changes())
            .returning(*_n.c)
        )
        row = conn.execute(query).mappings().first()
        if row is None:
            return UnknownNotificationError(f"notification {self.notification_id} does not exist")
        owner = conn.execute(_ESCALATION_OWNER, {"eid": row["escalation_id"]}).scalar_one()
        conn.execute(insert(_al), self.audit(row, _ref(conn, owner)))
        return None

    def changes(self) -> Row:
        """The columns set besides ``attempts + 1``."""
        return {"status": self.status.value, "updated_at": self.at, "detail": self.detail}

    def audit(self, row: Mapping[Any, Any], ref: str) -> Row:
        return notification_audit(row, ref, f"notification.{self.status.value}", self.at)


def read_escalations(conn: Connection, open_text: Open, *where: ColumnElement[bool],
                     order_by: Sequence[Any]) -> list[Escalation]:
    """Escalations matching `where`, in `order_by` order, each with its triggers (opened) oldest first."""
    query = select(_e, _p.c.ref).join_from(_e, _p, _e.c.participant_id == _p.c.id).where(*where).order_by(*order_by)
    rows = conn.execute(query).mappings().all()
    if not rows:
        return []
    # The same condition again rather than a list of ids, which could outgrow a statement's parameter limit.
    trigger_query = (
        select(_et).join_from(_et, _e, _et.c.escalation_id == _e.c.id).where(*where).order_by(_et.c.at, _et.c.id)
    )
    triggers: dict[int, list[EscalationTrigger]] = {}
    for trigger in conn.execute(trigger_query).mappings():
        triggers.setdefault(trigger["escalation_id"], []).append(trigger_from_row(trigger, open_text))
    return [escalation_from_row(row, row["ref"], tuple(triggers.get(row["id"], ()))) for row in rows]


def all_escalations(conn: Connection, only_open: bool, open_text: Open) -> list[Escalation]:
    where = [_NOT_CLOSED] if only_open else []
    return read_escalations(conn, open_text, *where, order_by=[_e.c.opened_at.desc(), _e.c.id.desc()])


def one_escalation(conn: Connection, escalation_id: int, open_text: Open) -> Escalation | None:
    found = read_escalations(conn, open_text, _e.c.id == escalation_id, order_by=[_e.c.id])
    return found[0] if found else None


def due_escalations(conn: Connection, now: datetime, open_text: Open) -> list[Escalation]:
    return read_escalations(conn, open_text, _e.c.status == _OPEN, _e.c.deadline_at <= now,
                            order_by=[_e.c.deadline_at, _e.c.id])


def notifications(conn: Connection, escalation_id: int | None, status: NotificationStatus | None) -> list[Notification]:
    query = select(_n).order_by(_n.c.created_at, _n.c.id)
    if escalation_id is not None:
        query = query.where(_n.c.escalation_id == escalation_id)
    if status is not None:
        query = query.where(_n.c.status == NotificationStatus(status).value)
    return [notification_from_row(row) for row in conn.execute(query).mappings()]


def write_escalation_ops(conn: Connection, payloads: list[Any]) -> list[Any]:
    lock_escalation_owners(conn, [op.escalation_id for op in payloads if hasattr(op, "escalation_id")])
    return [cast(EscalationOp, op).run(conn) for op in payloads]


class EscalationMethods(StoreBase):
    """The `Escalations` port: writes go through the writer (durable, serialized with steps)."""

    async def escalations(self, only_open: bool = False) -> list[Escalation]:
        """All escalations, newest first; `only_open`: those not closed."""
        async with self._connect() as conn:
            return await conn.run_sync(all_escalations, only_open, self._keys.open)

    async def escalation(self, escalation_id: int) -> Escalation | None:
        async with self._connect() as conn:
            return await conn.run_sync(one_escalation, escalation_id, self._keys.open)

    async def due_escalations(self, now: datetime) -> list[Escalation]:
        """Open (unacknowledged) escalations whose deadline is at or before `now`, oldest deadline first."""
        now = require_utc(now)
        async with self._connect() as conn:
            return await conn.run_sync(due_escalations, now, self._keys.open)

    async def raise_tier(self, escalation_id: int, tier: int, deadline_at: datetime, at: datetime) -> bool:
        op = RaiseTier(escalation_id, require_tier(tier), require_utc(deadline_at), require_utc(at))
        return cast(bool, await self._writer.submit(Kind.ESCALATION, op))

    async def acknowledge_escalation(self, escalation_id: int, coach_id: str, at: datetime) -> bool:
        op = Acknowledge(escalation_id, require_actor(coach_id), require_utc(at))
        return cast(bool, await self._writer.submit(Kind.ESCALATION, op))

    async def close_escalation(self, escalation_id: int, coach_id: str, note: str, at: datetime) -> bool:
        op = Close(escalation_id, require_actor(coach_id), outcome_note(note), require_utc(at))
        return cast(bool, await self._writer.submit(Kind.ESCALATION, op))

    async def add_notification(
        self, escalation_id: int, coach_id: str, channel: str, tier: int, at: datetime
    ) -> Notification:
        op = AddNotification(
            escalation_id, require_actor(coach_id), channel, require_tier(tier), require_utc(at)
        )
        return cast(Notification, await self._writer.submit(Kind.ESCALATION, op))

    async def update_notification(
        self, notification_id: int, status: NotificationStatus, at: datetime, detail: str = ""
    ) -> None:
        op = UpdateNotification(notification_id, NotificationStatus(status), require_utc(at), detail)
        await self._writer.submit(Kind.ESCALATION, op)

    async def notifications(
        self, escalation_id: int | None = None, status: NotificationStatus | None = None
    ) -> list[Notification]:
        async with self._connect() as conn:
            return await conn.run_sync(notifications, escalation_id, status)
