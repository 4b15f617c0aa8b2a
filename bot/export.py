"""Results out: item-level answers or one row per completed questionnaire score, as CSV or JSON."""

from __future__ import annotations

import csv
import getpass
import json
from typing import Any, TextIO

from bot.clock import Clock
from storage.interface import AuditRecord, Storage

ANSWER_COLUMNS = ["participant", "flow_id", "flow_version", "run_seq", "item_id", "value", "raw_text", "answered_at"]
SCORE_COLUMNS = ["participant", "flow_id", "flow_version", "run_seq", "score_id", "value", "band", "completed_at"]


async def export(storage: Storage, what: str, fmt: str, out: TextIO, clock: Clock) -> int:
    """Write the rows and record in the audit log who exported what; returns the number of rows."""
    if what == "answers":
        rows, columns = await storage.export_answers(), ANSWER_COLUMNS
    else:
        rows, columns = await storage.export_scores(), SCORE_COLUMNS
    if fmt == "json":
        json.dump([{c: row.get(c) for c in columns} for row in rows], out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(_csv_row(row) for row in rows)
    await storage.record_audit(AuditRecord(f"admin:{_user()}", f"export.{what}", "all participants", clock.now(),
                                           {"format": fmt, "rows": len(rows)}))
    return len(rows)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """Free text that a spreadsheet would run as a formula ("=1+2") is prefixed with ' so it stays text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _csv_cell(v) for k, v in row.items()}


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
