"""`MemoryStorage`'s coach inbox: the same rules and audit rows as storage/messages.py, on its dicts.

Kept apart from storage/memory.py, which is long enough; `MemoryStorage` inherits it and owns the state it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage import messages as msg
from storage import schema as s
from storage.crypto import Keys
from storage.interface import CoachMessage, Participant


class MemoryMessages:
    """The coach-inbox methods of `Storage` over `MemoryStorage`'s inbox, tasks and audit log."""

    _keys: Keys
    _participants: dict[int, Participant]
    _inbox: dict[tuple[str, str], s.Row]
    _tasks: dict[int, s.Row]
    _audit: list[s.Row]

    def _check_open(self) -> None:
        raise NotImplementedError

    def _new_id(self, table: str) -> int:
        raise NotImplementedError

    def _for_coach(self) -> list[s.Row]:
        return [row for row in self._inbox.values() if row["for_coach"]]

    async def coach_messages(self, participant_ids: Sequence[int] | None = None,
                             read_limit: int = 20) -> list[CoachMessage]:
        self._check_open()
        wanted = None if participant_ids is None else set(participant_ids)
        rows = [row for row in self._for_coach() if wanted is None or row["participant_id"] in wanted]
        return [msg.message_from_row(row, self._participants[row["participant_id"]].ref, self._keys.open)
                for row in msg.in_order(rows, read_limit)]

    async def mark_messages_read(self, message_ids: Sequence[int], coach_id: str, at: datetime) -> int:
        self._check_open()
        ids, coach_id, at = set(msg.check_ids(message_ids)), s.require_actor(coach_id), s.require_utc(at)
        marked = 0
        for row in sorted(self._for_coach(), key=lambda r: r["id"]):
            if row["id"] not in ids or row["read_at"] is not None:
                continue
            row.update(read_by=coach_id, read_at=at)
            task = self._tasks.get(row["task_id"]) if row["task_id"] else None
            if task is not None and task["done_at"] is None:
                task.update(done_at=at, done_by=coach_id)
            self._audit.append(msg.read_audit(coach_id, self._participants[row["participant_id"]].ref, row["id"], at))
            marked += 1
        return marked

    async def task_unread_messages(self, received_before: datetime, at: datetime, due_at: datetime) -> list[int]:
        self._check_open()
        before, at, due_at = s.require_utc(received_before), s.require_utc(at), s.require_utc(due_at)
        due = [row for row in self._for_coach()
               if row["read_at"] is None and row["task_id"] is None and row["received_at"] <= before]
        made = []
        for row in sorted(due, key=lambda r: (r["received_at"], r["id"])):
            task_id = self._new_id("coach_tasks")
            self._tasks[task_id] = {"id": task_id, **s.task_row(row["participant_id"],
                                                                msg.unread_task(row["id"], at, due_at))}
            row["task_id"] = task_id
            self._audit.append(msg.task_audit(self._participants[row["participant_id"]].ref, row["id"], at))
            made.append(task_id)
        return made
