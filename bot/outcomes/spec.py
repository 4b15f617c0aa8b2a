"""What the outcome report measures and against what: the programme file's waves, plus published thresholds.

The waves, the baseline, the entry criterion, the check-in and the TRE log come from the programme's file
(flows/programmes/*.yaml; one report per programme), so a municipality's changed programme is reported as it runs.
The instruments' score ids come from their flow files (`flows/definitions/`); the thresholds from the sources named
beside each (see docs/outcomes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from flows.programme import Kind, Programme
from flows.tre import log_flow


@dataclass(frozen=True)
class Measure:
    """One score of one questionnaire, e.g. PSS-10's total."""

    flow_id: str
    score_id: str


PSS10 = Measure("pss10", "total")  # 0-40, higher is more stress (flows/definitions/pss10.yaml)
WHO5 = Measure("who5", "percent")  # 0-100, higher is better (flows/definitions/who5.yaml)
LIFE_SATISFACTION = Measure("life_satisfaction", "satisfaction")  # 0-10 (flows/definitions/life_satisfaction.yaml)
MEASURES = (PSS10, WHO5, LIFE_SATISFACTION)

ENTRY_CUTOFF = 17.0  # PSS-10 entry criterion, seed 001; the programme's entry_criterion (or evaluation) wins
MCIC_POINTS = 11.0  # PSS-10 minimal clinically important change: a fall of 11 points... (Eskildsen et al. 2015)
MCIC_SHARE = 0.28  # ...or of 28 % of the baseline score
PSS_TARGET_FALL = 30.0  # seed 002, payment target 2: the mean PSS score falls by 30 % at 6 months
LIFE_TARGET_ROSE = 65.0  # seed 002, payment target 3: 65 % of participants' life satisfaction rises at 6 months
WHO5_IMPROVEMENT = 10.0  # WHO-5: a change of 10 percentage points counts as significant (docs/instruments.md)
WHO5_NATIONAL_MEAN = 68.0  # the Danish population's WHO-5 mean (Sundhedsstyrelsen 2017, cited in seed 000)
LEVELS = ("high", "moderate", "low")  # escalation levels, most urgent first


@dataclass(frozen=True)
class WaveSpec:
    id: str
    day: int
    flows: tuple[str, ...]


@dataclass(frozen=True)
class ReportSpec:
    waves: tuple[WaveSpec, ...]  # by day
    baseline: str
    zone: ZoneInfo
    weeks: int = 12
    modules: tuple[tuple[int, int], ...] = ()  # (number, release day)
    checkin_flow: str | None = None
    checkin_kind: str = Kind.CHECKIN
    tre_flow: str | None = None
    entry_cutoff: float = ENTRY_CUTOFF

    def wave(self, wave_id: str) -> WaveSpec | None:
        return next((w for w in self.waves if w.id == wave_id), None)

    def follow_ups(self, measure: Measure) -> tuple[str, ...]:
        """The waves after baseline that ask this measure's questionnaire, in order; the last is the headline."""
        base = self.wave(self.baseline)
        day = base.day if base else -1
        return tuple(w.id for w in self.waves if w.day > day and measure.flow_id in w.flows)

    def asks(self, measure: Measure) -> tuple[str, ...]:
        """Every wave that asks this measure's questionnaire, in order."""
        return tuple(w.id for w in self.waves if measure.flow_id in w.flows)

    def week_of(self, start: date, day: date) -> int:
        """The programme week `day` falls in: 1 for the start date and the six days after it, 0 before it."""
        offset = (day - start).days
        return offset // 7 + 1 if offset >= 0 else 0


def spec_from_programme(programme: Programme) -> ReportSpec:
    waves = tuple(WaveSpec(w.id, w.day, w.flows) for w in sorted(programme.waves, key=lambda w: w.day))
    evaluation = programme.evaluation
    baseline = evaluation.baseline if evaluation else (waves[0].id if waves else "baseline")
    entry = programme.entry_criterion
    cutoff = (entry.at_least if entry and (entry.flow, entry.score) == (PSS10.flow_id, PSS10.score_id)
              else evaluation.entry_cutoff if evaluation and evaluation.flow == PSS10.flow_id else ENTRY_CUTOFF)
    return ReportSpec(
        waves=waves,
        baseline=baseline,
        zone=ZoneInfo(programme.timezone),
        weeks=programme.weeks,
        modules=tuple((m.number, m.day) for m in programme.modules),
        checkin_flow=programme.checkin.flow if programme.checkin else None,
        tre_flow=log_flow(programme),
        entry_cutoff=cutoff,
    )
