"""What can happen to a conversation: the person writes, a flow is started, the person returns, a timer fires."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class StartFlow:
    flow_id: str


@dataclass(frozen=True)
class Resume:
    """The person opened the conversation again (e.g. a new console session): pick up where they left off."""


@dataclass(frozen=True)
class TimerFired:
    key: str


@dataclass(frozen=True)
class SetLanguage:
    """An administrator or enrolment sets the person's language; nothing is said until the next message."""

    lang: str


@dataclass(frozen=True)
class ReleaseHold:
    """A coach says routine questionnaires and reminders may start again after a high-risk escalation."""


@dataclass(frozen=True)
class CoachPause:
    """A coach pauses the person's programme (until `until`, or until resumed), stops it, or resumes it ("pause",
    "stop", "resume"), with a reason kept for the coaches. Only the programme's own reminders wait or are skipped:
    what the person writes is answered as ever, a crisis reply first. Nothing is said to the person."""

    action: str
    coach_id: str
    reason: str
    until: datetime | None = None


@dataclass(frozen=True)
class RequireConsent:
    """An enrolled participant must accept the programme's terms before anything is asked of them."""


@dataclass(frozen=True)
class Due:
    """A scheduled programme event has come due (claimed by the scheduler from the durable schedule)."""

    key: str
    kind: str
    due_at: datetime
    data: Mapping[str, str | int | float]
    reach: str = "ok"  # "unlinked": enrolled, not yet linked (Telegram); "unreachable": opted out or blocked


@dataclass(frozen=True)
class Command:
    """A programme button (FÆRDIG 3, TRE): taken as its keyword, never as an answer to the open question."""

    text: str


@dataclass(frozen=True)
class RemindersOn:
    """The person opted in again on a channel (SMS START): reminders stopped by STOP come back, silently."""


Input = (Text | StartFlow | Resume | TimerFired | SetLanguage | ReleaseHold | RequireConsent | Due | Command
         | RemindersOn | CoachPause)
