"""The research export: item-level answers and scores under stable pseudonyms, with no direct identifiers.

A participant's pseudonym is HMAC-SHA256 of their ref under ``BOT_RESEARCH_KEY`` (storage/crypto.py): the same
in every export of this deployment, so waves can be joined across exports, and unlinkable to the person without
the key (which the researchers do not get). Left out: names, phone numbers, Telegram ids, refs, exact times (the
day is kept) and free text (the text answers and what was typed) unless `with_free_text`. Anonymised scores kept
after an erasure are left out too: they stay for aggregated figures only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from bot.clock import COPENHAGEN
from bot.export import write_csv
from storage.ports import Storage
from storage.records import AuditRecord

COLUMNS = ["pseudonym", "record", "wave", "flow_id", "flow_version", "run_seq", "item", "value", "band", "date"]
FREE_TEXT_COLUMN = "raw_text"
EXPORTED = "export.research"


@dataclass(frozen=True)
class ResearchData:
    answers: list[dict[str, Any]]
    scores: list[dict[str, Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [*self.answers, *self.scores]


def _day(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(COPENHAGEN).date().isoformat()


async def research_data(storage: Storage, pseudonym: Callable[[str], str], with_free_text: bool) -> ResearchData:
    """Every current answer and every score of the participants (not the anonymous holders of kept scores),
    each with its wave (from the programme's marks) where it belongs to one."""
    ids = {p.ref: p.id for p, _ in await storage.start_dates()}
    waves = {(m.participant_id, int(m.detail["run_seq"])): m.key
             for m in await storage.marks() if m.kind == "wave_run" and "run_seq" in m.detail}
    names = {ref: pseudonym(ref) for ref in ids}

    def common(row: dict[str, Any], record: str) -> dict[str, Any]:
        pid = ids[row["participant"]]
        return {"pseudonym": names[row["participant"]], "record": record, "wave": waves.get((pid, row["run_seq"])),
                "flow_id": row["flow_id"], "flow_version": row["flow_version"], "run_seq": row["run_seq"]}

    answers = []
    for row in await storage.export_answers():
        if row["participant"] not in ids or (isinstance(row["value"], str) and not with_free_text):
            continue  # anonymous holders of kept scores; text answers are free text
        item = {**common(row, "answer"), "item": row["item_id"], "value": row["value"], "band": None,
                "date": _day(row["answered_at"])}
        if with_free_text:
            item[FREE_TEXT_COLUMN] = row["raw_text"]
        answers.append(item)
    scores = [
        {**common(row, "score"), "item": row["score_id"], "value": row["value"], "band": row["band"],
         "date": _day(row["completed_at"])}
        for row in await storage.export_scores() if row["participant"] in ids
    ]
    return ResearchData(answers, scores)


def write(data: ResearchData, fmt: str, out: TextIO, with_free_text: bool) -> int:
    """CSV: one long table (``record`` is answer or score); JSON: {"answers": [...], "scores": [...]}."""
    columns = [*COLUMNS, FREE_TEXT_COLUMN] if with_free_text else COLUMNS
    if fmt == "json":
        json.dump({"answers": data.answers, "scores": data.scores}, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        write_csv(data.rows(), columns, out)
    return len(data.rows())


async def export_research(storage: Storage, pseudonym: Callable[[str], str], fmt: str, out: TextIO,
                          with_free_text: bool, actor: str, now: datetime) -> int:
    """Write the export and audit who made it, how and how big (no pseudonyms); returns the number of rows."""
    data = await research_data(storage, pseudonym, with_free_text)
    count = write(data, fmt, out, with_free_text)
    detail = {"format": fmt, "rows": count, "with_free_text": with_free_text}
    await storage.record_audit(AuditRecord(actor, EXPORTED, "all participants", now, detail))
    return count
