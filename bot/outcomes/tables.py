"""The report's figures as CSV (for a spreadsheet in the report's locale) and JSON (for programs).

CSV: one row per figure; values in the locale's decimals without thousands separators, and for a locale with a
decimal comma (Danish) fields separated by semicolons, as Danish spreadsheets expect. JSON: the same figures
with plain numbers (counts as integers), and the report's filters and time.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.outcomes.build import Report
from bot.outcomes.figures import figures
from bot.outcomes.numbers import Numbers

COLUMNS = ("section", "key", "label", "value", "unit", "n", "missing", "includes")


def render_csv(report: Report, lang: str) -> str:
    numbers = Numbers(lang)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if numbers.decimal_comma else ",", lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in figures(report, lang):
        value = "" if f.value is None else numbers.unit(f.value, f.unit, grouping=False).removesuffix("\u00a0%")
        writer.writerow((f.section, f.key, f.label, value, f.unit, _blank(f.n), _blank(f.missing), f.includes))
    return out.getvalue()


def render_json(report: Report, lang: str) -> str:
    filters = report.filters
    document: dict[str, Any] = {
        "report": "outcomes",
        "generated_at": report.generated_at.isoformat(),
        "lang": lang,
        "filters": {
            "cohort": filters.cohort,
            "start_from": filters.start_from.isoformat() if filters.start_from else None,
            "start_to": filters.start_to.isoformat() if filters.start_to else None,
            **({"programme": filters.programme} if filters.programme else {}),
        },
        "figures": [
            {"section": f.section, "key": f.key, "label": f.label, "value": _plain(f.value, f.unit), "unit": f.unit,
             "n": f.n, "missing": f.missing, "includes": f.includes}
            for f in figures(report, lang)
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def _blank(value: int | None) -> str | int:
    return "" if value is None else value


def _plain(value: float | None, unit: str) -> float | int | None:
    if value is None:
        return None
    return int(value) if unit == "count" else value
