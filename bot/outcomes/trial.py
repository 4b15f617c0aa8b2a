"""The arms compared (issue 15; seed 002's three payment targets, measured 6 months after the start, the day of the
lottery), and the return to work per arm. docs/outcomes.md, "Arms and return to work", defines every figure.

Each participant of the report is in one group: the arm they were allocated to in a randomised cohort
(`programme` or `control`), or `unallocated` (enrolled outside a randomised cohort; shown only when there are any,
never in a comparison). Per group:

- allocated; **reached 6 months** (the follow-up wave's day has come); **answered at 6 months** (PSS-10 in that
  wave); **missing at 6 months** (reached it without answering).
- **Return to work, partly and fully** (bot/outcomes/work.py): how many returned by 6 months, the median day of
  those, and the **restricted mean** day: each participant's day of return, or the 6-month day for those known not
  to have returned by then (they answered the work question at 6 months or later). Participants with neither are
  not known: *not 6 months yet* when their 6 months have not passed, else *missing*.
- Payment target 1: the control arm's restricted mean day of partial-or-full return minus the programme arm's (days
  sooner; seed 002 expects 14), Welch's 95 % interval.
- Payment target 2: each arm's mean percentage change of PSS-10 from baseline to 6 months per participant (a
  baseline of 0 has none), and programme minus control (seed 002 expects a 30 % fall), Welch's interval.
- Payment target 3: each arm's share whose life satisfaction rose from baseline to 6 months (Wilson's interval),
  and programme minus control (seed 002 expects 65 %), Newcombe's interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

from bot.outcomes import work
from bot.outcomes.cohort import Person
from bot.outcomes.intervals import Interval, difference_of_means, difference_of_shares, mean_interval, wilson
from bot.outcomes.spec import LIFE_SATISFACTION, PSS10, ReportSpec
from bot.outcomes.stats import Summary, percent_change, summary
from storage.allocation_records import CONTROL, PROGRAMME
from storage.report_rows import OutcomeRows

UNALLOCATED = "unallocated"
GROUPS = (PROGRAMME, CONTROL, UNALLOCATED)


@dataclass(frozen=True)
class Return:
    """Days from the start to one kind of return (partly, fully), in one group."""

    returned: Summary  # the days of those who returned by 6 months
    restricted: list[float]  # each known participant's day, 6 months for those known not to have returned
    not_yet: int
    missing: int

    @property
    def restricted_mean(self) -> Interval | None:
        return mean_interval(self.restricted)


@dataclass
class _Tally:
    allocated: int = 0
    reached: int = 0
    answered: int = 0
    pss_changes: list[float] = field(default_factory=list)
    pss_zero_baseline: int = 0
    life_rose: int = 0
    life_paired: int = 0
    returns: dict[str, list[int | None]] = field(default_factory=lambda: {"partly": [], "fully": []})
    reached_flags: list[bool] = field(default_factory=list)  # per participant, in the order of `returns`
    answered_late: list[bool] = field(default_factory=list)  # answered the work question on the 6-month day or later


@dataclass(frozen=True)
class Group:
    name: str
    allocated: int
    reached: int  # the 6-month day has come
    answered: int  # PSS-10 answered in the 6-month wave
    partly: Return
    fully: Return
    pss_changes: list[float]  # per participant, baseline to 6 months, in %
    pss_zero_baseline: int
    life_rose: int
    life_paired: int

    @property
    def missing(self) -> int:
        return self.reached - self.answered

    @property
    def pss_mean(self) -> Interval | None:
        return mean_interval(self.pss_changes)

    @property
    def life_share(self) -> Interval | None:
        return wilson(self.life_rose, self.life_paired)


@dataclass(frozen=True)
class Trial:
    """The groups (programme, control, unallocated when any) and the arms' differences, with 95 % intervals."""

    horizon: int  # the 6-month wave's day
    follow_up: str  # its id
    groups: tuple[Group, ...]
    days_sooner: Interval | None  # target 1: control minus programme, restricted mean day of partial return
    pss_difference: Interval | None  # target 2: programme minus control, mean % change
    life_difference: Interval | None  # target 3: programme minus control, share that rose (0-1)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    @property
    def randomised(self) -> bool:
        return any(g.name in (PROGRAMME, CONTROL) and g.allocated for g in self.groups)


class TrialTally:
    """Counts each participant as `build_report` meets them; their work answers come from the chunk they are in."""

    def __init__(self, spec: ReportSpec, today: date, arms: Mapping[int, str]) -> None:
        self.spec, self.today, self.arms = spec, today, arms
        follow_ups = spec.follow_ups(PSS10)
        self.follow_up = follow_ups[-1] if follow_ups else spec.baseline
        wave = spec.wave(self.follow_up)
        self.horizon = wave.day if wave else 182
        self.flows = work.work_flows(spec.checkin_flow)
        self._reports: dict[int, list[work.Report]] = {}
        self._tallies: dict[str, _Tally] = {name: _Tally() for name in GROUPS}

    def tap(self, chunks: Iterable[OutcomeRows]) -> Iterator[OutcomeRows]:
        return work.tap(chunks, self._reports, self.flows, self.spec.zone)

    def add(self, person: Person) -> None:
        tally = self._tallies[self.arms.get(person.participant_id, UNALLOCATED)]
        tally.allocated += 1
        reached = (self.today - person.start).days >= self.horizon
        tally.reached += reached
        tally.answered += (PSS10, self.follow_up) in person.values
        before, after = person.values.get((PSS10, self.spec.baseline)), person.values.get((PSS10, self.follow_up))
        if before is not None and after is not None:
            change = percent_change(before, after)
            if change is None:
                tally.pss_zero_baseline += 1
            else:
                tally.pss_changes.append(change)
        life = (person.values.get((LIFE_SATISFACTION, self.spec.baseline)),
                person.values.get((LIFE_SATISFACTION, self.follow_up)))
        if life[0] is not None and life[1] is not None:
            tally.life_paired += 1
            tally.life_rose += life[1] > life[0]
        returns = work.returns(person.start, self._reports.get(person.participant_id, ()))
        tally.returns["partly"].append(returns.partly)
        tally.returns["fully"].append(returns.fully)
        tally.reached_flags.append(reached)
        tally.answered_late.append(returns.last_answer is not None and returns.last_answer >= self.horizon)

    def _return(self, tally: _Tally, kind: str) -> Return:
        returned, restricted, not_yet, missing = [], [], 0, 0
        for day, reached, late in zip(tally.returns[kind], tally.reached_flags, tally.answered_late, strict=True):
            if day is not None and day <= self.horizon:
                returned.append(float(day))
                restricted.append(float(day))
            elif late:
                restricted.append(float(self.horizon))
            elif not reached:
                not_yet += 1
            else:
                missing += 1
        return Return(summary(returned), restricted, not_yet, missing)

    def result(self) -> Trial:
        groups = tuple(
            Group(name, t.allocated, t.reached, t.answered, self._return(t, "partly"), self._return(t, "fully"),
                  t.pss_changes, t.pss_zero_baseline, t.life_rose, t.life_paired)
            for name, t in self._tallies.items() if t.allocated or name != UNALLOCATED)
        programme, control = groups[0], groups[1]
        return Trial(
            self.horizon, self.follow_up, groups,
            days_sooner=difference_of_means(control.partly.restricted, programme.partly.restricted),
            pss_difference=difference_of_means(programme.pss_changes, control.pss_changes),
            life_difference=difference_of_shares(programme.life_rose, programme.life_paired, control.life_rose,
                                                 control.life_paired),
        )
