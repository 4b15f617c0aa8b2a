"""Messages for a human (issue 11): the coach's inbox, read off the inbound messages the engine marked for a coach.

The engine decides which messages a coach must read (flows/for_coach.py); the step stores each inbound message with
its text sealed, what became of it, and that flag (storage/schema.py `inbox_row`). Here: listing them for coaches,
marking them read, and turning those nobody read in time into coach tasks. The rules (rows, audit entries) are plain
functions shared with `MemoryStorage`; the SQL is portable Core, its writes `ContactOp`s run in the SQLite writer's
transaction (durable, serialized with steps).

Every read is audited per message ("message.read": who read which message, when; never the text). A message that
became a task is done with it when a coach reads the message, so the task list does not ask for what was done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from storage import schema as s
from storage.contacts import ContactOp
from storage.interface import AuditRecord, CoachMessage, CoachTaskRecord

READ = "message.read"
UNREAD_TASK = "message_unread"  # the kind of coach task an unread message becomes

_ib, _p, _tk, _al = s.inbox, s.participants, s.coach_tasks, s.audit_log
_COLUMNS = (_ib.c.id, _ib.c.participant_id, _ib.c.channel, _ib.c.body_enc, _ib.c.received_at, _ib.c.outcome_detail,
            _ib.c.read_by, _ib.c.read_at, _ib.c.task_id, _p.c.ref)
_MESSAGES = select(*_COLUMNS).join_from(_ib, _p, _ib.c.participant_id == _p.c.id).where(s.FOR_COACH)


# --- the rules, shared by both storages ---


def message_from_row(row: Mapping[str, Any], ref: str, open_text: s.Open) -> CoachMessage:
    detail = row["outcome_detail"]
    return CoachMessage(
        id=row["id"],
        participant_id=row["participant_id"],
        participant_ref=ref,
        channel=row["channel"],
        body="" if row["body_enc"] is None else open_text(row["body_enc"]),
        received_at=row["received_at"],
        detail={} if detail is None else s.load_json(detail),
        read_by=row["read_by"],
        read_at=row["read_at"],
        task_id=row["task_id"],
    )


def in_order(rows: Sequence[Mapping[str, Any]], read_limit: int) -> list[Mapping[str, Any]]:
    """Every unread message, oldest first, then the `read_limit` latest read ones, newest first."""
    unread = sorted((r for r in rows if r["read_at"] is None), key=lambda r: (r["received_at"], r["id"]))
    read = sorted((r for r in rows if r["read_at"] is not None), key=lambda r: (r["received_at"], r["id"]),
                  reverse=True)
    return [*unread, *read[: max(read_limit, 0)]]


def read_audit(coach_id: str, ref: str, message_id: int, at: datetime) -> s.Row:
    """Who read which message, when: ids only, never the text."""
    return s.audit_row(AuditRecord(f"coach:{coach_id}", READ, f"participant:{ref}", at, {"message_id": message_id}))


def unread_task(message_id: int, at: datetime, due_at: datetime) -> CoachTaskRecord:
    return CoachTaskRecord(UNREAD_TASK, {"message_id": message_id}, at, due_at)


def task_audit(ref: str, message_id: int, at: datetime) -> s.Row:
    """As the conversation loop audits the tasks a step raises (``task.<kind>`` by the system)."""
    return s.audit_row(AuditRecord("system", f"task.{UNREAD_TASK}", f"participant:{ref}", at,
                                   {"message_id": message_id}))


def check_ids(message_ids: Sequence[int]) -> tuple[int, ...]:
    if any(isinstance(i, bool) or not isinstance(i, int) for i in message_ids):
        raise TypeError("message ids are ints")
    return tuple(dict.fromkeys(message_ids))


# --- SQL: reads ---


def coach_messages(conn: Connection, participant_ids: Sequence[int] | None, read_limit: int,
                   open_text: s.Open) -> list[CoachMessage]:
    """See `Storage.coach_messages`: two statements on the partial index of messages for a coach."""
    query = _MESSAGES
    if participant_ids is not None:
        if not participant_ids:
            return []
        query = query.where(_ib.c.participant_id.in_(list(participant_ids)))
    unread = query.where(_ib.c.read_at.is_(None)).order_by(_ib.c.received_at, _ib.c.id)
    read = (query.where(_ib.c.read_at.is_not(None)).order_by(_ib.c.received_at.desc(), _ib.c.id.desc())
            .limit(max(read_limit, 0)))
    rows = [*conn.execute(unread).mappings(), *conn.execute(read).mappings()]
    return [message_from_row(row, row["ref"], open_text) for row in rows]


# --- SQL: writes, inside the writer's transaction ---

_UNREAD = _MESSAGES.where(_ib.c.read_at.is_(None))
_MARK_READ = (
    update(_ib)
    .where(_ib.c.id == bindparam("b_id"), _ib.c.read_at.is_(None))
    .values(read_by=bindparam("b_by"), read_at=bindparam("b_at"))
)
_TASK_DONE = (
    update(_tk)
    .where(_tk.c.id == bindparam("b_id"), _tk.c.done_at.is_(None))
    .values(done_at=bindparam("b_at"), done_by=bindparam("b_by"))
)
_INSERT_TASK = insert(_tk).returning(_tk.c.id)
_SET_TASK = update(_ib).where(_ib.c.id == bindparam("b_id")).values(task_id=bindparam("b_task"))


@dataclass(frozen=True)
class MarkRead(ContactOp):
    message_ids: tuple[int, ...]
    coach_id: str
    at: datetime

    def run(self, conn: Connection) -> int:
        if not self.message_ids:
            return 0
        rows = conn.execute(_UNREAD.where(_ib.c.id.in_(list(self.message_ids)))).mappings().all()
        if not rows:
            return 0
        conn.execute(_MARK_READ, [{"b_id": r["id"], "b_by": self.coach_id, "b_at": self.at} for r in rows])
        tasks = [{"b_id": r["task_id"], "b_by": self.coach_id, "b_at": self.at} for r in rows if r["task_id"]]
        if tasks:
            conn.execute(_TASK_DONE, tasks)
        conn.execute(insert(_al), [read_audit(self.coach_id, r["ref"], r["id"], self.at) for r in rows])
        return len(rows)


@dataclass(frozen=True)
class TaskUnread(ContactOp):
    received_before: datetime
    at: datetime
    due_at: datetime

    def run(self, conn: Connection) -> list[int]:
        query = _UNREAD.where(_ib.c.task_id.is_(None), _ib.c.received_at <= self.received_before)
        rows = conn.execute(query.order_by(_ib.c.received_at, _ib.c.id)).mappings().all()
        made: list[int] = []
        for row in rows:
            task = s.task_row(row["participant_id"], unread_task(row["id"], self.at, self.due_at))
            task_id = int(conn.execute(_INSERT_TASK, task).scalar_one())
            conn.execute(_SET_TASK, {"b_id": row["id"], "b_task": task_id})
            conn.execute(insert(_al), task_audit(row["ref"], row["id"], self.at))
            made.append(task_id)
        return made
