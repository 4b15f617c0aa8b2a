"""A coach's reply to a participant (the desk's Messages page): one outbox row, the message it answers read, audited.

All in one write in the writer's transaction, so a reply is never sent without its audit row and never recorded
without being queued: the message it answers is marked read by the coach (as reading it would: "message.read", its
task done), the row goes into the outbox on the participant's channel (`not_before` holds it back through the quiet
hours), and "message.replied" says who answered whom, on which channel, when it may go (ids only, never the text).
The dispatcher sends it like any other row (bot/dispatcher.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, insert

from storage.errors import unknown_participant
from storage.records import CoachMessage, JSONObject, Priority
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.coach_work import _MESSAGES, MarkRead, message_from_row
from storage.sql.codecs import dump_json, require_actor, require_utc
from storage.sql.directory import ContactOp, find_participant
from storage.sql.directory_rows import participant_audit

REPLIED = "message.replied"
_o, _ib = s.outbox, s.inbox


@dataclass(frozen=True)
class SendCoachReply(ContactOp):
    participant_id: int
    channel: str
    payload: str  # JSON
    coach_id: str
    at: datetime
    message_id: int | None
    priority: Priority
    not_before: datetime | None

    def run(self, conn: Connection) -> int | Exception:
        participant = find_participant(conn, self.participant_id)
        if participant is None:
            return unknown_participant(self.participant_id)
        if self.message_id is not None:
            MarkRead((self.message_id,), self.coach_id, self.at).run(conn)
        row = {"participant_id": self.participant_id, "channel": self.channel, "payload": self.payload,
               "created_at": self.at, "sent_at": None, "attempts": 0, "priority": int(self.priority),
               "not_before": self.not_before}
        outbox_id = int(conn.execute(insert(_o).values(row).returning(_o.c.id)).scalar_one())
        detail: dict[str, Any] = {"outbox_id": outbox_id, "channel": self.channel, "message_id": self.message_id,
                                  "not_before": None if self.not_before is None else self.not_before.isoformat()}
        conn.execute(insert(s.audit_log), participant_audit(f"coach:{self.coach_id}", REPLIED, participant.ref,
                                                            self.at, detail))
        return outbox_id


class CoachReplyMethods(StoreBase):
    """`CoachWork.coach_message` and `CoachWork.send_coach_reply`."""

    async def coach_message(self, message_id: int) -> CoachMessage | None:
        async with self._connect() as conn:
            found = (await conn.execute(_MESSAGES.where(_ib.c.id == message_id))).mappings().first()
        return None if found is None else message_from_row(dict(found), found["ref"], self._keys.open)

    async def send_coach_reply(self, participant_id: int, channel: str, payload: JSONObject, coach_id: str,
                               at: datetime, *, message_id: int | None = None, priority: Priority = Priority.REPLY,
                               not_before: datetime | None = None) -> int:
        op = SendCoachReply(participant_id, channel, dump_json(payload), require_actor(coach_id), require_utc(at),
                            message_id, Priority(priority), None if not_before is None else require_utc(not_before))
        outcome = await self._writer.submit(Kind.CONTACT, op)
        if isinstance(outcome, Exception):
            raise outcome
        return cast(int, outcome)

