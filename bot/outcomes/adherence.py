"""Adherence: modules marked done, TRE sessions a week, and the bot's reminders answered, overall and by week.

"Reminders answered" is two figures, each with its own denominator (docs/outcomes.md):
- measurement waves answered in full, of the waves that have closed (answered, or recorded as missed);
- weekly check-ins answered, of the check-ins the bot sent: a check-in counts as answered when a check-in
  questionnaire was completed after it was sent and before the next one was.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.outcomes.cohort import Person, WaveState
from bot.outcomes.participation import Waves
from bot.outcomes.spec import ReportSpec
from bot.outcomes.stats import Summary, summary


@dataclass(frozen=True)
class ModuleDone:
    number: int
    released: int  # participants whose programme had reached the module's release day
    done: int  # of those, how many marked it done


@dataclass(frozen=True)
class Week:
    week: int
    participants: int  # whose programme week had begun by the report date
    tre_sessions: int
    checkins_sent: int
    checkins_answered: int


@dataclass(frozen=True)
class Adherence:
    modules_done: Summary  # modules marked done, per participant (every participant of the report)
    all_modules: int
    no_module: int
    by_module: tuple[ModuleDone, ...]
    tre_rate: Summary  # TRE sessions a week in the programme's weeks so far, per participant at least a week in
    tre_too_early: int  # participants less than a week into their programme: no rate yet
    tre_any: int  # of those with a rate, how many logged at least one session
    tre_in_programme: int  # sessions within the programme's weeks
    tre_total: int  # every session logged, also after the programme's weeks
    checkins_sent: int
    checkins_answered: int
    waves_closed: int
    waves_answered: int
    weeks: tuple[Week, ...]


class Habits:
    """What adherence counts, from each participant as they come: a few numbers a participant (modules done,
    TRE sessions a week) and counts by module and by week."""

    def __init__(self, spec: ReportSpec, today: date) -> None:
        self.spec, self.today = spec, today
        self.modules_done = array("l")  # modules marked done, per participant
        self.released = [0] * len(spec.modules)  # per module: participants whose programme had reached it
        self.done = [0] * len(spec.modules)  # ...and of those, who marked it done
        self.tre_rates = array("d")  # per participant at least a week in
        self.tre_too_early = self.tre_any = self.tre_in_programme = self.tre_total = 0
        self.tre_weeks: Counter[int] = Counter()  # programme week -> TRE sessions in it
        self.checkins_sent = self.checkins_answered = 0
        self.sent_weeks: Counter[int] = Counter()  # week -> check-ins sent in it
        self.answered_weeks: Counter[int] = Counter()  # ...and answered
        self.reached: Counter[int] = Counter()  # programme week reached by the report date -> participants

    def add(self, person: Person) -> None:
        spec, today, start = self.spec, self.today, person.start
        self.modules_done.append(len(person.modules_done))
        for i, (number, day) in enumerate(spec.modules):
            if start + timedelta(days=day) <= today:
                self.released[i] += 1
                self.done[i] += number in person.modules_done
        weeks = _in_programme(person, spec, today)
        self.tre_weeks.update(weeks)
        self.tre_in_programme += len(weeks)
        self.tre_total += len(person.tre_sessions)
        days = min((today - start).days + 1, 7 * spec.weeks)  # of their programme so far
        if days < 7:
            self.tre_too_early += 1
        else:
            self.tre_rates.append(len(weeks) / (days / 7))
            self.tre_any += bool(weeks)
        answered = answered_before_next(person.checkins_sent, person.checkins_done)
        self.checkins_sent += len(answered)
        self.checkins_answered += sum(answered)
        for at, flag in zip(person.checkins_sent, answered, strict=True):
            week = spec.week_of(start, at.astimezone(spec.zone).date())
            self.sent_weeks[week] += 1
            self.answered_weeks[week] += flag
        self.reached[spec.week_of(start, today)] += 1


def adherence(habits: Habits, waves: Waves, spec: ReportSpec) -> Adherence:
    done_counts = habits.modules_done
    module_count = len(spec.modules)
    states = Counter({state: sum(waves.count(wave.id, state) for wave in spec.waves) for state in WaveState})
    closed = states[WaveState.ANSWERED] + states[WaveState.PARTLY] + states[WaveState.MISSED]
    return Adherence(
        modules_done=summary(done_counts),
        all_modules=sum(1 for n in done_counts if module_count and n >= module_count),
        no_module=done_counts.count(0),
        by_module=tuple(ModuleDone(number, habits.released[i], habits.done[i]) for i, (number, _) in
                        enumerate(spec.modules)),
        tre_rate=summary(habits.tre_rates),
        tre_too_early=habits.tre_too_early,
        tre_any=habits.tre_any,
        tre_in_programme=habits.tre_in_programme,
        tre_total=habits.tre_total,
        checkins_sent=habits.checkins_sent,
        checkins_answered=habits.checkins_answered,
        waves_closed=closed,
        waves_answered=states[WaveState.ANSWERED],
        weeks=_weeks(habits, spec),
    )


def _in_programme(person: Person, spec: ReportSpec, today: date) -> list[int]:
    """The programme week of each TRE session within the programme's weeks (and up to the report date)."""
    weeks = (spec.week_of(person.start, day) for day in person.tre_sessions if day <= today)
    return [week for week in weeks if 1 <= week <= spec.weeks]


def answered_before_next(sent: Sequence[datetime], done: Sequence[datetime]) -> list[bool]:
    """For each sent check-in (oldest first): was one completed after it and before the next was sent?"""
    done = sorted(done)
    flags = []
    for i, at in enumerate(sent):
        following = sent[i + 1] if i + 1 < len(sent) else None
        j = bisect_left(done, at)
        flags.append(j < len(done) and (following is None or done[j] < following))
    return flags


def _weeks(habits: Habits, spec: ReportSpec) -> tuple[Week, ...]:
    """The programme's weeks, and any later week a check-in was sent in (the last one can fall just after)."""
    last = max([spec.weeks, *habits.sent_weeks])
    return tuple(Week(w, _begun(habits.reached, w), habits.tre_weeks[w], habits.sent_weeks[w],
                      habits.answered_weeks[w]) for w in range(1, last + 1))


def _begun(reached: Counter[int], week: int) -> int:
    """The participants whose programme's `week` had begun by the report date."""
    return sum(participants for current, participants in reached.items() if current >= week)
