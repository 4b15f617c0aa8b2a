"""What the top of every human-readable format says: which data, and seed 000's before/after table."""

from __future__ import annotations

from dataclasses import dataclass

from bot.outcomes.build import Report
from bot.outcomes.change import Paired
from bot.outcomes.labels import TEXTS, Words
from bot.outcomes.numbers import Numbers


@dataclass(frozen=True)
class BeforeAfter:
    """One row of the before/after table, e.g. ("WHO-5 baseline → 6 months", "38,29 (±16,03) → 56,95 (±18,84)")."""

    label: str
    shown: str
    change: str  # the change of the mean in per cent
    counted: str  # "n = 21, missing 3"
    reference: str  # the payment target or national average, if any


def meta_lines(report: Report, words: Words, numbers: Numbers) -> list[str]:
    filters = report.filters
    cohort = words("cohort", cohort=filters.cohort) if filters.cohort else words("all_cohorts")
    if filters.start_from is None and filters.start_to is None:
        starts = words("any_start")
    else:
        start = numbers.day(filters.start_from) if filters.start_from else words("open_end")
        end = numbers.day(filters.start_to) if filters.start_to else words("open_end")
        starts = words("starts", start=start, end=end)
    programme = [words("programme", title=filters.programme_title or filters.programme, programme=filters.programme)
                 ] if filters.programme else []
    return [words("made", when=numbers.moment(report.generated_at, report.spec.zone)), *programme, cohort, starts]


def before_after(report: Report, words: Words, numbers: Numbers) -> list[BeforeAfter]:
    """One row per comparison with baseline. The payment targets stand only on the last follow-up (they are
    6-month targets), next to the figure each target is about: the mean of each participant's PSS-10 change
    (target 2), the share whose life satisfaction rose (target 3); the table's own column is the change of the
    group's mean, which is a different number."""
    rows = []
    for i, stress in enumerate(report.stress):
        target = ""
        if i == len(report.stress) - 1:
            value = words("vs.per_person", value=numbers.percent(stress.percent_changes.mean))
            target = denominator(report, stress.paired, value, words, numbers, zero=stress.zero_baseline)
        rows.append(_row(report, stress.paired, words, numbers, target))
    rows += [_row(report, w.paired, words, numbers, "") for w in report.wellbeing]
    for i, rose in enumerate(report.satisfaction):
        target = ""
        if i == len(report.satisfaction) - 1:
            share = 100 * rose.rose / rose.paired.n if rose.paired.n else None
            value = words("vs.rose", value=numbers.percent(share))
            target = denominator(report, rose.paired, value, words, numbers)
        rows.append(_row(report, rose.paired, words, numbers, target))
    return rows


def denominator(report: Report, paired: Paired, target: str, words: Words, numbers: Numbers,
                zero: int = 0) -> str:
    """The target's figure with whom it is computed over and who is missing, and why: "...: -29,3 %; n = 3 af 6;
    mangler: 1 uden baseline, 2 uden 6 måneder" (a target is judged on its denominator as much as its value)."""
    before, after = words.wave(paired.before_wave), words.wave(paired.after_wave)
    why = [words("why.without", count=numbers.number(count, 0), wave=wave)
           for count, wave in ((paired.no_before, before), (paired.no_after, after)) if count]
    if zero:
        why.append(words("why.zero", count=numbers.number(zero, 0), wave=before))
    missing = words("vs.missing", why=", ".join(why)) if why else words("vs.none_missing")
    size = report.participation.enrolled
    return words("vs.counted", target=target, n=numbers.number(paired.n - zero, 0), size=numbers.number(size, 0),
                 missing=missing)


def _row(report: Report, paired: Paired, words: Words, numbers: Numbers, target: str) -> BeforeAfter:
    reference_key = f"ref.{paired.measure.flow_id}"
    missing = report.participation.enrolled - paired.n
    is_level = paired.measure.flow_id == "who5"  # a national average applies to every row; targets to the last
    reference = words(reference_key) if reference_key in TEXTS and (is_level or target) else ""
    return BeforeAfter(
        label=words.pair(paired.measure, paired.before_wave, paired.after_wave),
        shown=f"{numbers.mean_sd(paired.before)} → {numbers.mean_sd(paired.after)}",
        change=numbers.percent(paired.percent_change_of_mean),
        counted=words("n_missing", n=numbers.number(paired.n, 0), missing=numbers.number(missing, 0)),
        reference=f"{reference} ({target})" if reference and target else reference,
    )
