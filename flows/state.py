"""Conversation state: a small immutable value that round-trips through JSON between inputs.

The JSON carries its format number (`STATE_FORMAT`); a stored state is brought up to the current format by
`STATE_MIGRATIONS` before it is read, and one newer than this code knows is refused (`StateFormatError`;
flows/formats.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flows.formats import FormatError, migrate

STATE_FORMAT = 2


def _terms_shown(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 -> 2: `consent_shown` (the terms version whose text was sent) is new. A state waiting for terms is
    taken to have been shown them, as format 1 assumed, so nobody mid-consent is shown the terms twice."""
    return {**data, "consent_shown": data.get("consent_needed")}


R = TypeVar("R")
_FIELDS: dict[type, frozenset[str]] = {}


def evolve(record: R, **changes: Any) -> R:
    """`dataclasses.replace` for the state's records (`State`, `Run`, `Progress`: frozen, no `__post_init__`, no
    cached properties): the instance's fields copied and `changes` set, instead of `__init__` called with every field.
    The engine makes about five such copies per message; this costs a fifth of `replace`. An unknown field is
    refused as `replace` refuses it."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    if not names.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(set(changes) - names))}")
    copy = object.__new__(cls)
    copy.__dict__.update(record.__dict__, **changes)
    return copy


# STATE_MIGRATIONS[n] turns a stored state of format n into format n + 1
STATE_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _terms_shown}
OFFER_LAPSES = timedelta(days=1)  # an unanswered offer of the safety check no longer blocks anything after this


@dataclass(frozen=True)
class Answer:
    value: int | float | str
    raw: str


@dataclass(frozen=True)
class Run:
    """One pass through one version of one flow."""

    seq: int  # per participant: the n-th run they started
    flow_id: str
    flow_version: int
    step_id: str  # the question waiting for an answer
    started_at: datetime
    answers: Mapping[str, Answer] = field(default_factory=dict)
    trail: tuple[str, ...] = ()  # questions answered, in order: what BACK walks back through
    invalid_streak: int = 0
    paused: bool = False
    risk_level: str | None = None  # the highest risk level this run has signalled
    tasks: tuple[str, ...] = ()  # the coach tasks this run has raised (each at most once)
    last_at: datetime | None = None  # the last answer: a run answered a minute ago is being answered

    @property
    def active_at(self) -> datetime:
        return self.last_at or self.started_at

    def answered(self, step_id: str, answer: Answer) -> Run:
        return evolve(self, answers={**self.answers, step_id: answer}, trail=(*self.trail, step_id),
                       invalid_streak=0)

    @property
    def timer_key(self) -> str:
        return f"expire:{self.seq}"


COACH_PAUSE = "pause"  # a coach paused the person's programme (`Progress.coach_hold`)
COACH_STOP = "stop"  # a coach stopped it: every reminder is skipped until a coach resumes it


@dataclass(frozen=True)
class Progress:
    """Where the participant is in the programme: what the scheduler's events are decided on."""

    start: str | None = None  # the start date (ISO), learnt from the first scheduled event
    released: tuple[int, ...] = ()  # modules announced so far
    modules_done: tuple[int, ...] = ()
    paused_until: datetime | None = None  # PAUSE <days>: no reminders before this
    stopped: bool = False  # STOP outside a questionnaire: no reminders until START
    exercise_days: tuple[int, ...] | None = None  # weekdays (0 = Monday); None: the programme's default
    exercise_time: str | None = None  # "HH:MM" local; None: the programme's default
    wave: str | None = None  # the measurement wave open now
    wave_flows: tuple[str, ...] = ()  # its questionnaires still to answer, the current one first
    wave_scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # wave -> "flow.score" -> value
    waves_done: tuple[str, ...] = ()
    waves_missed: tuple[str, ...] = ()
    exercise_day: str | None = None  # the local day (ISO) of the last exercise reminder handled
    last_checkin: float | None = None  # the well-being answer of the last weekly check-in
    sent_day: str | None = None  # the local day (ISO) `sent_count` counts bot-initiated messages for
    sent_count: int = 0
    coach_hold: str | None = None  # COACH_PAUSE or COACH_STOP, set by a coach (the desk); only a coach lifts it
    coach_until: datetime | None = None  # a coach's pause ends then (None: until resumed); once resumed, when
    appointment: str | None = None  # the appointment last reminded of, whose OK or MOVE is awaited (flows/appointments)
    appointment_starts: datetime | None = None  # ...until it begins
    appointment_when: str | None = None  # ...its time as the reminder wrote it

    def coach_paused(self, now: datetime) -> bool:
        """A coach's pause is on: modules and measurements wait for it to end, other reminders are skipped."""
        return self.coach_hold == COACH_PAUSE and (self.coach_until is None or now < self.coach_until)

    def pause_end(self, now: datetime) -> datetime | None:
        """The latest moment a pause (the person's or a coach's) held reminders back until: lateness counts from
        there, so a module that waited out a pause is not thrown away as too late."""
        ends = [t for t in (self.paused_until, self.coach_until) if t is not None]
        if self.coach_hold == COACH_PAUSE and self.coach_until is None:
            ends.append(now)
        return max(ends, default=None)

    def to_json(self) -> dict[str, Any]:
        awaited = {} if self.appointment is None else {  # only when one is awaited: older states read the same
            "appointment": self.appointment, "appointment_when": self.appointment_when,
            "appointment_starts": None if self.appointment_starts is None else self.appointment_starts.isoformat()}
        return {**awaited,
            "start": self.start, "released": list(self.released), "modules_done": list(self.modules_done),
            "paused_until": None if self.paused_until is None else self.paused_until.isoformat(),
            "stopped": self.stopped,
            "exercise_days": None if self.exercise_days is None else list(self.exercise_days),
            "exercise_time": self.exercise_time, "wave": self.wave, "wave_flows": list(self.wave_flows),
            "wave_scores": {k: dict(v) for k, v in self.wave_scores.items()}, "waves_done": list(self.waves_done),
            "waves_missed": list(self.waves_missed), "exercise_day": self.exercise_day,
            "last_checkin": self.last_checkin, "sent_day": self.sent_day, "sent_count": self.sent_count,
            "coach_hold": self.coach_hold,
            "coach_until": None if self.coach_until is None else self.coach_until.isoformat(),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Progress:
        days = raw.get("exercise_days")
        return cls(
            start=raw.get("start"), released=tuple(raw.get("released", ())),
            modules_done=tuple(raw.get("modules_done", ())),
            paused_until=datetime.fromisoformat(raw["paused_until"]) if raw.get("paused_until") else None,
            stopped=bool(raw.get("stopped", False)), exercise_days=None if days is None else tuple(days),
            exercise_time=raw.get("exercise_time"), wave=raw.get("wave"), wave_flows=tuple(raw.get("wave_flows", ())),
            wave_scores={k: {s: float(x) for s, x in v.items()} for k, v in raw.get("wave_scores", {}).items()},
            waves_done=tuple(raw.get("waves_done", ())), waves_missed=tuple(raw.get("waves_missed", ())),
            exercise_day=raw.get("exercise_day"), last_checkin=raw.get("last_checkin"),
            sent_day=raw.get("sent_day"), sent_count=int(raw.get("sent_count", 0)),
            coach_hold=raw.get("coach_hold"),
            coach_until=datetime.fromisoformat(raw["coach_until"]) if raw.get("coach_until") else None,
            appointment=raw.get("appointment"), appointment_when=raw.get("appointment_when"),
            appointment_starts=datetime.fromisoformat(raw["appointment_starts"]) if raw.get("appointment_starts")
            else None)


@dataclass(frozen=True)
class State:
    lang: str = "da"
    run: Run | None = None
    runs_started: int = 0
    suspended: Run | None = None  # the questionnaire set aside while the safety check is offered or runs
    offered_at: datetime | None = None  # when the safety check was offered; the next message answers it
    offer_repeats: int = 0  # how often the offer was repeated because the answer was unclear
    hold: bool = False  # a high-risk signal: no routine flows until a coach releases the hold
    expired_unseen: bool = False  # a run expired while the person was away; tell them when they write
    consent_needed: str | None = None  # the terms version to accept before anything is asked
    consent_given: str | None = None  # the terms version accepted
    consent_shown: str | None = None  # the terms version whose text was sent: only then is a "ja" an answer to it
    pending_flow: str | None = None  # the flow to start once consent is given
    progress: Progress = field(default_factory=Progress)
    resume_offered: int | None = None  # the paused run whose "go on now?" was asked: the next yes/no answers it
    crisis_shown_at: datetime | None = None  # when the full crisis block was last sent (then a pointer, for an hour)
    crisis_level: str | None = None  # the level it was sent for: a higher one gets the full block again

    @property
    def offering_check(self) -> bool:
        return self.offered_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "lang": self.lang,
            "runs_started": self.runs_started,
            "run": _run_to_json(self.run),
            "suspended": _run_to_json(self.suspended),
            "offered_at": None if self.offered_at is None else self.offered_at.isoformat(),
            "offer_repeats": self.offer_repeats,
            "hold": self.hold,
            "expired_unseen": self.expired_unseen,
            "consent_needed": self.consent_needed,
            "consent_given": self.consent_given,
            "consent_shown": self.consent_shown,
            "pending_flow": self.pending_flow,
            "progress": self.progress.to_json(),
            "resume_offered": self.resume_offered,
            "crisis_shown_at": None if self.crisis_shown_at is None else self.crisis_shown_at.isoformat(),
            "crisis_level": self.crisis_level,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> State:
        """A stored state, brought up to the current format first; `StateFormatError` for one this code cannot read."""
        data = migrate_state(stored)
        return cls(lang=str(data.get("lang", "da")), run=_run_from_json(data.get("run")),
                   runs_started=int(data.get("runs_started", 0)), suspended=_run_from_json(data.get("suspended")),
                   offered_at=datetime.fromisoformat(data["offered_at"]) if data.get("offered_at") else None,
                   offer_repeats=int(data.get("offer_repeats", 0)), hold=bool(data.get("hold", False)),
                   expired_unseen=bool(data.get("expired_unseen", False)),
                   consent_needed=data.get("consent_needed"), pending_flow=data.get("pending_flow"),
                   consent_given=data.get("consent_given"), consent_shown=data.get("consent_shown"),
                   progress=Progress.from_json(data.get("progress") or {}),
                   resume_offered=data.get("resume_offered"),
                   crisis_shown_at=datetime.fromisoformat(data["crisis_shown_at"]) if data.get("crisis_shown_at")
                   else None,
                   crisis_level=data.get("crisis_level"))


class StateFormatError(FormatError):
    """A stored state in a format this code cannot read (written by a newer version of the bot)."""


def migrate_state(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The stored state's JSON in the current format. Every state the bot ever stored carries its format; one without
    it is taken as format 1, the first."""
    try:
        data = migrate(dict(stored), stored.get("format", 1), STATE_FORMAT, STATE_MIGRATIONS, "the stored state")
    except FormatError as exc:
        raise StateFormatError(str(exc)) from None
    return {**data, "format": STATE_FORMAT}


def _run_to_json(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "seq": run.seq,
        "flow_id": run.flow_id,
        "flow_version": run.flow_version,
        "step_id": run.step_id,
        "started_at": run.started_at.isoformat(),
        "answers": {k: [a.value, a.raw] for k, a in run.answers.items()},
        "trail": list(run.trail),
        "invalid_streak": run.invalid_streak,
        "paused": run.paused,
        "risk_level": run.risk_level,
        "tasks": list(run.tasks),
        "last_at": None if run.last_at is None else run.last_at.isoformat(),
    }


def _run_from_json(raw: Mapping[str, Any] | None) -> Run | None:
    if raw is None:
        return None
    return Run(
        seq=int(raw["seq"]),
        flow_id=str(raw["flow_id"]),
        flow_version=int(raw["flow_version"]),
        step_id=str(raw["step_id"]),
        started_at=datetime.fromisoformat(raw["started_at"]),
        answers={k: Answer(v[0], str(v[1])) for k, v in raw["answers"].items()},
        trail=tuple(raw["trail"]),
        invalid_streak=int(raw["invalid_streak"]),
        paused=bool(raw["paused"]),
        risk_level=raw.get("risk_level"),
        tasks=tuple(raw.get("tasks", ())),
        last_at=datetime.fromisoformat(raw["last_at"]) if raw.get("last_at") else None,
    )
