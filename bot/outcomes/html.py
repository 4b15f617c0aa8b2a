"""The report as ONE self-contained HTML file: inline CSS and inline SVG charts, no script, nothing fetched.

It opens from a USB stick on a locked-down municipal PC, prints on A4, and can be mailed as it is.

The administrators' desk shows the same report inside its own page (bot/desk/views/admin_report.py), where the
Content-Security-Policy allows no inline style: it takes `report_body` (the report without its page) and serves
`scoped_style` as a stylesheet of its own: the report's rules for its content, each under the desk's wrapper, so
neither page's look leaks into the other. One style, written once, here.
"""

from __future__ import annotations

import re
from html import escape

from bot.outcomes.build import Report
from bot.outcomes.charts import charts, without_data
from bot.outcomes.figures import Figure, figures
from bot.outcomes.labels import DEFINITIONS, Words
from bot.outcomes.numbers import Numbers
from bot.outcomes.page import before_after, meta_lines
from bot.outcomes.text import SECTIONS

PAGE_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;margin:0;background:#f6f7f9}
main{max-width:980px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:26px;margin:0 0 6px}
@media print{body{background:#fff}main{padding:0}h2{break-after:avoid}}
"""
# The rules of the report's own content: plain `selectors{declarations}`, no at-rules (`scoped_style` prefixes them)
CONTENT_STYLE = """
h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #dde3ea;padding-bottom:4px}
.meta{color:#52606d;margin:0}.note{background:#eef4fb;border-left:4px solid #3b7dd8;padding:8px 12px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e8ee;vertical-align:top}
th{font-size:13px;color:#52606d;font-weight:600}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.includes td{color:#52606d;font-size:13px;background:#f6f8fa;padding-top:8px}
table.headline td.shown{font-size:17px;font-weight:600;white-space:nowrap}
figure{margin:14px 0;break-inside:avoid}
svg.chart{max-width:100%;height:auto;background:#fff}
figcaption{font-weight:600;font-size:14px;margin:0 0 4px}
svg .tick{font-size:10px;fill:#52606d}
svg .grid{stroke:#edf0f4;stroke-width:1}svg .axis{stroke:#7b8794;stroke-width:1}
svg .s0{fill:#9fb3c8}svg .s1{fill:#2680c2}
svg .better{fill:#3f9142}svg .worse{fill:#c65d4a}svg .same{fill:#7b8794}
svg .reference{stroke:#d97706;stroke-width:1.5;stroke-dasharray:5 3}svg .reference-label{font-size:11px;fill:#b45309}
"""
STYLE = PAGE_STYLE + CONTENT_STYLE
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def scoped_style(scope: str) -> str:
    """The content's rules with every selector under `scope` (e.g. ".outcome-report"): the report's look inside
    another page, as a stylesheet of its own."""
    rules = []
    for selectors, declarations in _RULE.findall(CONTENT_STYLE):
        scoped = ",".join(f"{scope} {selector.strip()}" for selector in selectors.split(","))
        rules.append(f"{scoped}{{{declarations}}}")
    return "\n".join(rules) + "\n"


def render_html(report: Report, lang: str) -> str:
    words = Words(lang)
    return "\n".join([
        f'<!doctype html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(words('title'))}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{escape(words('title'))}</h1>",
        report_body(report, lang),
        "</main></body></html>\n",
    ])


def report_body(report: Report, lang: str) -> str:
    """Everything under the report's title: the page around it is the caller's (a file, or the desk's page)."""
    words, numbers = Words(lang), Numbers(lang)
    rows = figures(report, lang)
    parts = [
        *(f'<p class="meta">{escape(line)}</p>' for line in meta_lines(report, words, numbers)),
        f'<p class="note">{escape(words("who_counts"))}</p>',
        _headline(report, words, numbers),
        f'<section id="charts"><h2>{escape(words("s.charts"))}</h2>',
        *(f"<figure><figcaption>{escape(chart.title)}</figcaption>{chart.svg}</figure>"
          for chart in charts(report, words, numbers)),
        *(f'<p class="note" id="no-data">{escape(line)}</p>' for line in [without_data(report, words)] if line),
        "</section>",
    ]
    for section in SECTIONS:
        parts.append(_table(section, [f for f in rows if f.section == section], words, numbers))
    definitions = "".join(f"<li>{escape(words(key))}</li>" for key in DEFINITIONS)
    parts.append(f'<section id="definitions"><h2>{escape(words("s.definitions"))}</h2><ul>{definitions}</ul></section>')
    return "\n".join(parts)


def _headline(report: Report, words: Words, numbers: Numbers) -> str:
    head = "".join(f"<th>{escape(words(k))}</th>" for k in ("h.measure", "h.before_after", "h.change", "h.n",
                                                             "h.reference"))
    body = "".join(
        f"<tr><td>{escape(r.label)}</td><td class=\"shown\">{escape(r.shown)}</td><td class=\"num\">"
        f"{escape(r.change)}</td><td class=\"num\">{escape(r.counted)}</td><td>{escape(r.reference)}</td></tr>"
        for r in before_after(report, words, numbers)
    )
    return (f'<section id="headline"><h2>{escape(words("s.headline"))}</h2>'
            f'<table class="headline"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>')


def _table(section: str, rows: list[Figure], words: Words, numbers: Numbers) -> str:
    """The section's figures; a row naming who they include comes before each run of figures that share it."""
    head = "".join(f"<th>{escape(words(k))}</th>" for k in ("h.figure", "h.value", "h.n", "h.missing"))
    body, includes = [], None
    for f in rows:
        if f.includes != includes:
            includes = f.includes
            body.append(f'<tr class="includes"><td colspan="4">{escape(words("h.includes"))}: '
                        f"{escape(includes)}</td></tr>")
        body.append(
            f'<tr data-key="{escape(f.key)}"><td>{escape(f.label)}</td>'
            f'<td class="num">{escape(numbers.unit(f.value, f.unit))}</td>'
            f'<td class="num">{"" if f.n is None else escape(numbers.number(f.n, 0))}</td>'
            f'<td class="num">{"" if f.missing is None else escape(numbers.number(f.missing, 0))}</td></tr>'
        )
    return (f'<section id="{escape(section)}"><h2>{escape(words(f"s.{section}"))}</h2>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>")
