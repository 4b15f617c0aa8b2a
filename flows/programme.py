"""The programme model: what the bot says and asks over a participant's 12 weeks and after, as data.

Built by `flows.programme_loader` from the administrators' programme files (`flows/programmes/*.yaml`, one file a
programme; a deployment may run several, each participant in the one chosen at enrolment). Every moment in it is
relative to the participant's start date and written in local wall-clock time; `flows.timing` turns those
into UTC instants outside quiet hours. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta

from flows.group_sessions import GroupSession
from flows.localtext import LocalText

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()


class Kind:
    """The kinds of scheduled event (schedule rows' `kind`)."""

    MODULE = "module"  # a module is released: its title, link and what to do
    NUDGE = "nudge"  # the module is still not marked done some days later
    EXERCISE = "exercise"  # the week's exercises and TRE, at the participant's chosen days and time
    WAVE_OPEN = "wave_open"  # a measurement wave starts: its questionnaires are asked
    WAVE_REMIND = "wave_remind"  # the wave is still not answered
    WAVE_CLOSE = "wave_close"  # the wave closes: answered, or recorded as missed
    CHECKIN = "checkin"  # the weekly check-in
    TRE_SUMMARY = "tre_summary"  # the weekly TRE summary, if anything was logged that week
    APPOINTMENT = "appointment"  # a booked talk or group session: a reminder (flows/appointments.py)
    PHASE = "phase"  # a phase of the programme begins (seed 001: the group course, the individual coaching)


ALL_KINDS = (Kind.MODULE, Kind.NUDGE, Kind.EXERCISE, Kind.WAVE_OPEN, Kind.WAVE_REMIND, Kind.WAVE_CLOSE,
             Kind.CHECKIN, Kind.TRE_SUMMARY, Kind.PHASE)
# Events due at the same moment are handled in this order: messages first, then what starts a questionnaire,
# so the questionnaire's question is the last message (and keeps its buttons).
KIND_ORDER = {kind: i for i, kind in enumerate((Kind.WAVE_CLOSE, Kind.APPOINTMENT, Kind.PHASE, Kind.MODULE,
                                                 Kind.NUDGE, Kind.EXERCISE, Kind.TRE_SUMMARY, Kind.WAVE_OPEN,
                                                 Kind.WAVE_REMIND, Kind.CHECKIN))}


@dataclass(frozen=True)
class Module:
    number: int
    day: int  # days after the start date
    title: LocalText
    link: str
    reminder: LocalText  # may use {number}, {title} and {link}
    line: int = 0


@dataclass(frozen=True)
class Phase:
    """A part of the programme that begins on a day (seed 001: screening and intro, the group course, the individual
    coaching): what the participant is told then. Unlike a module, nothing is marked done."""

    id: str
    day: int
    text: LocalText
    line: int = 0


@dataclass(frozen=True)
class Wave:
    """A measurement: its questionnaires asked one after another, reminded, then closed (answered or missed)."""

    id: str
    day: int
    flows: tuple[str, ...]
    intro: LocalText
    reminder: LocalText
    reminders: int  # how many reminders before it closes
    remind_every_days: int
    close_after_days: int
    line: int = 0


@dataclass(frozen=True)
class Evaluation:
    """Seed 002's week-4 evaluation: the wave's score against baseline, as coach tasks."""

    wave: str
    baseline: str
    flow: str
    score: str
    worse_by: float  # this much higher than baseline (or more): "consider referral"
    entry_cutoff: float  # below this and lower than baseline: "consider ending"
    tell_worse: LocalText | None = None  # what the participant is told, if anything
    tell_improving: LocalText | None = None
    line: int = 0


@dataclass(frozen=True)
class EntryCriterion:
    """Seed 001's entry criterion (PSS-10 of 17 or more at screening): a lower score makes a coach task, never an
    exclusion by the bot. The coach and the person decide whether the programme fits."""

    wave: str
    flow: str
    score: str
    at_least: float
    line: int = 0


@dataclass(frozen=True)
class Exercises:
    """Exercise reminders at the participant's own days and time, asked by `plan_flow` and changeable."""

    plan_flow: str
    days_item: str
    time_item: str
    day_options: Mapping[int, tuple[int, ...]]  # the plan flow's choice value -> weekdays (0 = Monday)
    time_options: Mapping[int, time]  # the plan flow's choice value -> local time
    default_days: tuple[int, ...]
    default_time: time
    text: LocalText  # may use {number} and {title} of the current module
    line: int = 0


@dataclass(frozen=True)
class Checkin:
    flow: str
    first_day: int
    every_days: int
    item: str  # the well-being answer compared with the last check-in
    fall_alert: float  # a fall of this many points or more makes a coach task
    line: int = 0


@dataclass(frozen=True)
class TreSummary:
    flow: str
    weekday: int
    at: time
    line: int = 0


@dataclass(frozen=True)
class Programme:
    id: str
    version: int
    languages: tuple[str, ...]
    timezone: str
    weeks: int  # the programme's length; recurring reminders stop after it
    send_time: time  # when module releases, waves and check-ins go out (local)
    quiet_start: time
    quiet_end: time
    dst_gap: tuple[time, time]  # no reminders in this local window (clocks change inside it)
    max_per_day: int  # bot-initiated messages a day, at most
    nudge_after_days: int  # 0: no nudges
    modules: tuple[Module, ...]
    waves: tuple[Wave, ...]
    exercises: Exercises | None = None
    checkin: Checkin | None = None
    tre_summary: TreSummary | None = None
    evaluation: Evaluation | None = None
    late: Mapping[str, timedelta] = field(default_factory=dict)  # how late each kind may still be sent
    source_path: str = ""
    measurement_only: bool = False  # a control arm's view of it (flows/arms.py): the waves and nothing else
    phases: tuple[Phase, ...] = ()
    entry_criterion: EntryCriterion | None = None
    default: bool = False  # of several programmes in a deployment, the one an enrolment gets when it names none
    title: LocalText | None = None  # the programme's name for people (reports, previews); the id when not given
    group_sessions: tuple[GroupSession, ...] = ()  # a cohort's recurring sessions (flows/group_sessions.py)

    def module(self, number: int) -> Module | None:
        return next((m for m in self.modules if m.number == number), None)

    def wave(self, wave_id: str) -> Wave | None:
        return next((w for w in self.waves if w.id == wave_id), None)

    def phase(self, phase_id: str) -> Phase | None:
        return next((p for p in self.phases if p.id == phase_id), None)

    def name(self, lang: str) -> str:
        return self.title.get(lang) if self.title is not None else self.id

    def late_limit(self, kind: str) -> timedelta:
        return self.late.get(kind, timedelta(days=1))

    @property
    def days(self) -> int:
        return self.weeks * 7
