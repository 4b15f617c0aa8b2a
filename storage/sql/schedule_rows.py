"""The schedule's rules, shared by step commits and `add_schedule`: planning a key again re-plans a pending or
cancelled row and never revives one that was sent or skipped; an outcome applies only to a pending row of its
participant; a step's cancellations withdraw pending rows of some kinds or keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.errors import InvalidRecord
from storage.records import ScheduledRecord, ScheduleOutcome, ScheduleRow, ScheduleStatus
from storage.sql.codecs import Row, dump_json, load_json, require_name, require_utc

_PENDING = ScheduleStatus.PENDING.value


REPLANNABLE = frozenset({_PENDING, ScheduleStatus.CANCELLED.value})  # sent and skipped rows are never planned again


REPLACED = "replaced"  # the reason of a row cancelled by a step's `cancel_schedule_kinds`


def schedule_row(participant_id: int, record: ScheduledRecord, at: datetime) -> Row:
    """A planned event checked and encoded as the pending row an insert writes (`replan_changes` for an update)."""
    return {
        "participant_id": participant_id,
        "key": require_name(record.key, "schedule key", 200),
        "kind": require_name(record.kind, "schedule kind", 40),
        "due_at": require_utc(record.due_at),
        "data": dump_json(record.data),
        "status": _PENDING,
        "reason": "",
        "claimed_until": None,
        "created_at": require_utc(at),
        "updated_at": None,
    }


@dataclass(frozen=True)
class PlannedRows:
    """Pending rows to plan, in the shape a bulk write wants: each distinct event checked and encoded once (a
    cohort shares one plan: 100,000 participants' programmes are about 3,000 distinct events in 800,000 rows) and,
    row by row in order, the participant and the index of their event. A row is ``{**events[i], "participant_id":
    pid}``; writing from this shape spares a dictionary per row and, on PostgreSQL, parsing each event per row."""

    events: tuple[Row, ...]  # `schedule_row`s without their "participant_id"
    rows: tuple[tuple[int, int], ...]  # (participant id, index in `events`)

    @classmethod
    def of(cls, rows: Iterable[Row]) -> PlannedRows:
        """Full `schedule_row`s (a step's few) in this shape, each row its own event."""
        listed = list(rows)
        events = tuple({name: value for name, value in row.items() if name != "participant_id"} for row in listed)
        return cls(events, tuple((row["participant_id"], index) for index, row in enumerate(listed)))

    def __len__(self) -> int:
        return len(self.rows)

    def participant_ids(self) -> frozenset[int]:
        return frozenset(pid for pid, _ in self.rows)


EventMemo = dict[int, tuple[ScheduledRecord, datetime, Row]]  # id(record) -> (record, at, its event)
# Events a memo keeps before it starts again: a year of daily cohorts is about 3,000. A bound on what a long-running
# process holds (one person's plan at a time fills it with events used once: at most a few MB), not a cache to tune.
MEMO_SIZE = 5_000


def schedule_rows(entries: Iterable[tuple[int, ScheduledRecord]], at: datetime,
                  memo: EventMemo | None = None) -> PlannedRows:
    """`schedule_row` for each (participant id, event), as `PlannedRows`: an event object planned for many
    participants is checked and encoded once, which is most of the cost of planning a whole cohort. `memo` carries
    the encoded events from one call to the next (`bot.scheduler.materialise` plans in chunks that share a year of
    cohorts' plans: without it each 10,000-row chunk encoded the same 3,000 events again). Events are found by
    identity; the memo (the call's own when none is given) keeps each record, so its id cannot be reused while it is
    there: `index_of` relies on that within the call."""
    at = require_utc(at)
    known: EventMemo = {} if memo is None else memo
    if len(known) > MEMO_SIZE:
        known.clear()
    index_of: dict[int, int] = {}  # id(record) -> its index in `events`
    events: list[Row] = []
    rows: list[tuple[int, int]] = []
    for participant_id, record in entries:
        index = index_of.get(id(record))
        if index is None:
            found = known.get(id(record))
            if found is None or found[0] is not record or found[1] != at:
                event = schedule_row(participant_id, record, at)
                del event["participant_id"]
                found = known[id(record)] = (record, at, event)
            index = index_of[id(record)] = len(events)
            events.append(found[2])
        rows.append((participant_id, index))
    return PlannedRows(tuple(events), tuple(rows))


def replan_changes(row: Mapping[str, Any], planned: Row) -> Row:
    """What planning `planned` again changes on the row with its key: a pending or cancelled row is planned anew
    (and loses any lease); a sent or skipped one is left alone, so an event never happens twice."""
    if row["status"] not in REPLANNABLE:
        return {}
    return {
        "kind": planned["kind"],
        "due_at": planned["due_at"],
        "data": planned["data"],
        "status": _PENDING,
        "reason": "",
        "claimed_until": None,
        "updated_at": planned["created_at"],
    }


def outcome_row(outcome: ScheduleOutcome, at: datetime) -> Row:
    """A step's schedule outcome checked: a deferral (pending) needs its new due time, nothing else takes one."""
    if isinstance(outcome.schedule_id, bool) or not isinstance(outcome.schedule_id, int):
        raise TypeError("schedule_id must be an int")
    status = ScheduleStatus(outcome.status)
    deferred = status is ScheduleStatus.PENDING
    if deferred and outcome.due_at is None:
        raise InvalidRecord("a deferral (status pending) needs the new due_at")
    if not deferred and outcome.due_at is not None:
        raise InvalidRecord("due_at is only for a deferral (status pending)")
    if not isinstance(outcome.reason, str):
        raise TypeError("reason must be a str")
    return {
        "id": outcome.schedule_id,
        "status": status.value,
        "reason": outcome.reason,
        "due_at": None if outcome.due_at is None else require_utc(outcome.due_at),
        "updated_at": require_utc(at),
    }


def outcome_applies(row: Mapping[str, Any] | None, participant_id: int) -> bool:
    """The precondition of a step's schedule outcome: the row is the participant's and still pending. Otherwise
    it was handled already (by another process, or before a crash) and the step must not be written."""
    return row is not None and row["participant_id"] == participant_id and row["status"] == _PENDING


def outcome_changes(outcome: Row) -> Row:
    """What an outcome that applies changes: the status, the reason, the lease, and a deferral's due time."""
    changes = {
        "status": outcome["status"],
        "reason": outcome["reason"],
        "claimed_until": None,
        "updated_at": outcome["updated_at"],
    }
    if outcome["due_at"] is not None:
        changes["due_at"] = outcome["due_at"]
    return changes


def cancels(row: Mapping[str, Any], kinds: tuple[str, ...], keys: tuple[str, ...] = ()) -> bool:
    """Whether a step's `cancel_schedule_kinds` or `cancel_schedule_keys` withdraw this row: pending rows of those
    kinds or with those keys only (a row already handled keeps its outcome)."""
    return row["status"] == _PENDING and (row["kind"] in kinds or row["key"] in keys)


def cancel_changes(at: datetime) -> Row:
    return {"status": ScheduleStatus.CANCELLED.value, "reason": REPLACED, "updated_at": at}


SCHEDULE_ROW_COLUMNS = ("id", "participant_id", "key", "kind", "due_at", "data", "status", "reason", "updated_at")


def schedule_from_row(row: Mapping[Any, Any]) -> ScheduleRow:
    return ScheduleRow(
        id=row["id"],
        participant_id=row["participant_id"],
        key=row["key"],
        kind=row["kind"],
        due_at=row["due_at"],
        data=load_json(row["data"]),
        status=ScheduleStatus(row["status"]),
        reason=row["reason"],
        updated_at=row["updated_at"],
    )
