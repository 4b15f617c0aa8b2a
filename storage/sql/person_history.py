"""The `PersonHistory` port on SQL: one person's messages in and out, their escalations, and a coach's mark on one of
their planned events (bot/desk/, a person's page).

Every read is bounded to one participant and a limit, and runs on an index that starts with the participant
(Alembic revision 0004): a person's page stays fast however many people and messages the database holds. The one
write, `annotate_schedule`, goes through the writer as a `ProgrammeOp` and only touches a row that is still pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, select, update

from storage.crypto import Keys
from storage.person_records import PersonHistoryRows, ReceivedMessage, SentMessage
from storage.records import Escalation, Profile
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.coach_work import recent_answers
from storage.sql.codecs import Open, dump_json, load_json, require_utc
from storage.sql.directory import profile
from storage.sql.escalations import read_escalations
from storage.sql.outbox_rows import outbox_from_row
from storage.sql.rows import mark_from_row, score_from_row, task_from_row
from storage.sql.schedule import SCHEDULE_ROW, ProgrammeOp
from storage.sql.schedule_rows import schedule_from_row

_p, _ob, _ib, _e, _sch = s.participants, s.outbox, s.inbox, s.escalations, s.schedule
_sc, _mk, _tk = s.scores, s.programme_marks, s.coach_tasks
MAX_LIMIT = 500  # a page never asks for more; a mistaken caller cannot read a whole table


def profile_by_ref(conn: Connection, ref: str, keys: Keys) -> Profile | None:
    pid = conn.execute(select(_p.c.id).where(_p.c.ref == ref)).scalar()
    return None if pid is None else profile(conn, int(pid), keys)


def sent_messages(conn: Connection, participant_id: int, limit: int) -> list[SentMessage]:
    query = select(_ob).where(_ob.c.participant_id == participant_id).order_by(_ob.c.id.desc()).limit(limit)
    return [SentMessage(outbox_from_row(row), row["sent_at"], row["delivery_status"], row["delivery_detail"],
                        row["not_before"], row["given_up_at"])
            for row in conn.execute(query).mappings()]


def received_messages(conn: Connection, participant_id: int, limit: int, open_text: Open) -> list[ReceivedMessage]:
    query = (select(_ib).where(_ib.c.participant_id == participant_id)
             .order_by(_ib.c.received_at.desc(), _ib.c.id.desc()).limit(limit))
    return [ReceivedMessage(row["id"], row["participant_id"], row["channel"],
                            "" if row["body_enc"] is None else open_text(row["body_enc"]), row["received_at"],
                            row["outcome"], {} if row["outcome_detail"] is None else load_json(row["outcome_detail"]),
                            bool(row["for_coach"]), row["read_by"], row["read_at"])
            for row in conn.execute(query).mappings()]


def escalations_of(conn: Connection, participant_id: int, open_text: Open) -> list[Escalation]:
    return read_escalations(conn, open_text, _e.c.participant_id == participant_id,
                            order_by=[_e.c.opened_at.desc(), _e.c.id.desc()])


def person_history(conn: Connection, participant_id: int, limit: int, answers: int,
                   open_text: Open) -> PersonHistoryRows:
    pid = participant_id
    scores = conn.execute(select(_sc).where(_sc.c.participant_id == pid).order_by(_sc.c.completed_at, _sc.c.id))
    marks = conn.execute(select(_mk).where(_mk.c.participant_id == pid).order_by(_mk.c.id))
    tasks = conn.execute(select(_tk).where(_tk.c.participant_id == pid).order_by(_tk.c.created_at, _tk.c.id))
    pending = conn.execute(select(*SCHEDULE_ROW).where(_sch.c.participant_id == pid,
                                                       _sch.c.status == s.SCHEDULE_PENDING)
                           .order_by(_sch.c.due_at, _sch.c.id))
    return PersonHistoryRows(
        sent=sent_messages(conn, pid, limit), received=received_messages(conn, pid, limit, open_text),
        answers=recent_answers(conn, pid, answers, open_text),
        scores=[score_from_row(row) for row in scores.mappings()],
        escalations=escalations_of(conn, pid, open_text), marks=[mark_from_row(row) for row in marks.mappings()],
        tasks=[task_from_row(row) for row in tasks.mappings()],
        pending=[schedule_from_row(row) for row in pending.mappings()])


@dataclass(frozen=True)
class AnnotateSchedule(ProgrammeOp):
    """Set (or, with None, remove) keys of a pending row's data: what the engine reads when the row comes due."""

    participant_id: int
    schedule_id: int
    changes: Mapping[str, Any]
    at: datetime

    def run(self, conn: Connection) -> bool:
        found = conn.execute(select(_sch.c.data).where(
            _sch.c.id == self.schedule_id, _sch.c.participant_id == self.participant_id,
            _sch.c.status == s.SCHEDULE_PENDING)).first()
        if found is None:
            return False
        data = {**load_json(found.data)}
        for key, value in self.changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        done = conn.execute(update(_sch).where(_sch.c.id == self.schedule_id, _sch.c.status == s.SCHEDULE_PENDING)
                            .values(data=dump_json(data), updated_at=self.at))
        return done.rowcount == 1


class PersonHistoryMethods(StoreBase):
    """The `PersonHistory` port."""

    async def profile_by_ref(self, ref: str) -> Profile | None:
        async with self._connect() as conn:
            return await conn.run_sync(profile_by_ref, ref, self._keys)

    async def sent_messages(self, participant_id: int, limit: int = 50) -> list[SentMessage]:
        async with self._connect() as conn:
            return await conn.run_sync(sent_messages, participant_id, _bounded(limit))

    async def received_messages(self, participant_id: int, limit: int = 50) -> list[ReceivedMessage]:
        async with self._connect() as conn:
            return await conn.run_sync(received_messages, participant_id, _bounded(limit), self._keys.open)

    async def escalations_of(self, participant_id: int) -> list[Escalation]:
        async with self._connect() as conn:
            return await conn.run_sync(escalations_of, participant_id, self._keys.open)

    async def person_history(self, participant_id: int, limit: int = 200, answers: int = 400) -> PersonHistoryRows:
        async with self._connect() as conn:
            await conn.execute(select(1))  # BEGIN: everything from one snapshot
            return await conn.run_sync(person_history, participant_id, _bounded(limit), max(0, min(answers, 2000)),
                                       self._keys.open)

    async def annotate_schedule(self, participant_id: int, schedule_id: int, changes: Mapping[str, Any],
                                at: datetime) -> bool:
        op = AnnotateSchedule(participant_id, schedule_id, dict(changes), require_utc(at))
        return cast(bool, await self._writer.submit(Kind.PROGRAMME, op))


def _bounded(limit: int) -> int:
    return max(0, min(limit, MAX_LIMIT))
