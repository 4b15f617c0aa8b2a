"""The report's participants, one at a time, each with what they did, from the stored rows of their chunk.

Which run belongs to which wave is the engine's record, not a guess from dates: a `wave_run` milestone names the
flow and run of each questionnaire answered in a wave, and `wave_done` / `wave_missed` how the wave ended.
Dates are local to the programme's time zone, so "week 1" is the week the participant lived.

The rows come a chunk of participants at a time (storage/sql/outcomes.py, `Records.read_outcomes`). Each
participant's `Person` is made from their own rows, counted by the figures' tallies (`build.py`) and dropped: what
the report keeps grows with the few numbers a participant adds to the figures, not with the rows read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import groupby
from operator import itemgetter
from typing import TypeVar

from bot.outcomes.spec import MEASURES, Measure, ReportSpec
from storage.report_rows import EscalationRow, EventRow, MarkRow, OutcomeRows, PersonRow, RunRow, ScoreRow


class WaveState(StrEnum):
    ANSWERED = "answered"  # every questionnaire of the wave (wave_done)
    PARTLY = "partly"  # closed as missed, but some of its questionnaires were answered
    MISSED = "missed"  # closed with nothing answered
    OPEN = "open"  # started, not yet answered or closed
    NOT_YET = "not_yet"  # not started: not yet due (or the participant stopped before it)


@dataclass(frozen=True)
class Filters:
    cohort: str | None = None
    start_from: date | None = None  # programme start dates from this day...
    start_to: date | None = None  # ...to this day, both included
    programme: str | None = None  # one of several programmes (its id; the rows are read for it alone); None: the only
    programme_title: str | None = None  # its name for people


Column = tuple[Measure, str]  # a measure at a wave


@dataclass
class Person:
    """One participant of the report: everything any figure needs to know about them."""

    start: date  # the programme's start date (local)
    waves: dict[str, WaveState] = field(default_factory=dict)  # a wave not in it: NOT_YET
    values: dict[Column, float] = field(default_factory=dict)  # (measure, wave) -> value
    modules_done: set[int] = field(default_factory=set)  # module numbers marked done
    tre_sessions: list[date] = field(default_factory=list)  # the day of each completed TRE log
    checkins_sent: list[datetime] = field(default_factory=list)  # oldest first
    checkins_done: list[datetime] = field(default_factory=list)
    escalations: list[EscalationRow] = field(default_factory=list)
    participant_id: int = 0  # for the arms' comparison (bot/outcomes/trial.py): their allocation and work status

    def state(self, wave: str) -> WaveState:
        return self.waves.get(wave, WaveState.NOT_YET)


def people(chunks: Iterable[OutcomeRows], spec: ReportSpec, filters: Filters) -> Iterator[Person]:
    """The report's participants in id order: those of each chunk whose start date passes the filters."""
    for chunk in chunks:
        yield from _people(chunk, spec, filters)


R = TypeVar("R", MarkRow, ScoreRow, RunRow, EventRow, EscalationRow)


def _by_participant(rows: Iterable[R]) -> dict[int, list[R]]:
    """Each participant's rows (whose id is first in every row), in their order; quickest when the rows come
    by participant, as storage/sql/outcomes.py reads them."""
    grouped: dict[int, list[R]] = {}
    for participant_id, own in groupby(rows, itemgetter(0)):
        grouped.setdefault(participant_id, []).extend(own)
    return grouped


def _people(chunk: OutcomeRows, spec: ReportSpec, filters: Filters) -> Iterator[Person]:
    zone = spec.zone
    marks, scores = _by_participant(chunk.marks), _by_participant(chunk.scores)
    runs, events, escalations = (_by_participant(chunk.runs), _by_participant(chunk.events),
                                 _by_participant(chunk.escalations))
    for row in chunk.people:
        pid = row.participant_id
        own_marks = marks.get(pid, [])
        start = _start(row, own_marks, spec)
        if filters.start_from is not None and start < filters.start_from:
            continue
        if filters.start_to is not None and start > filters.start_to:
            continue
        person = Person(start, escalations=escalations.get(pid, []), participant_id=pid)
        _milestones(person, own_marks, scores.get(pid, []))
        for run in runs.get(pid, ()):
            if run.flow_id == spec.tre_flow:
                person.tre_sessions.append(run.completed_at.astimezone(zone).date())
            if run.flow_id == spec.checkin_flow:
                person.checkins_done.append(run.completed_at)
        person.checkins_sent.extend(e.sent_at for e in events.get(pid, ()) if e.kind == spec.checkin_kind)
        yield person


def _start(row: PersonRow, marks: Sequence[MarkRow], spec: ReportSpec) -> date:
    """The profile's start date. Without a profile (e.g. the anonymous holder of an erased person's kept
    scores), the day the baseline wave opened tells it; failing that, the programme started on the day of
    enrolment."""
    if row.start_date is not None:
        return row.start_date
    baseline = spec.wave(spec.baseline)
    if baseline is not None:
        for mark in marks:  # the first to be stored
            if mark.kind == "wave_started" and mark.key == baseline.id:
                return mark.at.astimezone(spec.zone).date() - timedelta(days=baseline.day)
    return row.enrolled_at.astimezone(spec.zone).date()


_WANTED = {(m.flow_id, m.score_id): m for m in MEASURES}


def _milestones(person: Person, marks: Sequence[MarkRow], scores: Sequence[ScoreRow]) -> None:
    """How each wave went, the scores of the runs answered in it, and the modules marked done."""
    started: set[str] = set()
    answered_some: set[str] = set()
    ended: dict[str, WaveState] = {}
    runs: dict[tuple[int, str], str] = {}  # (run seq, flow id) -> wave
    for mark in marks:
        if mark.kind == "wave_started":
            started.add(mark.key)
        elif mark.kind == "wave_run":
            answered_some.add(mark.key)
            runs[(int(mark.detail.get("run_seq", -1)), str(mark.detail.get("flow_id", "")))] = mark.key
        elif mark.kind == "wave_done":
            ended[mark.key] = WaveState.ANSWERED
        elif mark.kind == "wave_missed":
            ended.setdefault(mark.key, WaveState.MISSED)
        elif mark.kind == "module_done" and mark.key.isdigit():
            person.modules_done.add(int(mark.key))
    person.waves.update(dict.fromkeys(started, WaveState.OPEN))
    for wave, state in ended.items():
        person.waves[wave] = WaveState.PARTLY if state is WaveState.MISSED and wave in answered_some else state
    for score in scores:
        measure = _WANTED.get((score.flow_id, score.score_id))
        in_wave = runs.get((score.run_seq, score.flow_id))
        if measure is not None and in_wave is not None:
            person.values[(measure, in_wave)] = score.value
