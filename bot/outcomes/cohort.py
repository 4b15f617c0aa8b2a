"""The report's participants and what each of them did, indexed from the stored rows.

Which run belongs to which wave is the engine's record, not a guess from dates: a `wave_run` milestone names the
flow and run of each questionnaire answered in a wave, and `wave_done` / `wave_missed` how the wave ended.
Dates are local to the programme's time zone, so "week 1" is the week the participant lived.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.outcomes.spec import MEASURES, Measure, ReportSpec
from storage.report_rows import EscalationRow, OutcomeRows


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


@dataclass
class Cohort:
    today: date
    starts: dict[int, date]  # participant id -> programme start date (local), for the report's participants
    waves: dict[str, dict[int, WaveState]] = field(default_factory=dict)  # wave -> participant -> state
    values: dict[Measure, dict[str, dict[int, float]]] = field(default_factory=dict)  # measure -> wave -> pid -> value
    modules_done: dict[int, dict[int, date]] = field(default_factory=dict)  # pid -> module number -> day marked
    tre_sessions: dict[int, list[date]] = field(default_factory=dict)  # pid -> day of each completed TRE log
    checkins_sent: dict[int, list[datetime]] = field(default_factory=dict)
    checkins_done: dict[int, list[datetime]] = field(default_factory=dict)
    escalations: list[EscalationRow] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.starts)

    def state(self, wave: str, participant_id: int) -> WaveState:
        return self.waves.get(wave, {}).get(participant_id, WaveState.NOT_YET)

    def value(self, measure: Measure, wave: str) -> dict[int, float]:
        return self.values.get(measure, {}).get(wave, {})


def collect(rows: OutcomeRows, spec: ReportSpec, now: datetime, filters: Filters) -> Cohort:
    zone = spec.zone
    baseline = spec.wave(spec.baseline)
    opened = {m.participant_id: m.at.astimezone(zone).date() - timedelta(days=baseline.day)
              for m in reversed(rows.marks) if baseline and m.kind == "wave_started" and m.key == baseline.id}
    starts: dict[int, date] = {}
    for person in rows.people:
        # Without a profile (e.g. the anonymous holder of an erased person's kept scores), the baseline's opening
        # tells the start; failing that, the programme started on the day of enrolment.
        start = person.start_date or opened.get(person.participant_id) or person.enrolled_at.astimezone(zone).date()
        if filters.start_from is not None and start < filters.start_from:
            continue
        if filters.start_to is not None and start > filters.start_to:
            continue
        starts[person.participant_id] = start
    cohort = Cohort(today=now.astimezone(zone).date(), starts=starts)
    _milestones(cohort, rows, spec)
    for run in rows.runs:
        if run.participant_id not in starts:
            continue
        if run.flow_id == spec.tre_flow:
            cohort.tre_sessions.setdefault(run.participant_id, []).append(run.completed_at.astimezone(zone).date())
        if run.flow_id == spec.checkin_flow:
            cohort.checkins_done.setdefault(run.participant_id, []).append(run.completed_at)
    for event in rows.events:
        if event.participant_id in starts and event.kind == spec.checkin_kind:
            cohort.checkins_sent.setdefault(event.participant_id, []).append(event.sent_at)
    cohort.escalations = [e for e in rows.escalations if e.participant_id in starts]
    return cohort


def _milestones(cohort: Cohort, rows: OutcomeRows, spec: ReportSpec) -> None:
    starts, zone = cohort.starts, spec.zone
    started: dict[str, set[int]] = defaultdict(set)
    answered_some: dict[str, set[int]] = defaultdict(set)
    ended: dict[str, dict[int, WaveState]] = defaultdict(dict)
    runs: dict[tuple[int, int, str], str] = {}  # (pid, run seq, flow id) -> wave
    for mark in rows.marks:
        pid = mark.participant_id
        if pid not in starts:
            continue
        if mark.kind == "wave_started":
            started[mark.key].add(pid)
        elif mark.kind == "wave_run":
            answered_some[mark.key].add(pid)
            runs[(pid, int(mark.detail.get("run_seq", -1)), str(mark.detail.get("flow_id", "")))] = mark.key
        elif mark.kind == "wave_done":
            ended[mark.key][pid] = WaveState.ANSWERED
        elif mark.kind == "wave_missed":
            ended[mark.key].setdefault(pid, WaveState.MISSED)
        elif mark.kind == "module_done" and mark.key.isdigit():
            cohort.modules_done.setdefault(pid, {}).setdefault(int(mark.key), mark.at.astimezone(zone).date())
    for wave in {*started, *ended, *(w.id for w in spec.waves)}:
        states: dict[int, WaveState] = {pid: WaveState.OPEN for pid in started.get(wave, ())}
        for pid, state in ended.get(wave, {}).items():
            partly = state is WaveState.MISSED and pid in answered_some.get(wave, ())
            states[pid] = WaveState.PARTLY if partly else state
        cohort.waves[wave] = states
    wanted = {(m.flow_id, m.score_id): m for m in MEASURES}
    for score in rows.scores:
        measure = wanted.get((score.flow_id, score.score_id))
        in_wave = runs.get((score.participant_id, score.run_seq, score.flow_id))
        if measure is not None and in_wave is not None:
            cohort.values.setdefault(measure, {}).setdefault(in_wave, {})[score.participant_id] = score.value
