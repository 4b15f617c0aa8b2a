"""What the engine asks the world to do, as plain data. The engine never sends, stores or waits itself.

The conversation loop renders `Send` effects into text (gettext for `Phrase`, babel for numbers), writes
every effect of a step in one transaction, and only then hands the messages to a channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

ParamValue = str | int | float


@dataclass(frozen=True)
class Phrase:
    """A fixed sentence of the bot, looked up in the gettext catalog of the participant's language."""

    msgid: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Literal:
    """Text from a flow file, already in the participant's language; `{score.X}`/`{band.X}` filled from params."""

    text: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True)
class CrisisContacts:
    """The deployment's crisis contacts for this risk level, from configuration, in the person's language."""

    level: str


@dataclass(frozen=True)
class CoachHours:
    """When coaches read messages (the deployment's office hours), and whether that is now: filled in by the shell."""


Part = Phrase | Literal | CrisisContacts | CoachHours


@dataclass(frozen=True)
class PromptChoice:
    answer: str  # what the person may send (the digit), also a Telegram button's callback value
    label: Part


@dataclass(frozen=True)
class Prompt:
    """Marks a message as a question, so channels can offer buttons and spot answers to old questions."""

    flow_id: str
    flow_version: int
    run_seq: int
    step_id: str
    choices: tuple[PromptChoice, ...] = ()
    list_choices: bool = True  # text channels list "0 = Aldrig" lines; False when the hint already says it


@dataclass(frozen=True)
class Send:
    parts: tuple[Part, ...]
    prompt: Prompt | None = None


@dataclass(frozen=True)
class RecordAnswer:
    run_seq: int
    flow_id: str
    flow_version: int
    item_id: str
    value: int | float | str
    raw_text: str


@dataclass(frozen=True)
class RetractAnswer:
    """The person went BACK past this answer: it is off their path and must not count or be exported."""

    run_seq: int
    item_id: str


@dataclass(frozen=True)
class RecordScore:
    run_seq: int
    flow_id: str
    flow_version: int
    score_id: str
    value: float
    band_id: str | None


class RunChange(StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    PAUSED = "paused"
    RESUMED = "resumed"
    EXPIRED = "expired"
    STOPPED = "stopped"
    ABANDONED = "abandoned"  # another flow was started over it
    FAILED = "failed"  # the step cap stopped a runaway flow
    SUSPENDED = "suspended"  # set aside for the safety check; it resumes afterwards
    REFUSED = "refused"  # a routine flow was not started: a safety check is running or a coach holds routine


@dataclass(frozen=True)
class RunEvent:
    change: RunChange
    run_seq: int
    flow_id: str
    flow_version: int


@dataclass(frozen=True)
class Escalate:
    """A risk signal: a human must follow up. Stored with the step; coaches are notified after the commit."""

    level: str
    kind: str  # "item" (a flow's risk rule), "text" (the word list) or "safety_check"
    trigger: Mapping[str, str | int | float]  # what fired it: the item and verbatim answer, or the matched phrase


@dataclass(frozen=True)
class ConsentGiven:
    version: str


@dataclass(frozen=True)
class LanguageChanged:
    lang: str


@dataclass(frozen=True)
class ScheduleTimer:
    key: str
    at: datetime


@dataclass(frozen=True)
class CancelTimer:
    key: str


DataValue = str | int | float


@dataclass(frozen=True)
class Plan:
    """Plan a bot-initiated event (a programme's schedule row); planning the same key again re-plans it
    unless it was already handled."""

    key: str
    kind: str
    due_at: datetime
    data: Mapping[str, DataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelPlans:
    """Withdraw the participant's pending events of these kinds (before this step's `Plan`s are applied)."""

    kinds: tuple[str, ...]


class Handling(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class DueHandled:
    """What became of the scheduled event this input was: sent, skipped (and why) or deferred (to when)."""

    handling: Handling
    reason: str = ""
    until: datetime | None = None


@dataclass(frozen=True)
class CoachTaskDue:
    """Something a coach should follow up that is not an emergency (no deadline escalation)."""

    kind: str
    detail: Mapping[str, DataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Milestone:
    """A programme milestone kept for coaches and reports: a module done, a wave answered or missed."""

    kind: str
    key: str
    detail: Mapping[str, DataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowHistory:
    """Show the person their TRE log. The engine keeps no history; the loop reads it and renders it with
    `flows.tre.summary`. `weekly`: the Sunday summary, sent only if something was logged that week."""

    flow_id: str
    weekly: bool = False


@dataclass(frozen=True)
class Heard:
    """What became of the person's message, kept with it in the inbox: an answer (to which item), a keyword, a risk
    signal, a message for a human, ... (several joined). `for_coach`: a coach must read it (flows/for_coach.py)."""

    outcome: str  # "answer", "keyword", "command", "risk", "for_coach", "not_understood", "consent", ...
    detail: Mapping[str, DataValue] = field(default_factory=dict)  # the flow, item or keyword; never the text
    for_coach: bool = False


Effect = (
    Send | RecordAnswer | RetractAnswer | RecordScore | RunEvent | LanguageChanged | ScheduleTimer | CancelTimer
    | Escalate | ConsentGiven | Plan | CancelPlans | DueHandled | CoachTaskDue | Milestone | ShowHistory | Heard
)
