"""Who took part: enrolled, screened, meeting the entry criterion, and how each measurement wave went."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.outcomes.cohort import Cohort, WaveState
from bot.outcomes.spec import PSS10, ReportSpec


@dataclass(frozen=True)
class WaveCount:
    """Every participant of the report is in exactly one of these per wave (they add up to `enrolled`)."""

    wave: str
    answered: int
    partly: int
    missed: int
    open: int
    not_yet: int

    @property
    def closed_unanswered(self) -> int:
        """Recorded as missed, whether or not some of its questionnaires were answered."""
        return self.partly + self.missed


@dataclass(frozen=True)
class Participation:
    enrolled: int
    screened: int  # baseline PSS-10 answered
    entry_criterion: int  # baseline PSS-10 >= the cutoff
    below_criterion: int
    with_baseline: int  # the whole baseline wave answered
    waves: tuple[WaveCount, ...]

    @property
    def missed_total(self) -> int:
        return sum(w.closed_unanswered for w in self.waves)


def participation(cohort: Cohort, spec: ReportSpec) -> Participation:
    baseline_pss = cohort.value(PSS10, spec.baseline)
    meeting = sum(1 for value in baseline_pss.values() if value >= spec.entry_cutoff)
    waves = tuple(_count(cohort, wave.id) for wave in spec.waves)
    with_baseline = next((w.answered for w in waves if w.wave == spec.baseline), 0)
    return Participation(cohort.size, len(baseline_pss), meeting, len(baseline_pss) - meeting, with_baseline, waves)


def _count(cohort: Cohort, wave: str) -> WaveCount:
    states = Counter(cohort.state(wave, pid) for pid in cohort.starts)
    return WaveCount(wave, states[WaveState.ANSWERED], states[WaveState.PARTLY], states[WaveState.MISSED],
                     states[WaveState.OPEN], states[WaveState.NOT_YET])
