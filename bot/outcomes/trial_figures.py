"""The arms' comparison and the return to work as the report's figures (rows for `figures._Sheet.add`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bot.outcomes.intervals import Interval
from bot.outcomes.labels import Words
from bot.outcomes.trial import UNALLOCATED, Group, Return, Trial
from storage.allocation_records import CONTROL, PROGRAMME

Row = tuple[str, str, str, float | None, str, int | None, str, int | None]  # figures._Sheet.add's arguments


def trial_rows(trial: Trial, words: Words, count: Callable[[int], str]) -> Iterator[Row]:
    shown = [g for g in trial.groups if g.allocated]
    for group in shown:
        yield from _group(group, words)
    for group in shown:
        for kind, ret in (("partly", group.partly), ("fully", group.fully)):
            yield from _return(group, kind, ret, words, count)
    if not trial.randomised:
        return
    programme, control = trial.group(PROGRAMME), trial.group(CONTROL)
    assert programme is not None and control is not None
    known = len(programme.partly.restricted) + len(control.partly.restricted)
    unknown = programme.allocated + control.allocated - known
    yield from _interval("trial", "trial.target1.days_sooner", words("f.target1"), trial.days_sooner, "days", known,
                         words("i.both_arms_ret"), unknown, words)
    for group in (programme, control):
        arm = words(f"arm.{group.name}")
        n = len(group.pss_changes)
        yield from _interval("trial", f"trial.{group.name}.pss10_percent_change", words("f.arm.pss", arm=arm),
                             group.pss_mean, "percent", n,
                             words("i.arm_pss", arm=arm, zero=count(group.pss_zero_baseline)),
                             group.allocated - n, words)
    n = len(programme.pss_changes) + len(control.pss_changes)
    yield from _interval("trial", "trial.target2.difference", words("f.target2"), trial.pss_difference, "points", n,
                         words("i.both_arms_pss"), programme.allocated + control.allocated - n, words)
    for group in (programme, control):
        arm = words(f"arm.{group.name}")
        yield from _interval("trial", f"trial.{group.name}.life_rose_share", words("f.arm.life", arm=arm),
                             _percent(group.life_share), "percent", group.life_paired,
                             words("i.arm_life", arm=arm), group.allocated - group.life_paired, words)
    n = programme.life_paired + control.life_paired
    yield from _interval("trial", "trial.target3.difference", words("f.target3"), _percent(trial.life_difference),
                         "points", n, words("i.both_arms_life"), programme.allocated + control.allocated - n, words)


def _group(group: Group, words: Words) -> Iterator[Row]:
    arm = words(f"arm.{group.name}")
    everyone, reached = words("i.arm", arm=arm), words("i.arm_reached", arm=arm)
    key = f"trial.{group.name}"
    section = "trial" if group.name != UNALLOCATED else "work"
    yield section, f"{key}.allocated", words("f.arm.allocated", arm=arm), group.allocated, "count", group.allocated, \
        everyone, 0
    yield section, f"{key}.reached_6m", words("f.arm.reached", arm=arm), group.reached, "count", group.allocated, \
        everyone, 0
    yield section, f"{key}.answered_6m", words("f.arm.answered", arm=arm), group.answered, "count", group.reached, \
        reached, group.allocated - group.reached
    yield section, f"{key}.missing_6m", words("f.arm.missing", arm=arm), group.missing, "count", group.reached, \
        reached, group.allocated - group.reached


def _return(group: Group, kind: str, ret: Return, words: Words, count: Callable[[int], str]) -> Iterator[Row]:
    arm, what = words(f"arm.{group.name}"), words(f"ret.{kind}")
    key = f"work.{group.name}.{kind}"
    known = len(ret.restricted)
    includes = words("i.ret", arm=arm, not_yet=count(ret.not_yet), missing=count(ret.missing))
    yield "work", f"{key}.returned", words("f.ret.count", arm=arm, kind=what), ret.returned.n, "count", known, \
        includes, group.allocated - known
    yield "work", f"{key}.median_days", words("f.ret.median", arm=arm, kind=what), ret.returned.median, "days", \
        ret.returned.n, words("i.ret_count", arm=arm), group.allocated - ret.returned.n
    yield from _interval("work", f"{key}.mean_days", words("f.ret.mean", arm=arm, kind=what), ret.restricted_mean,
                         "days", known, includes, group.allocated - known, words)


def _interval(section: str, key: str, label: str, interval: Interval | None, unit: str, n: int, includes: str,
              missing: int, words: Words) -> Iterator[Row]:
    """The estimate, then its interval's two ends (a dash where there is too little to compute them)."""
    yield section, key, label, interval.estimate if interval else None, unit, n, includes, missing
    yield section, f"{key}.ci_low", words("f.ci.low", figure=label), interval.low if interval else None, unit, n, \
        includes, missing
    yield section, f"{key}.ci_high", words("f.ci.high", figure=label), interval.high if interval else None, unit, n, \
        includes, missing


def _percent(interval: Interval | None) -> Interval | None:
    """A share (0-1) in per cent."""
    return None if interval is None else Interval(100 * interval.estimate, 100 * interval.low, 100 * interval.high)
