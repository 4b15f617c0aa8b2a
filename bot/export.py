"""Results out: item-level answers or one row per completed questionnaire score, as CSV or JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from bot.clock import Clock
from bot.config import operator
from storage.ports import AuditedRecords
from storage.records import AuditRecord

ANSWER_COLUMNS = ["participant", "flow_id", "flow_version", "run_seq", "item_id", "value", "raw_text", "answered_at"]
SCORE_COLUMNS = ["participant", "flow_id", "flow_version", "run_seq", "score_id", "value", "band", "completed_at"]


async def export(storage: AuditedRecords, what: str, fmt: str, out: TextIO, clock: Clock) -> int:
    """Write the rows and record in the audit log who exported what; returns the number of rows."""
    if what == "answers":
        rows, columns = await storage.export_answers(), ANSWER_COLUMNS
    else:
        rows, columns = await storage.export_scores(), SCORE_COLUMNS
    if fmt == "json":
        json.dump([{c: row.get(c) for c in columns} for row in rows], out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        write_csv(rows, columns, out)
    await storage.record_audit(AuditRecord(operator(), f"export.{what}", "all participants", clock.now(),
                                           {"format": fmt, "rows": len(rows)}))
    return len(rows)


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """A CSV for a spreadsheet: the named columns, and nothing a spreadsheet would run as a formula."""
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(_csv_row(row) for row in rows)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """Free text that a spreadsheet would run as a formula ("=1+2") is prefixed with ' so it stays text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _csv_cell(v) for k, v in row.items()}
