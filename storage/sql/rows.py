"""Records checked and encoded into rows before any transaction (so bad data fails only its caller), and rows
decoded back into records: steps, audit entries, exports, escalations, coach tasks, milestones, scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from storage.errors import InvalidRecord
from storage.records import (
    RISK_LEVELS,
    AuditRecord,
    CoachTask,
    CoachTaskRecord,
    Escalation,
    EscalationRecord,
    EscalationStatus,
    EscalationTrigger,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    Priority,
    ScoreRecord,
    StepRecord,
)
from storage.sql.codecs import (
    Open,
    Row,
    Seal,
    decode_answer,
    dump_json,
    encode_answer,
    load_json,
    require_name,
    require_utc,
    utc_text,
)
from storage.sql.schedule_rows import outcome_row, schedule_row


@dataclass(frozen=True)
class StepRows:
    """A step checked and encoded into rows before any transaction, so bad data fails only its caller."""

    step: StepRecord
    state: str
    inbox: Row | None
    answers: tuple[Row, ...]
    scores: tuple[Row, ...]
    outbox: tuple[Row, ...]
    audit: tuple[Row, ...]
    escalations: tuple[Row, ...] = ()  # signals, see `signal_row`; applied in order after the rest
    outcome: Row | None = None  # see `outcome_row`: a precondition, then applied first of the schedule changes
    cancel_kinds: tuple[str, ...] = ()  # then these kinds' pending rows are cancelled...
    cancel_keys: tuple[str, ...] = ()  # ...and those with these keys...
    schedule: tuple[Row, ...] = ()  # ...then these are planned (see `schedule_row` and `replan_changes`)
    tasks: tuple[Row, ...] = ()
    marks: tuple[Row, ...] = ()
    contacts: tuple[Any, ...] = ()  # storage/sql/directory.py operations (address, consent), run after the rest

    @property
    def changes_schedule(self) -> bool:
        return self.outcome is not None or bool(self.cancel_kinds) or bool(self.cancel_keys) or bool(self.schedule)


MAX_BODY_CHARS = 20_000  # a message is kept up to here (no phone sends more; the risk scan reads as far)


def inbox_row(step: StepRecord, seal: Seal) -> Row | None:
    """The inbound message with what became of it (`StepRecord.heard`), its text sealed."""
    if step.inbound is None:
        return None
    heard = step.heard
    body = None if heard is None or heard.body is None else seal(heard.body[:MAX_BODY_CHARS])
    return {
        "channel": step.inbound.channel,
        "channel_message_id": step.inbound.channel_message_id,
        "participant_id": step.participant_id,
        "received_at": require_utc(step.inbound.received_at),
        "processed_at": require_utc(step.at),
        "body_enc": body,
        "outcome": None if heard is None else require_name(heard.outcome, "outcome", 100),
        "outcome_detail": None if heard is None else dump_json(heard.detail),
        "for_coach": heard is not None and heard.for_coach,
        "read_by": None,
        "read_at": None,
        "task_id": None,
    }


def step_rows(step: StepRecord, seal: Seal) -> StepRows:
    """The step checked and encoded; everything the person wrote (the message, answers' text, a risk trigger's
    words, the conversation state that holds answers) sealed with `seal`."""
    pid = step.participant_id
    require_utc(step.at)
    answer_rows = []
    for a in step.answers:
        kind, num, txt = encode_answer(a.value)
        answer_rows.append(
            {
                "participant_id": pid,
                "run_seq": a.run_seq,
                "flow_id": a.flow_id,
                "flow_version": a.flow_version,
                "item_id": a.item_id,
                "value_kind": kind,
                "value_num": num,
                "value_text": None if txt is None else seal(txt),
                "raw_text": seal(a.raw_text),
                "answered_at": require_utc(a.answered_at),
                "superseded": False,
            }
        )
    score_rows = tuple(
        {
            "participant_id": pid,
            "run_seq": s.run_seq,
            "flow_id": s.flow_id,
            "flow_version": s.flow_version,
            "score_id": s.score_id,
            "value": _finite(float(s.value)),
            "band": s.band,
            "completed_at": require_utc(s.completed_at),
        }
        for s in step.scores
    )
    outbox_rows = tuple(
        {
            "participant_id": pid,
            "channel": o.channel,
            "payload": dump_json(o.payload),
            "created_at": require_utc(o.created_at),
            "sent_at": None,
            "attempts": 0,
            "priority": int(Priority(o.priority)),  # ValueError for a priority that does not exist
        }
        for o in step.outbox
    )
    return StepRows(
        step=step,
        state=seal(dump_json(step.state)),
        inbox=inbox_row(step, seal),
        answers=tuple(answer_rows),
        scores=score_rows,
        outbox=outbox_rows,
        audit=tuple(audit_row(e) for e in step.audit),
        escalations=tuple(signal_row(e, seal) for e in step.escalations),
        outcome=None if step.schedule_outcome is None else outcome_row(step.schedule_outcome, step.at),
        cancel_kinds=tuple(
            dict.fromkeys(require_name(kind, "schedule kind", 40) for kind in step.cancel_schedule_kinds)
        ),
        cancel_keys=tuple(dict.fromkeys(require_name(key, "schedule key", 200) for key in step.cancel_schedule_keys)),
        schedule=tuple(schedule_row(pid, record, step.at) for record in step.schedule),
        tasks=tuple(task_row(pid, task) for task in step.tasks),
        marks=tuple(mark_row(pid, mark) for mark in step.marks),
    )


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise InvalidRecord("non-finite score refused")
    return value


def audit_row(entry: AuditRecord) -> Row:
    return {
        "at": require_utc(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "detail": dump_json(entry.detail),
    }


def audit_from_row(row: Mapping[Any, Any]) -> AuditRecord:
    return AuditRecord(
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        at=row["at"],
        detail=load_json(row["detail"]),
    )


def answer_export(row: Mapping[Any, Any], ref: str, open_text: Open) -> dict[str, Any]:
    """An answer as exports show it, its sealed text opened."""
    text = row["value_text"]
    return {
        "participant": ref,
        "flow_id": row["flow_id"],
        "flow_version": row["flow_version"],
        "run_seq": row["run_seq"],
        "item_id": row["item_id"],
        "value": decode_answer(row["value_kind"], row["value_num"], None if text is None else open_text(text)),
        "raw_text": open_text(row["raw_text"]),
        "answered_at": utc_text(row["answered_at"]),
    }


def score_export(row: Mapping[Any, Any], ref: str) -> dict[str, Any]:
    return {
        "participant": ref,
        "flow_id": row["flow_id"],
        "flow_version": row["flow_version"],
        "run_seq": row["run_seq"],
        "score_id": row["score_id"],
        "value": row["value"],
        "band": row["band"],
        "completed_at": utc_text(row["completed_at"]),
    }


def level_rank(level: str) -> int:
    """Position in `RISK_LEVELS` (higher is more urgent); an unknown level is refused."""
    try:
        return RISK_LEVELS.index(level)
    except ValueError:
        raise InvalidRecord(f"unknown risk level {level!r}; expected one of {RISK_LEVELS}") from None


def signal_row(record: EscalationRecord, seal: Seal) -> Row:
    """A risk signal checked and encoded; the trigger JSON (verbatim text included) goes, sealed, to its own table."""
    level_rank(record.level)
    if not record.trigger_kind:
        raise InvalidRecord("an escalation needs a trigger_kind")
    return {
        "level": record.level,
        "trigger_kind": record.trigger_kind,
        "trigger": seal(dump_json(record.trigger)),
        "at": require_utc(record.at),
        "deadline_at": require_utc(record.deadline_at),
    }


def outcome_note(note: str) -> str:
    """The coach's outcome note, stripped; closing without one is refused."""
    stripped = note.strip() if isinstance(note, str) else ""
    if not stripped:
        raise InvalidRecord("closing an escalation requires a non-empty outcome note")
    return stripped


def trigger_from_row(row: Mapping[Any, Any], open_text: Open) -> EscalationTrigger:
    return EscalationTrigger(
        level=row["level"], trigger_kind=row["trigger_kind"], trigger=load_json(open_text(row["trigger"])),
        at=row["at"],
    )


def escalation_from_row(row: Mapping[Any, Any], ref: str, triggers: tuple[EscalationTrigger, ...]) -> Escalation:
    return Escalation(
        id=row["id"],
        participant_id=row["participant_id"],
        participant_ref=ref,
        level=row["level"],
        status=EscalationStatus(row["status"]),
        opened_at=row["opened_at"],
        deadline_at=row["deadline_at"],
        tier=row["tier"],
        triggers=triggers,
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        outcome_note=row["outcome_note"],
    )


def notification_from_row(row: Mapping[Any, Any]) -> Notification:
    return Notification(
        id=row["id"],
        escalation_id=row["escalation_id"],
        coach_id=row["coach_id"],
        channel=row["channel"],
        tier=row["tier"],
        status=NotificationStatus(row["status"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        detail=row["detail"],
        updated_at=row["updated_at"],
    )


def task_row(participant_id: int, record: CoachTaskRecord) -> Row:
    return {
        "participant_id": participant_id,
        "kind": require_name(record.kind, "task kind", 40),
        "detail": dump_json(record.detail),
        "created_at": require_utc(record.created_at),
        "due_at": None if record.due_at is None else require_utc(record.due_at),
        "done_at": None,
        "done_by": None,
    }


def task_from_row(row: Mapping[Any, Any]) -> CoachTask:
    return CoachTask(
        id=row["id"],
        participant_id=row["participant_id"],
        kind=row["kind"],
        detail=load_json(row["detail"]),
        created_at=row["created_at"],
        due_at=row["due_at"],
        done_at=row["done_at"],
        done_by=row["done_by"],
    )


def mark_row(participant_id: int, record: MarkRecord) -> Row:
    if not isinstance(record.key, str) or len(record.key) > 200:
        raise InvalidRecord("mark key must be a str of at most 200 characters")
    return {
        "participant_id": participant_id,
        "kind": require_name(record.kind, "mark kind", 40),
        "key": record.key,
        "detail": dump_json(record.detail),
        "at": require_utc(record.at),
    }


def mark_from_row(row: Mapping[Any, Any]) -> Mark:
    return Mark(
        participant_id=row["participant_id"],
        kind=row["kind"],
        key=row["key"],
        detail=load_json(row["detail"]),
        at=row["at"],
    )


def score_from_row(row: Mapping[Any, Any]) -> ScoreRecord:
    return ScoreRecord(
        run_seq=row["run_seq"],
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        score_id=row["score_id"],
        value=row["value"],
        band=row["band"],
        completed_at=row["completed_at"],
    )
