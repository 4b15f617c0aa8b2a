"""Adherence: modules marked done, TRE sessions a week, and the bot's reminders answered, overall and by week.

"Reminders answered" is two figures, each with its own denominator (docs/outcomes.md):
- measurement waves answered in full, of the waves that have closed (answered, or recorded as missed);
- weekly check-ins answered, of the check-ins the bot sent: a check-in counts as answered when a check-in
  questionnaire was completed after it was sent and before the next one was.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.outcomes.cohort import Cohort, WaveState
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


def adherence(cohort: Cohort, spec: ReportSpec) -> Adherence:
    done_counts = [len(cohort.modules_done.get(pid, {})) for pid in cohort.starts]
    module_count = len(spec.modules)
    sent, done = cohort.checkins_sent, cohort.checkins_done
    answered_checkins = {pid: answered_before_next(sent.get(pid, []), done.get(pid, [])) for pid in cohort.starts}
    sessions = {pid: _in_programme(cohort, spec, pid) for pid in cohort.starts}  # pid -> week of each session
    rates, too_early = _tre_rates(cohort, spec, sessions)
    states = Counter(state for wave in spec.waves for state in (cohort.state(wave.id, p) for p in cohort.starts))
    closed = states[WaveState.ANSWERED] + states[WaveState.PARTLY] + states[WaveState.MISSED]
    return Adherence(
        modules_done=summary(done_counts),
        all_modules=sum(1 for n in done_counts if module_count and n >= module_count),
        no_module=done_counts.count(0),
        by_module=tuple(_module(cohort, number, day) for number, day in spec.modules),
        tre_rate=summary(rates.values()),
        tre_too_early=too_early,
        tre_any=sum(1 for pid in rates if sessions[pid]),
        tre_in_programme=sum(len(weeks) for weeks in sessions.values()),
        tre_total=sum(len(days) for days in cohort.tre_sessions.values()),
        checkins_sent=sum(len(v) for v in cohort.checkins_sent.values()),
        checkins_answered=sum(sum(flags) for flags in answered_checkins.values()),
        waves_closed=closed,
        waves_answered=states[WaveState.ANSWERED],
        weeks=_weeks(cohort, spec, sessions, answered_checkins),
    )


def _module(cohort: Cohort, number: int, day: int) -> ModuleDone:
    reached = [pid for pid, start in cohort.starts.items() if start + timedelta(days=day) <= cohort.today]
    return ModuleDone(number, len(reached), sum(1 for pid in reached if number in cohort.modules_done.get(pid, {})))


def _in_programme(cohort: Cohort, spec: ReportSpec, pid: int) -> list[int]:
    """The programme week of each TRE session within the programme's weeks (and up to the report date)."""
    start = cohort.starts[pid]
    weeks = (spec.week_of(start, day) for day in cohort.tre_sessions.get(pid, []) if day <= cohort.today)
    return [week for week in weeks if 1 <= week <= spec.weeks]


def _tre_rates(cohort: Cohort, spec: ReportSpec, sessions: dict[int, list[int]]) -> tuple[dict[int, float], int]:
    """Sessions a week per participant over the days of their programme so far (7 at least), and the number of
    participants with fewer days than that."""
    rates: dict[int, float] = {}
    too_early = 0
    for pid, start in cohort.starts.items():
        days = min((cohort.today - start).days + 1, 7 * spec.weeks)
        if days < 7:
            too_early += 1
            continue
        rates[pid] = len(sessions[pid]) / (days / 7)
    return rates, too_early


def answered_before_next(sent: Sequence[datetime], done: Sequence[datetime]) -> list[bool]:
    """For each sent check-in (oldest first): was one completed after it and before the next was sent?"""
    done = sorted(done)
    flags = []
    for i, at in enumerate(sent):
        following = sent[i + 1] if i + 1 < len(sent) else None
        j = bisect_left(done, at)
        flags.append(j < len(done) and (following is None or done[j] < following))
    return flags


def _weeks(cohort: Cohort, spec: ReportSpec, sessions: dict[int, list[int]],
           answered: dict[int, list[bool]]) -> tuple[Week, ...]:
    """The programme's weeks, and any later week a check-in was sent in (the last one can fall just after)."""
    tre: Counter[int] = Counter()
    sent: Counter[int] = Counter()
    replied: Counter[int] = Counter()
    for pid, start in cohort.starts.items():
        tre.update(sessions[pid])
        for at, flag in zip(cohort.checkins_sent.get(pid, []), answered[pid], strict=True):
            week = spec.week_of(start, at.astimezone(spec.zone).date())
            sent[week] += 1
            replied[week] += flag
    last = max([spec.weeks, *sent])
    begun: Counter[int] = Counter()
    for start in cohort.starts.values():
        begun.update(range(1, min(spec.week_of(start, cohort.today), last) + 1))
    return tuple(Week(w, begun[w], tre[w], sent[w], replied[w]) for w in range(1, last + 1))
