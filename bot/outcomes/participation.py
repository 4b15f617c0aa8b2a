"""Who took part: enrolled, screened, meeting the entry criterion, and how each measurement wave went."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.outcomes.cohort import Person, WaveState
from bot.outcomes.scores import Scores
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


class Waves:
    """How each of the programme's waves went, counted over the report's participants as they come."""

    def __init__(self, spec: ReportSpec) -> None:
        self.states: dict[str, Counter[WaveState]] = {wave.id: Counter() for wave in spec.waves}

    def add(self, person: Person) -> None:
        for wave, states in self.states.items():
            states[person.state(wave)] += 1

    def count(self, wave: str, state: WaveState) -> int:
        return self.states[wave][state]


def participation(waves: Waves, scores: Scores, spec: ReportSpec) -> Participation:
    baseline_pss = scores.values(PSS10, spec.baseline)
    meeting = sum(1 for value in baseline_pss if value >= spec.entry_cutoff)
    counts = tuple(_count(waves, wave.id) for wave in spec.waves)
    with_baseline = next((w.answered for w in counts if w.wave == spec.baseline), 0)
    return Participation(scores.size, len(baseline_pss), meeting, len(baseline_pss) - meeting, with_baseline, counts)


def _count(waves: Waves, wave: str) -> WaveCount:
    states = waves.states[wave]
    return WaveCount(wave, states[WaveState.ANSWERED], states[WaveState.PARTLY], states[WaveState.MISSED],
                     states[WaveState.OPEN], states[WaveState.NOT_YET])
