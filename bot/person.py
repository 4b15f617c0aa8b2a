"""One person's data: everything stored about them as JSON (right of access, GDPR art. 15) and its erasure
(art. 17). Both are audited with who did it and what; the erasure's entry names no one (storage/sql/person.py).

A person is named by their pseudonymous ref (``p-...``), never by a name or number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage.ports import AuditedRecords, Records
from storage.records import AuditRecord, Participant

EXPORTED = "person.exported"
FORMAT = "stressbot.person/1"
FIRST = ("participants", "profiles", "addresses", "conversations")  # who they are first; the audit log last


async def find(storage: Records, ref: str) -> Participant | None:
    """The participant with this ref (not the anonymous holders of kept scores: they are nobody)."""
    return next((p for p, _ in await storage.start_dates() if p.ref == ref), None)


async def export_person(storage: AuditedRecords, participant: Participant, actor: str, now: datetime) -> dict[str, Any]:
    """Everything stored about the participant, by table, with their consent on top; audited (the tables and row
    counts, nothing of the content)."""
    tables = await storage.person_data(participant.id)
    if tables is None:
        raise LookupError(f"participant {participant.ref} does not exist")
    order = [*(t for t in FIRST if t in tables), *(t for t in tables if t not in FIRST and t != "audit_log"),
             *(t for t in ("audit_log",) if t in tables)]
    tables = {table: tables[table] for table in order}
    profile = next(iter(tables.get("profiles", [])), {})
    document = {
        "format": FORMAT,
        "exported_at": now.astimezone(UTC).isoformat(timespec="microseconds"),
        "participant": participant.ref,
        "consent": {
            "version": profile.get("consent_version"),
            "at": profile.get("consent_at"),
            "channel": profile.get("consent_channel"),
        },
        "tables": tables,
    }
    counts = {table: len(rows) for table, rows in tables.items()}
    await storage.record_audit(AuditRecord(actor, EXPORTED, f"participant:{participant.ref}", now, {"rows": counts}))
    return document


async def erase_person(storage: Records, participant: Participant, actor: str, now: datetime,
                       keep_scores: bool) -> dict[str, int]:
    """Erase everything about the participant (their scores kept anonymised when `keep_scores`); the rows
    removed by table. The storage audits it without their ref and scrubs the file."""
    [counts] = await storage.erase_participants([participant.id], actor, "request", now, keep_scores)
    if counts is None:
        raise LookupError(f"participant {participant.ref} does not exist")
    return counts
