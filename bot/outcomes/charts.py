"""The HTML report's charts: before/after distributions, change per participant, adherence over the weeks.

Drawn for every comparison with baseline that has data (baseline to week 4, to the end of the programme, to 6
months: paired participants only), so a programme half-way through already has its charts; the comparisons
without data yet are named in one line instead of drawn empty. No participant is named, and a large cohort's
change chart shows quantiles, not people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.outcomes.build import Report
from bot.outcomes.change import Paired
from bot.outcomes.labels import Words
from bot.outcomes.numbers import Numbers
from bot.outcomes.spec import LIFE_SATISFACTION, MCIC_POINTS, PSS10, WHO5, WHO5_IMPROVEMENT, Measure
from bot.outcomes.stats import percent
from bot.outcomes.svg import Axis, Reference, Series, bar_chart

MAX_BARS = 200  # more participants than this: the change chart shows this many quantiles
BINS = {PSS10: (40, 5), WHO5: (100, 10), LIFE_SATISFACTION: (10, 1)}  # (highest score, bin width)
# The change that matters, and on which side of zero an improvement lies (docs/outcomes.md).
THRESHOLDS = {PSS10: (-MCIC_POINTS, "c.mcic_line", "below"), WHO5: (WHO5_IMPROVEMENT, "c.improve_line", "above")}


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str


def charts(report: Report, words: Words, numbers: Numbers) -> list[Chart]:
    drawn = []
    for paired in report.comparisons:
        if paired.n == 0:
            continue
        drawn.append(distribution(paired, words, numbers))
        if paired.measure in THRESHOLDS:
            drawn.append(change(paired, words, numbers))
    drawn.extend(adherence(report, words, numbers))
    return drawn


def without_data(report: Report, words: Words) -> str | None:
    """The comparisons not drawn because nobody has answered both waves yet, in one line; None if all have data."""
    empty = [words.pair(p.measure, p.before_wave, p.after_wave) for p in report.comparisons if p.n == 0]
    return words("c.no_data", pairs="; ".join(empty)) if empty else None


def chart_id(paired: Paired, what: str) -> str:
    """E.g. pss10-baseline_month6-change: one per measure, wave pair and kind of chart."""
    return f"{paired.measure.flow_id}-{paired.before_wave}_{paired.after_wave}-{what}"


def bins(measure: Measure, values: Sequence[float]) -> tuple[list[str], list[float | None]]:
    """Participants per bin of the measure's width from 0; the last bin includes the highest score."""
    top, width = BINS[measure]
    if width == 1:
        edges = [(k, k) for k in range(top + 1)]
    else:
        edges = [(k * width, (k + 1) * width - 1) for k in range(top // width)]
        edges[-1] = (edges[-1][0], top)
    counts: list[float | None] = [0.0] * len(edges)
    for value in values:
        k = min(int(value // width), len(edges) - 1)
        counts[k] = (counts[k] or 0.0) + 1
    return [f"{low}" if low == high else f"{low}–{high}" for low, high in edges], counts


def distribution(paired: Paired, words: Words, numbers: Numbers) -> Chart:
    labels, before = bins(paired.measure, [b for b, _ in paired.pairs])
    _, after = bins(paired.measure, [a for _, a in paired.pairs])
    pair = words.pair(paired.measure, paired.before_wave, paired.after_wave)
    title = words("c.distribution", measure=words.measure(paired.measure), pair=pair, n=numbers.number(paired.n, 0))
    series = [Series(words("c.before"), before, "s0"), Series(words("c.after"), after, "s1")]
    axis = Axis(numbers.number, label=words("c.participants"), whole=True)
    return Chart(title, bar_chart(chart_id(paired, "distribution"), title, labels, series, axis))


def change(paired: Paired, words: Words, numbers: Numbers) -> Chart:
    changes = sorted(a - b for b, a in paired.pairs)
    key = "c.change"
    if len(changes) > MAX_BARS:
        changes = [changes[round(i * (len(changes) - 1) / (MAX_BARS - 1))] for i in range(MAX_BARS)]
        key = "c.change_quantiles"
    pair = words.pair(paired.measure, paired.before_wave, paired.after_wave)
    title = words(key, measure=words.measure(paired.measure), pair=pair, n=numbers.number(paired.n, 0))
    line, label, better = THRESHOLDS[paired.measure]
    axis = Axis(numbers.number, places=1, label=words("c.points"), better=better)
    series = [Series(words("c.points"), list[float | None](changes), "s1")]
    svg = bar_chart(chart_id(paired, "change"), title, [""] * len(changes), series, axis,
                    Reference(line, words(label)))
    return Chart(title, svg)


def adherence(report: Report, words: Words, numbers: Numbers) -> list[Chart]:
    weeks = report.adherence.weeks
    week_names = [words("c.week", week=w.week) for w in weeks]
    tre = [w.tre_sessions / w.participants if w.participants else None for w in weeks]
    answered = [percent(w.checkins_answered, w.checkins_sent) for w in weeks]
    modules = report.adherence.by_module
    done = [percent(m.done, m.released) for m in modules]
    shares = Axis(numbers.number, suffix="\u00a0%")
    drawn = [
        ("tre-weeks", words("c.tre_weeks"), week_names, tre, Axis(numbers.number, places=2)),
        ("checkin-weeks", words("c.checkin_weeks"), week_names, answered, shares),
        ("modules", words("c.modules"), [words("c.module", number=m.number) for m in modules], done, shares),
    ]
    return [Chart(title, bar_chart(chart_id, title, names, [Series(title, values, "s1")], axis))
            for chart_id, title, names, values, axis in drawn]
