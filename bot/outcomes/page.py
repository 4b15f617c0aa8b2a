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
    return [words("made", when=numbers.moment(report.generated_at, report.spec.zone)), cohort, starts]


def before_after(report: Report, words: Words, numbers: Numbers) -> list[BeforeAfter]:
    return [_row(report, paired, words, numbers) for paired in report.comparisons]


def _row(report: Report, paired: Paired, words: Words, numbers: Numbers) -> BeforeAfter:
    reference_key = f"ref.{paired.measure.flow_id}"
    missing = report.participation.enrolled - paired.n
    return BeforeAfter(
        label=words.pair(paired.measure, paired.before_wave, paired.after_wave),
        shown=f"{numbers.mean_sd(paired.before)} → {numbers.mean_sd(paired.after)}",
        change=numbers.percent(paired.percent_change_of_mean),
        counted=words("n_missing", n=numbers.number(paired.n, 0), missing=numbers.number(missing, 0)),
        reference=words(reference_key) if reference_key in TEXTS else "",
    )
