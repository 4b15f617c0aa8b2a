"""Everything in and out for one person, newest first: the timeline of the desk's person page.

Read in one snapshot by the storage (storage/ports.py `PersonHistory.person_history`, each part bounded to the
person and a limit) and put together here: messages out with what became of them, messages in with what the bot
made of them, questionnaires answered (one entry per run with its answers and scores, so 160 answers read as a few
dozen lines), check-ins, TRE sessions, escalations with their triggers, notes, tasks and the programme's
milestones. The template words each kind in the coach's language; nothing here is translated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.channels.base import as_plain_text
from bot.escalation import trigger_quotes
from bot.overview import NOTE_KIND
from storage.person_records import PersonHistoryRows, ReceivedMessage, SentMessage
from storage.records import CoachTask, Escalation, Mark, ScoreRecord

PER_SOURCE = 480  # the newest this many messages each way are read; the page shows the newest `limit` of it all
ANSWERS = 400  # a run's answers come together: enough for the newest runs however long the questionnaires
EXCERPT = 400  # characters of a long message shown (the whole text is a click away in the messages view)


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. `kind` says how the template words it; `status` is a delivery or task state."""

    at: datetime
    kind: str  # out, in, run, checkin, tre, escalation, note, task, mark
    text: str = ""
    status: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def timeline(history: PersonHistoryRows, limit: int, tre_flow: str, checkin_flow: str | None) -> list[Entry]:
    """The newest `limit` entries of the person's history (read in one snapshot by the page)."""
    entries: list[Entry] = []
    entries += [_sent(m) for m in history.sent]
    entries += [_received(m) for m in history.received]
    entries += _runs(history.answers, history.scores, tre_flow, checkin_flow)
    entries += [_escalation(e) for e in history.escalations]
    entries += [_mark(m) for m in history.marks if m.kind != "wave_run"]  # a wave's run is its questionnaire's entry
    for task in history.tasks:
        entries += _task(task)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def delivery(message: SentMessage) -> str:
    """Where an outbox message is: given_up, failed, delivered, sent, deferred or waiting."""
    if message.given_up_at is not None:
        return "given_up"
    if message.delivery_status in ("failed", "undelivered"):
        return "failed"
    if message.delivery_status in ("delivered", "read"):
        return "delivered"
    if message.sent_at is not None:
        return "sent"
    return "deferred" if message.not_before is not None else "waiting"


def _sent(message: SentMessage) -> Entry:
    return Entry(message.row.created_at, "out", _excerpt(as_plain_text(message.row.payload)), delivery(message),
                 {"channel": message.row.channel, "reason": message.delivery_detail or "",
                  "urgent": message.row.priority == 0, "sent_at": message.sent_at})


def _received(message: ReceivedMessage) -> Entry:
    status = "read" if message.read_at else "unread" if message.for_coach else ""
    outcome = (message.outcome or "").split("+")
    return Entry(message.received_at, "in", _excerpt(message.body), status,
                 {"channel": message.channel, "outcome": outcome, "read_by": message.read_by or "",
                  "risk": "risk" in outcome})


def _runs(answers: list[dict[str, Any]], scores: list[ScoreRecord], tre_flow: str,
          checkin_flow: str | None) -> list[Entry]:
    """One entry per questionnaire run: its answers and scores together, at its last answer or score."""
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for answer in answers:
        run = runs.setdefault((answer["flow_id"], int(answer["run_seq"])), {"answers": {}, "scores": {}, "at": []})
        run["answers"].setdefault(answer["item_id"], answer["value"])  # newest first: the answer that counts
        run["at"].append(datetime.fromisoformat(answer["answered_at"]))
    for score in scores:  # every score: a run older than the answers read shows its scores alone
        run = runs.setdefault((score.flow_id, score.run_seq), {"answers": {}, "scores": {}, "at": []})
        run["scores"][score.score_id] = (score.value, score.band)
        run["at"].append(score.completed_at)
    entries = []
    for (flow_id, run_seq), run in runs.items():
        kind = "tre" if flow_id == tre_flow else "checkin" if flow_id == checkin_flow else "run"
        detail = {"flow_id": flow_id, "run_seq": run_seq, "answers": run["answers"], "scores": run["scores"],
                  "complete": bool(run["scores"])}
        entries.append(Entry(max(run["at"]), kind, detail=detail))
    return entries


def _escalation(e: Escalation) -> Entry:
    return Entry(e.opened_at, "escalation", "", e.status.value,
                 {"quotes": trigger_quotes(e), "id": e.id, "level": e.level, "tier": e.tier,
                  "triggers": [t.trigger_kind for t in e.triggers],
                  "acknowledged_by": e.acknowledged_by or "", "acknowledged_at": e.acknowledged_at,
                  "closed_by": e.closed_by or "", "closed_at": e.closed_at, "outcome": e.outcome_note or ""})


def _mark(mark: Mark) -> Entry:
    if mark.kind == NOTE_KIND:
        return Entry(mark.at, "note", str(mark.detail.get("text", "")), detail={"coach": mark.key})
    return Entry(mark.at, "mark", str(mark.detail.get("reason", "")), mark.kind,
                 {"key": mark.key, "until": mark.detail.get("until", "")})


def _task(task: CoachTask) -> list[Entry]:
    entries = [Entry(task.created_at, "task", status="open" if task.done_at is None else "done",
                     detail={"id": task.id, "kind": task.kind, "due_at": task.due_at})]
    if task.done_at is not None:
        entries.append(Entry(task.done_at, "task", status="done_now",
                             detail={"id": task.id, "kind": task.kind, "done_by": task.done_by or ""}))
    return entries


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"
