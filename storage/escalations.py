"""Escalations (the suicide-risk safety path): the rules both storages follow, and the SQL for SQLite.

The rules (`new_escalation_row`, `merge_signal`, the audit rows) are plain functions shared with
`MemoryStorage`, so both implementations decide the same way. The SQL is portable Core in functions of a sync
`Connection`, run by `storage.sqlite` inside its writer's transaction (writes) or one read transaction (reads).

Writes never copy a trigger's text into the audit log: it lives only in ``escalation_triggers``, sealed (a Fernet
token under the data key, like names and numbers), and reads open it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, false, func, insert, select, update

from storage import schema as s
from storage.interface import (
    AuditRecord,
    Escalation,
    EscalationStatus,
    EscalationTrigger,
    Notification,
    NotificationStatus,
)

OPENED = "escalation.opened"
TRIGGER_ADDED = "escalation.trigger_added"
RAISED = "escalation.raised"
RE_ESCALATED = "escalation.re_escalated"
ACKNOWLEDGED = "escalation.acknowledged"
CLOSED = "escalation.closed"
NOTIFICATION_QUEUED = "notification.queued"  # then "notification.<status>" for each update

_OPEN = EscalationStatus.OPEN.value
_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED.value
_CLOSED = EscalationStatus.CLOSED.value


# --- the rules, shared by both storages ---


def new_escalation_row(participant_id: int, signal: s.Row) -> s.Row:
    """A new escalation opened by its first signal: open, tier 0, the signal's deadline."""
    return {
        "participant_id": participant_id,
        "level": signal["level"],
        "status": _OPEN,
        "opened_at": signal["at"],
        "deadline_at": signal["deadline_at"],
        "tier": 0,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "closed_by": None,
        "closed_at": None,
        "outcome_note": None,
    }


def merge_signal(active: Mapping[str, Any], signal: s.Row) -> s.Row:
    """The columns a new signal changes on the participant's escalation that is not closed (empty: none).

    Same or lower level: nothing (the signal is only added as a trigger). Higher level: the level rises; an
    open escalation keeps the earlier of the two deadlines; an acknowledged one is opened again with the new
    signal's deadline (its acknowledged_* columns stay; the audit log has the history).
    """
    if s.level_rank(signal["level"]) <= s.level_rank(active["level"]):
        return {}
    changes: s.Row = {"level": signal["level"]}
    if active["status"] == _OPEN:
        current = active["deadline_at"]
        changes["deadline_at"] = signal["deadline_at"] if current is None else min(current, signal["deadline_at"])
    else:
        changes["status"] = _OPEN
        changes["deadline_at"] = signal["deadline_at"]
    return changes


def trigger_row(escalation_id: int, signal: s.Row) -> s.Row:
    return {
        "escalation_id": escalation_id,
        "level": signal["level"],
        "trigger_kind": signal["trigger_kind"],
        "trigger": signal["trigger"],
        "at": signal["at"],
    }


def signal_audit(
    ref: str, escalation_id: int, signal: s.Row, before: Mapping[str, Any] | None, changes: Mapping[str, Any]
) -> s.Row:
    """The audit row for one signal: ids, levels and kinds only, never the trigger's text."""
    detail: dict[str, Any] = {
        "escalation_id": escalation_id,
        "level": signal["level"],
        "trigger_kind": signal["trigger_kind"],
    }
    if before is None:
        action = OPENED
    elif changes:
        action = RAISED
        detail["previous_level"] = before["level"]
        detail["reopened"] = before["status"] != _OPEN
    else:
        action = TRIGGER_ADDED
        detail["escalation_level"] = before["level"]
    return audit("system", action, ref, signal["at"], detail)


def audit(actor: str, action: str, ref: str, at: datetime, detail: Mapping[str, Any]) -> s.Row:
    return s.audit_row(AuditRecord(actor=actor, action=action, subject=f"participant:{ref}", at=at, detail=detail))


def notification_audit(row: Mapping[Any, Any], ref: str, action: str, at: datetime) -> s.Row:
    """A notification's audit row: who, which channel, which attempt; never the failure text."""
    detail = {
        "notification_id": row["id"],
        "escalation_id": row["escalation_id"],
        "coach_id": row["coach_id"],
        "channel": row["channel"],
        "tier": row["tier"],
        "attempts": row["attempts"],
    }
    return audit("system", action, ref, at, detail)


# --- SQL: statements built once ---

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


# --- SQL: writes, inside the writer's transaction ---


def write_signals(conn: Connection, steps: Sequence[tuple[int, tuple[s.Row, ...]]]) -> list[tuple[int, ...]]:
    """Store the signals of committed steps, given as (participant id, signals) in commit order.

    Returns the escalation id of each signal, per step. Runs after the steps' other rows in the same
    transaction, so a refused step never gets here and a failed batch writes none of it.
    """
    pids = list({pid for pid, _ in steps})
    refs: dict[int, str] = {pid: ref for pid, ref in conn.execute(_REFS, {"pids": pids})}
    active: dict[int, s.Row] = {
        row["participant_id"]: dict(row) for row in conn.execute(_ACTIVE, {"pids": pids}).mappings()
    }
    changed: dict[int, s.Row] = {}
    triggers: list[s.Row] = []
    audits: list[s.Row] = []
    results: list[tuple[int, ...]] = []
    for pid, signals in steps:
        ids: list[int] = []
        for signal in signals:
            current = active.get(pid)
            changes: s.Row = {}
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

    def changes(self) -> s.Row:
        return {"tier": self.tier, "deadline_at": self.deadline_at}

    def audit(self, ref: str, level: str) -> s.Row:
        detail = {
            "escalation_id": self.escalation_id,
            "level": level,
            "tier": self.tier,
            "deadline_at": s.utc_text(self.deadline_at),
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

    def changes(self) -> s.Row:
        return {
            "status": _ACKNOWLEDGED,
            "deadline_at": None,
            "acknowledged_by": self.coach_id,
            "acknowledged_at": self.at,
        }

    def audit(self, ref: str, level: str) -> s.Row:
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
        at = bindparam("b_at", self.at, type_=s.UTCDateTime)
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

    def changes(self) -> s.Row:
        """The columns set, besides acknowledged_by/_at when nobody acknowledged it before: then the closer."""
        return {
            "status": _CLOSED,
            "deadline_at": None,
            "closed_by": self.coach_id,
            "closed_at": self.at,
            "outcome_note": self.note,
        }

    def audit(self, ref: str, level: str, previous_status: str) -> s.Row:
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
            return s.UnknownEscalationError(f"escalation {self.escalation_id} does not exist")
        row = self.row()
        row["id"] = int(conn.execute(_INSERT_NOTIFICATION, row).scalar_one())
        conn.execute(insert(_al), self.audit(row, _ref(conn, owner)))
        return s.notification_from_row(row)

    def audit(self, row: Mapping[Any, Any], ref: str) -> s.Row:
        return notification_audit(row, ref, NOTIFICATION_QUEUED, self.at)

    def row(self) -> s.Row:
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
            return s.UnknownNotificationError(f"notification {self.notification_id} does not exist")
        owner = conn.execute(_ESCALATION_OWNER, {"eid": row["escalation_id"]}).scalar_one()
        conn.execute(insert(_al), self.audit(row, _ref(conn, owner)))
        return None

    def changes(self) -> s.Row:
        """The columns set besides ``attempts + 1``."""
        return {"status": self.status.value, "updated_at": self.at, "detail": self.detail}

    def audit(self, row: Mapping[Any, Any], ref: str) -> s.Row:
        return notification_audit(row, ref, f"notification.{self.status.value}", self.at)


# --- SQL: reads, each inside one read transaction (one snapshot) ---


def read_escalations(conn: Connection, open_text: s.Open, *where: ColumnElement[bool],
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
        triggers.setdefault(trigger["escalation_id"], []).append(s.trigger_from_row(trigger, open_text))
    return [s.escalation_from_row(row, row["ref"], tuple(triggers.get(row["id"], ()))) for row in rows]


def all_escalations(conn: Connection, only_open: bool, open_text: s.Open) -> list[Escalation]:
    where = [_NOT_CLOSED] if only_open else []
    return read_escalations(conn, open_text, *where, order_by=[_e.c.opened_at.desc(), _e.c.id.desc()])


def one_escalation(conn: Connection, escalation_id: int, open_text: s.Open) -> Escalation | None:
    found = read_escalations(conn, open_text, _e.c.id == escalation_id, order_by=[_e.c.id])
    return found[0] if found else None


def due_escalations(conn: Connection, now: datetime, open_text: s.Open) -> list[Escalation]:
    return read_escalations(conn, open_text, _e.c.status == _OPEN, _e.c.deadline_at <= now,
                            order_by=[_e.c.deadline_at, _e.c.id])


def notifications(conn: Connection, escalation_id: int | None, status: NotificationStatus | None) -> list[Notification]:
    query = select(_n).order_by(_n.c.created_at, _n.c.id)
    if escalation_id is not None:
        query = query.where(_n.c.escalation_id == escalation_id)
    if status is not None:
        query = query.where(_n.c.status == NotificationStatus(status).value)
    return [s.notification_from_row(row) for row in conn.execute(query).mappings()]


def recent_answers(conn: Connection, participant_id: int, limit: int, open_text: s.Open) -> list[dict[str, Any]]:
    a = s.answers
    query = (
        select(a, _p.c.ref)
        .join_from(a, _p, a.c.participant_id == _p.c.id)
        .where(a.c.participant_id == participant_id, a.c.superseded == false())
        .order_by(a.c.answered_at.desc(), a.c.id.desc())
        .limit(limit)
    )
    return [s.answer_export(row, row["ref"], open_text) for row in conn.execute(query).mappings()]


def recent_scores(conn: Connection, participant_id: int, limit: int) -> list[dict[str, Any]]:
    sc = s.scores
    query = (
        select(sc, _p.c.ref)
        .join_from(sc, _p, sc.c.participant_id == _p.c.id)
        .where(sc.c.participant_id == participant_id)
        .order_by(sc.c.completed_at.desc(), sc.c.id.desc())
        .limit(limit)
    )
    return [s.score_export(row, row["ref"]) for row in conn.execute(query).mappings()]
