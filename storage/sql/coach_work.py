"""What a coach works from: tasks, milestones, a person's recent answers and scores, and the messages inbox.

Messages for a human (issue 11): the coach's inbox, read off the inbound messages the engine marked for a coach.

The engine decides which messages a coach must read (flows/for_coach.py); the step stores each inbound message with
its text sealed, what became of it, and that flag (storage/sql/rows.py `inbox_row`). Here: listing them for coaches,
marking them read, and turning those nobody read in time into coach tasks. The SQL is portable Core, its writes
`ContactOp`s run in the writer's transaction (durable, serialized with steps).

Every read is audited per message ("message.read": who read which message, when; never the text). A message that
became a task is done with it when a coach reads the message, so the task list does not ask for what was done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, bindparam, false, insert, select, update

from storage.records import AuditRecord, CoachMessage, CoachTask, CoachTaskRecord, Mark, MarkRecord, ScoreRecord
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import Open, Row, load_json, require_actor, require_utc
from storage.sql.directory import ContactOp
from storage.sql.rows import (
    answer_export,
    audit_row,
    mark_from_row,
    mark_row,
    score_export,
    score_from_row,
    task_from_row,
    task_row,
)
from storage.sql.schedule import ProgrammeOp

READ = "message.read"
UNREAD_TASK = "message_unread"  # the kind of coach task an unread message becomes
_ib, _p, _tk, _mk, _al = s.inbox, s.participants, s.coach_tasks, s.programme_marks, s.audit_log
_COLUMNS = (_ib.c.id, _ib.c.participant_id, _ib.c.channel, _ib.c.body_enc, _ib.c.received_at, _ib.c.outcome_detail,
            _ib.c.read_by, _ib.c.read_at, _ib.c.task_id, _p.c.ref)


_MESSAGES = select(*_COLUMNS).join_from(_ib, _p, _ib.c.participant_id == _p.c.id).where(s.FOR_COACH)


def message_from_row(row: Mapping[str, Any], ref: str, open_text: Open) -> CoachMessage:
    detail = row["outcome_detail"]
    return CoachMessage(
        id=row["id"],
        participant_id=row["participant_id"],
        participant_ref=ref,
        channel=row["channel"],
        body="" if row["body_enc"] is None else open_text(row["body_enc"]),
        received_at=row["received_at"],
        detail={} if detail is None else load_json(detail),
        read_by=row["read_by"],
        read_at=row["read_at"],
        task_id=row["task_id"],
    )


def read_audit(coach_id: str, ref: str, message_id: int, at: datetime) -> Row:
    """Who read which message, when: ids only, never the text."""
    return audit_row(AuditRecord(f"coach:{coach_id}", READ, f"participant:{ref}", at, {"message_id": message_id}))


def unread_task(message_id: int, at: datetime, due_at: datetime) -> CoachTaskRecord:
    return CoachTaskRecord(UNREAD_TASK, {"message_id": message_id}, at, due_at)


def task_audit(ref: str, message_id: int, at: datetime) -> Row:
    """As the conversation loop audits the tasks a step raises (``task.<kind>`` by the system)."""
    return audit_row(AuditRecord("system", f"task.{UNREAD_TASK}", f"participant:{ref}", at,
                                   {"message_id": message_id}))


def check_ids(message_ids: Sequence[int]) -> tuple[int, ...]:
    if any(isinstance(i, bool) or not isinstance(i, int) for i in message_ids):
        raise TypeError("message ids are ints")
    return tuple(dict.fromkeys(message_ids))


def coach_messages(conn: Connection, participant_ids: Sequence[int] | None, read_limit: int,
                   open_text: Open) -> list[CoachMessage]:
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
            task = task_row(row["participant_id"], unread_task(row["id"], self.at, self.due_at))
            task_id = int(conn.execute(_INSERT_TASK, task).scalar_one())
            conn.execute(_SET_TASK, {"b_id": row["id"], "b_task": task_id})
            conn.execute(insert(_al), task_audit(row["ref"], row["id"], self.at))
            made.append(task_id)
        return made


def recent_answers(conn: Connection, participant_id: int, limit: int, open_text: Open) -> list[dict[str, Any]]:
    a = s.answers
    query = (
        select(a, _p.c.ref)
        .join_from(a, _p, a.c.participant_id == _p.c.id)
        .where(a.c.participant_id == participant_id, a.c.superseded == false())
        .order_by(a.c.answered_at.desc(), a.c.id.desc())
        .limit(limit)
    )
    return [answer_export(row, row["ref"], open_text) for row in conn.execute(query).mappings()]


def recent_scores(conn: Connection, participant_id: int, limit: int) -> list[dict[str, Any]]:
    sc = s.scores
    query = (
        select(sc, _p.c.ref)
        .join_from(sc, _p, sc.c.participant_id == _p.c.id)
        .where(sc.c.participant_id == participant_id)
        .order_by(sc.c.completed_at.desc(), sc.c.id.desc())
        .limit(limit)
    )
    return [score_export(row, row["ref"]) for row in conn.execute(query).mappings()]


COMPLETE_TASK = (
    update(_tk)
    .where(_tk.c.id == bindparam("b_id"), _tk.c.done_at.is_(None))
    .values(done_at=bindparam("b_at"), done_by=bindparam("b_by"))
)


@dataclass(frozen=True)
class CompleteTask(ProgrammeOp):
    task_id: int
    coach_id: str
    at: datetime

    def run(self, conn: Connection) -> bool:
        params = {"b_id": self.task_id, "b_at": self.at, "b_by": self.coach_id}
        return bool(conn.execute(COMPLETE_TASK, params).rowcount == 1)


@dataclass(frozen=True)
class AddMark(ProgrammeOp):
    row: Row

    def run(self, conn: Connection) -> None:
        conn.execute(insert(_mk), self.row)


class CoachWorkMethods(StoreBase):
    """The `CoachWork` port."""

    async def coach_tasks(self, only_open: bool = True, participant_id: int | None = None) -> list[CoachTask]:
        """Tasks oldest first (created_at, then id); `only_open`: those not done."""
        query = select(_tk).order_by(_tk.c.created_at, _tk.c.id)
        if only_open:
            query = query.where(_tk.c.done_at.is_(None))
        if participant_id is not None:
            query = query.where(_tk.c.participant_id == participant_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [task_from_row(row) for row in rows]

    async def complete_task(self, task_id: int, coach_id: str, at: datetime) -> bool:
        op = CompleteTask(task_id, require_actor(coach_id), require_utc(at))
        return cast(bool, await self._writer.submit(Kind.PROGRAMME, op))

    async def marks(self, participant_id: int | None = None) -> list[Mark]:
        """Milestones in the order they were stored."""
        query = select(_mk).order_by(_mk.c.id)
        if participant_id is not None:
            query = query.where(_mk.c.participant_id == participant_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [mark_from_row(row) for row in rows]

    async def add_mark(self, participant_id: int, record: MarkRecord) -> None:
        """A mark outside a conversation step (a coach's note)."""
        await self._writer.submit(Kind.PROGRAMME, AddMark(mark_row(participant_id, record)))

    async def flow_scores(self, participant_id: int, flow_id: str) -> list[ScoreRecord]:
        sc = s.scores
        query = (
            select(sc)
            .where(sc.c.participant_id == participant_id, sc.c.flow_id == flow_id)
            .order_by(sc.c.completed_at, sc.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [score_from_row(row) for row in rows]

    async def recent_answers(self, participant_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The participant's latest non-superseded answers (export_answers' columns), newest first."""
        async with self._connect() as conn:
            return await conn.run_sync(recent_answers, participant_id, max(limit, 0), self._keys.open)

    async def recent_scores(self, participant_id: int, limit: int = 10) -> list[dict[str, Any]]:
        """The participant's latest scores (export_scores' columns), newest first."""
        async with self._connect() as conn:
            return await conn.run_sync(recent_scores, participant_id, max(limit, 0))

    async def coach_messages(self, participant_ids: Sequence[int] | None = None,
                             read_limit: int = 20) -> list[CoachMessage]:
        """Unread messages for a coach, oldest first, then the `read_limit` latest read ones (texts opened)."""
        wanted = None if participant_ids is None else list(dict.fromkeys(participant_ids))
        async with self._connect() as conn:
            await conn.execute(select(1))  # BEGIN: both lists from one snapshot
            return await conn.run_sync(coach_messages, wanted, read_limit, self._keys.open)

    async def mark_messages_read(self, message_ids: Sequence[int], coach_id: str, at: datetime) -> int:
        op = MarkRead(check_ids(message_ids), require_actor(coach_id), require_utc(at))
        return cast(int, await self._writer.submit(Kind.CONTACT, op))

    async def task_unread_messages(self, received_before: datetime, at: datetime, due_at: datetime) -> list[int]:
        op = TaskUnread(require_utc(received_before), require_utc(at), require_utc(due_at))
        return cast(list[int], await self._writer.submit(Kind.CONTACT, op))
