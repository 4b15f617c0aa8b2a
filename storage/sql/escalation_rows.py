"""The escalation rules: a signal opens an escalation or joins the one that is not closed (raising its level), and
the rows and audit entries that records. Plain functions; storage/sql/escalations.py runs the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage.records import AuditRecord, EscalationStatus
from storage.sql.codecs import Row
from storage.sql.rows import audit_row, level_rank

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


def new_escalation_row(participant_id: int, signal: Row) -> Row:
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


def merge_signal(active: Mapping[str, Any], signal: Row) -> Row:
    """The columns a new signal changes on the participant's escalation that is not closed (empty: none).

    Same or lower level: nothing (the signal is only added as a trigger). Higher level: the level rises; an
    open escalation keeps the earlier of the two deadlines; an acknowledged one is opened again with the new
    signal's deadline (its acknowledged_* columns stay; the audit log has the history).
    """
    if level_rank(signal["level"]) <= level_rank(active["level"]):
        return {}
    changes: Row = {"level": signal["level"]}
    if active["status"] == _OPEN:
        current = active["deadline_at"]
        changes["deadline_at"] = signal["deadline_at"] if current is None else min(current, signal["deadline_at"])
    else:
        changes["status"] = _OPEN
        changes["deadline_at"] = signal["deadline_at"]
    return changes


def trigger_row(escalation_id: int, signal: Row) -> Row:
    return {
        "escalation_id": escalation_id,
        "level": signal["level"],
        "trigger_kind": signal["trigger_kind"],
        "trigger": signal["trigger"],
        "at": signal["at"],
    }


def signal_audit(
    ref: str, escalation_id: int, signal: Row, before: Mapping[str, Any] | None, changes: Mapping[str, Any]
) -> Row:
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


def audit(actor: str, action: str, ref: str, at: datetime, detail: Mapping[str, Any]) -> Row:
    return audit_row(AuditRecord(actor=actor, action=action, subject=f"participant:{ref}", at=at, detail=detail))


def notification_audit(row: Mapping[Any, Any], ref: str, action: str, at: datetime) -> Row:
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
