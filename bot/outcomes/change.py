"""Scores at each wave and their change from baseline, for the participants who answered both (paired).

A change is only ever computed within a person: the before and after means of a comparison are over the same
participants, so a person who answered only once cannot move a mean. Who is left out is counted, never dropped
silently: no baseline value, or a baseline value but none at the follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.outcomes.scores import Pairs, Scores
from bot.outcomes.spec import MCIC_POINTS, MCIC_SHARE, WHO5_IMPROVEMENT, Measure
from bot.outcomes.stats import Summary, percent_change, summary

_EPSILON = 1e-9  # 0.28 x 25 is 7.000000000000001 in floating point: a fall of 7 from 25 is 28 %


@dataclass(frozen=True)
class WaveSummary:
    measure: Measure
    wave: str
    stats: Summary
    missing: int  # the report's participants without a value at this wave


@dataclass(frozen=True)
class Paired:
    measure: Measure
    before_wave: str
    after_wave: str
    pairs: Pairs  # (before, after), one per participant, anonymous
    no_before: int  # participants without a value at the baseline
    no_after: int  # participants with a baseline value but none at the follow-up
    before: Summary
    after: Summary
    change: Summary  # after - before, in the measure's points

    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def percent_change_of_mean(self) -> float | None:
        """The change of the group's mean relative to its baseline mean (seed 000's "48,7 %")."""
        return percent_change(self.before.mean, self.after.mean)


@dataclass(frozen=True)
class StressChange:
    """PSS-10: the payment model's mean percentage fall and the share reaching the minimal important change."""

    paired: Paired
    percent_changes: Summary  # each participant's (after - before) / before; a baseline of 0 has none
    zero_baseline: int
    mcic: int  # fell by at least 11 points or at least 28 % of their baseline


@dataclass(frozen=True)
class WellbeingChange:
    """WHO-5: how many improved by 10 percentage points or more."""

    paired: Paired
    improved: int


@dataclass(frozen=True)
class SatisfactionChange:
    """Life satisfaction: how many rose, stayed and fell (the payment model counts a rise)."""

    paired: Paired
    rose: int
    same: int
    fell: int


def wave_summary(scores: Scores, measure: Measure, wave: str) -> WaveSummary:
    values = scores.values(measure, wave)
    return WaveSummary(measure, wave, summary(values), scores.size - len(values))


def paired(scores: Scores, measure: Measure, before_wave: str, after_wave: str) -> Paired:
    both = scores.compare(measure, before_wave, after_wave)
    pairs = both.pairs
    return Paired(
        measure, before_wave, after_wave, pairs, both.no_before, both.no_after,
        before=summary(pairs.before),
        after=summary(pairs.after),
        change=summary(a - b for b, a in pairs),
    )


def stress_change(pairs: Paired) -> StressChange:
    changes = [percent_change(b, a) for b, a in pairs.pairs]
    mcic = sum(1 for b, a in pairs.pairs if b - a >= MCIC_POINTS or (b > 0 and b - a >= MCIC_SHARE * b - _EPSILON))
    return StressChange(pairs, summary(c for c in changes if c is not None), changes.count(None), mcic)


def wellbeing_change(pairs: Paired) -> WellbeingChange:
    return WellbeingChange(pairs, sum(1 for b, a in pairs.pairs if a - b >= WHO5_IMPROVEMENT))


def satisfaction_change(pairs: Paired) -> SatisfactionChange:
    rose = sum(1 for b, a in pairs.pairs if a > b)
    fell = sum(1 for b, a in pairs.pairs if a < b)
    return SatisfactionChange(pairs, rose, pairs.n - rose - fell, fell)
