"""What a step's effects become in its record: the pieces `ConversationLoop._record` (bot/conversation.py) builds the
`StepRecord` from. Pure functions of the engine's effects and the step's inputs; no storage, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

from bot import timers
from flows import phrases
from flows.effects import CrisisContacts, DueHandled, Effect, Handling, Heard, Phrase, Send
from flows.inputs import Command, Input, RemindersOn, Resume, Text, TimerFired
from storage.records import HeardRecord, Priority, ScheduleOutcome, ScheduleStatus

E = TypeVar("E", bound=Effect)
SAFETY_POINTER = Phrase(phrases.SAFETY_POINTER)
# Inputs that are a participant writing or pressing something: the replies go before scheduled and bulk messages.
PARTICIPANT_INPUTS = (Text, Command, Resume, RemindersOn)
_STATUS = {Handling.SENT: ScheduleStatus.SENT, Handling.SKIPPED: ScheduleStatus.SKIPPED,
           Handling.DEFERRED: ScheduleStatus.PENDING}


class ByKind:
    """A step's effects sorted by kind once: the record asks for about twenty kinds, each a scan of every effect
    before. Effect classes are final (flows/effects.py), so a kind is the exact type."""

    def __init__(self, effects: Iterable[Effect]) -> None:
        self.effects = tuple(effects)
        self._kinds: dict[type, list[Effect]] = {}
        for effect in self.effects:
            self._kinds.setdefault(type(effect), []).append(effect)

    def __call__(self, kind: type[E]) -> list[E]:
        return cast("list[E]", self._kinds.get(kind, []))


def schedule_outcome(schedule_id: int, of: ByKind, inp: Input) -> ScheduleOutcome:
    """What becomes of the schedule row: exactly one `DueHandled` is expected; none is a bug, recorded. A fired timer
    gets none (the engine's effects for it are unchanged): what it did decides (bot/timers.py)."""
    handled = of(DueHandled)
    if not handled and isinstance(inp, TimerFired):
        return timers.outcome(schedule_id, of.effects)
    if not handled:
        return ScheduleOutcome(schedule_id, ScheduleStatus.SKIPPED, "not handled by the engine")
    last = handled[-1]
    return ScheduleOutcome(schedule_id, _STATUS[last.handling], last.reason[:200], last.until)


def priority(send: Send, inputs: tuple[Input, ...]) -> Priority:
    """Crisis contacts before everything; then the reply to what the person just wrote; then the rest (a scheduled
    `Due`, a timer, a flow started by a coach or enrolment): bot/dispatcher.py sends in this order."""
    if any(isinstance(part, CrisisContacts) or part == SAFETY_POINTER for part in send.parts):
        return Priority.URGENT
    return Priority.REPLY if any(isinstance(inp, PARTICIPANT_INPUTS) for inp in inputs) else Priority.ROUTINE


def safety_first(send: Send, payload: dict[str, Any]) -> dict[str, Any]:
    """Crisis contacts, and the line pointing back to them, reach the person even on an address that has opted out
    of routine messages."""
    if any(isinstance(part, CrisisContacts) or part == SAFETY_POINTER for part in send.parts):
        payload["even_if_opted_out"] = True
    return payload


def heard(inputs: tuple[Input, ...], of: ByKind) -> HeardRecord:
    """What the inbound message said and what became of it, from the engine's `Heard` effects (several joined); an
    input without text (a /start, SMS START) is named by its kind."""
    said = of(Heard)
    body = next((inp.text for inp in inputs if isinstance(inp, Text | Command)), None)
    outcome = "+".join(dict.fromkeys(h.outcome for h in said)) or type(inputs[-1]).__name__.lower()
    detail: dict[str, Any] = {}
    for h in said:
        detail.update(h.detail)
    return HeardRecord(body, outcome[:100], detail, any(h.for_coach for h in said))
