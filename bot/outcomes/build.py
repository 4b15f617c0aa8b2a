"""The whole report from the stored rows: every figure, computed once, for every format to write out.

The rows come a chunk of participants at a time; each participant is counted by the tallies (how the waves went,
the scores, adherence, escalations) and dropped, and the figures are computed from the tallies at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.outcomes.adherence import Adherence, Habits, adherence
from bot.outcomes.change import (
    Paired,
    SatisfactionChange,
    StressChange,
    WaveSummary,
    WellbeingChange,
    paired,
    satisfaction_change,
    stress_change,
    wave_summary,
    wellbeing_change,
)
from bot.outcomes.cohort import Filters, people
from bot.outcomes.participation import Participation, Waves, participation
from bot.outcomes.safety import Safety, safety
from bot.outcomes.scores import Scores
from bot.outcomes.spec import LIFE_SATISFACTION, MEASURES, PSS10, WHO5, Measure, ReportSpec
from bot.outcomes.trial import Trial, TrialTally
from bot.outcomes.work import work_flows, work_scores
from storage.report_rows import EscalationRow, OutcomeQuery, OutcomeRows


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    filters: Filters
    spec: ReportSpec
    participation: Participation
    by_wave: tuple[WaveSummary, ...]  # each measure at each wave that asks it
    stress: tuple[StressChange, ...]  # PSS-10, baseline to each later wave; the last is the headline
    wellbeing: tuple[WellbeingChange, ...]
    satisfaction: tuple[SatisfactionChange, ...]
    adherence: Adherence
    safety: Safety
    trial: Trial | None = None  # the arms and the return to work (bot/outcomes/trial.py)

    @property
    def comparisons(self) -> tuple[Paired, ...]:
        """Every comparison with baseline: PSS-10, then WHO-5, then life satisfaction, each by wave."""
        return tuple(c.paired for changes in (self.stress, self.wellbeing, self.satisfaction) for c in changes)

    @property
    def headline(self) -> tuple[Paired, ...]:
        """Baseline to the last follow-up of each measure: seed 000's before/after table."""
        return tuple(changes[-1].paired for changes in (self.stress, self.wellbeing, self.satisfaction) if changes)


def outcome_query(spec: ReportSpec, cohort: str | None) -> OutcomeQuery:
    """The rows `build_report` needs for this spec (with the work status answers, bot/outcomes/work.py)."""
    runs = tuple(dict.fromkeys(flow for flow in (spec.tre_flow, spec.checkin_flow, *work_flows(spec.checkin_flow))
                               if flow))
    events = (spec.checkin_kind,) if spec.checkin_flow else ()
    measures = tuple((m.flow_id, m.score_id) for m in MEASURES)
    return OutcomeQuery(cohort, (*measures, *work_scores(spec.checkin_flow)), runs, events)


def build_report(chunks: Iterable[OutcomeRows], spec: ReportSpec, now: datetime, filters: Filters,
                 arms: Mapping[int, str] | None = None) -> Report:
    """`chunks`: what `Records.read_outcomes` hands over, or any chunks of participants with their rows. `arms`:
    each allocated participant's arm (`Allocations.allocations`); the others are counted as not randomised."""
    trial = TrialTally(spec, now.astimezone(spec.zone).date(), arms or {})
    chunks = trial.tap(chunks)
    waves = Waves(spec)
    scores = Scores((m, wave) for m in MEASURES for wave in dict.fromkeys((spec.baseline, *spec.asks(m))))
    habits = Habits(spec, now.astimezone(spec.zone).date())
    escalations: list[EscalationRow] = []  # few: kept as they are
    for person in people(chunks, spec, filters):
        waves.add(person)
        scores.add(person.values)
        habits.add(person)
        escalations.extend(person.escalations)
        trial.add(person)

    def comparisons(measure: Measure) -> list[Paired]:
        return [paired(scores, measure, spec.baseline, wave) for wave in spec.follow_ups(measure)]

    return Report(
        generated_at=now,
        filters=filters,
        spec=spec,
        participation=participation(waves, scores, spec),
        by_wave=tuple(wave_summary(scores, m, wave) for m in MEASURES for wave in spec.asks(m)),
        stress=tuple(stress_change(p) for p in comparisons(PSS10)),
        wellbeing=tuple(wellbeing_change(p) for p in comparisons(WHO5)),
        satisfaction=tuple(satisfaction_change(p) for p in comparisons(LIFE_SATISFACTION)),
        adherence=adherence(habits, waves, spec),
        safety=safety(escalations, now),
        trial=trial.result(),
    )
