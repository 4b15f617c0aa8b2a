"""The whole report from the stored rows: every figure, computed once, for every format to write out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.outcomes.adherence import Adherence, adherence
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
from bot.outcomes.cohort import Filters, collect
from bot.outcomes.participation import Participation, participation
from bot.outcomes.safety import Safety, safety
from bot.outcomes.spec import LIFE_SATISFACTION, MEASURES, PSS10, WHO5, Measure, ReportSpec
from storage.report_rows import OutcomeQuery, OutcomeRows


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

    @property
    def comparisons(self) -> tuple[Paired, ...]:
        """Every comparison with baseline: PSS-10, then WHO-5, then life satisfaction, each by wave."""
        return tuple(c.paired for changes in (self.stress, self.wellbeing, self.satisfaction) for c in changes)

    @property
    def headline(self) -> tuple[Paired, ...]:
        """Baseline to the last follow-up of each measure: seed 000's before/after table."""
        return tuple(changes[-1].paired for changes in (self.stress, self.wellbeing, self.satisfaction) if changes)


def outcome_query(spec: ReportSpec, cohort: str | None) -> OutcomeQuery:
    """The rows `build_report` needs for this spec."""
    runs = tuple(flow for flow in (spec.tre_flow, spec.checkin_flow) if flow)
    events = (spec.checkin_kind,) if spec.checkin_flow else ()
    return OutcomeQuery(cohort, tuple((m.flow_id, m.score_id) for m in MEASURES), runs, events)


def build_report(rows: OutcomeRows, spec: ReportSpec, now: datetime, filters: Filters) -> Report:
    cohort = collect(rows, spec, now, filters)

    def comparisons(measure: Measure) -> list[Paired]:
        return [paired(cohort, measure, spec.baseline, wave) for wave in spec.follow_ups(measure)]

    return Report(
        generated_at=now,
        filters=filters,
        spec=spec,
        participation=participation(cohort, spec),
        by_wave=tuple(wave_summary(cohort, m, wave) for m in MEASURES for wave in spec.asks(m)),
        stress=tuple(stress_change(p) for p in comparisons(PSS10)),
        wellbeing=tuple(wellbeing_change(p) for p in comparisons(WHO5)),
        satisfaction=tuple(satisfaction_change(p) for p in comparisons(LIFE_SATISFACTION)),
        adherence=adherence(cohort, spec),
        safety=safety(cohort.escalations, now),
    )
