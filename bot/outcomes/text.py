"""The report as plain text for the terminal or an e-mail: the before/after table, then every figure by section."""

from __future__ import annotations

from bot.outcomes.build import Report
from bot.outcomes.figures import Figure, figures
from bot.outcomes.labels import DEFINITIONS, Words
from bot.outcomes.numbers import Numbers
from bot.outcomes.page import before_after, meta_lines

SECTIONS = ("participants", "waves", "pss10", "who5", "life_satisfaction", "work", "trial", "adherence", "weeks",
            "safety")


def render_text(report: Report, lang: str) -> str:
    words, numbers = Words(lang), Numbers(lang)
    lines = [words("title"), *meta_lines(report, words, numbers), "", words("who_counts"), "",
             words("s.headline")]
    for row in before_after(report, words, numbers):
        reference = f"  [{row.reference}]" if row.reference else ""
        lines.append(f"  {row.label}: {row.shown}  ({row.change}; {row.counted}){reference}")
    rows = figures(report, lang)
    for section in SECTIONS:
        lines += ["", words(f"s.{section}")]
        lines += _section([f for f in rows if f.section == section], words, numbers)
    lines += ["", words("s.definitions"), *(f"  - {words(key)}" for key in DEFINITIONS)]
    return "\n".join(lines) + "\n"


def _section(rows: list[Figure], words: Words, numbers: Numbers) -> list[str]:
    lines, includes = [], None
    for figure in rows:
        if figure.includes != includes:
            includes = figure.includes
            lines.append(f"  [{words('h.includes')}: {includes}]")
        counted = ""
        if figure.n is not None:
            missing = f", {words('h.missing').lower()} {numbers.number(figure.missing, 0)}" if figure.missing else ""
            counted = f"  (n = {numbers.number(figure.n, 0)}{missing})"
        lines.append(f"    {figure.label}: {numbers.unit(figure.value, figure.unit)}{counted}")
    return lines
