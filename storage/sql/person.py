"""Everything stored about one person: found (for an export), and erased.

What belongs to a participant is read off the schema rather than listed: every table with a foreign key to
``participants`` (and every table whose foreign key reaches such a table, as triggers and notifications reach
escalations), plus the audit entries whose actor or subject is ``participant:<ref>``. A table added later is
exported and erased without a change here; a row that still points at the participant after an erase would make
the foreign key refuse to delete them, so nothing is left behind silently.

Audit entries of what staff did about the person (a coach viewed them, an administrator exported their data) stay,
with the subject replaced by ``participant:erased``: who looked at data is accountable after the data is gone.
Entries of the person's own doing (answers, runs, consent) go.

An erase may keep the scores for aggregated outcome figures (a deployment setting): they are re-keyed to a new
participant ``anon-<random>`` with no profile, address or audit entry, so nothing leads back to the person; the
programme marks that say which wave a score belongs to and which modules were done are kept with them (never a
coach's note). The erase's own audit entry names no one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, insert, or_, select, update

from storage.crypto import Keys
from storage.errors import InvalidRecord
from storage.records import AuditRecord, Participant
from storage.report_rows import MILESTONES
from storage.sql import schema as s
from storage.sql.codecs import Row, decode_answer, load_json, utc_text
from storage.sql.directory import ContactOp
from storage.sql.rows import audit_row

ANONYMOUS_PREFIX = "anon-"  # the ref of a participant who holds an erased person's anonymised scores
ERASED = "person.erased"
ERASED_SUBJECT = "participant:erased"
STAFF = ("coach:", "admin")  # actors whose entries about an erased person stay, anonymised
# Programme marks kept with anonymised scores: which wave a run belongs to, and adherence. Never notes.
KEPT_MARKS = frozenset(MILESTONES)  # an erase that keeps scores keeps exactly the milestones reports read
# What a person wrote is sealed at rest (storage/sql/rows.py `step_rows`): opened for their copy.
SEALED_COLUMNS = {
    "conversations": ("state",),
    "answers": ("raw_text", "value_text"),
    "escalation_triggers": ("trigger",),
    "inbox": ("body_enc",),
}
JSON_COLUMNS = {
    "conversations": ("state",),
    "inbox": ("outcome_detail",),
    "outbox": ("payload",),
    "audit_log": ("detail",),
    "schedule": ("data",),
    "coach_tasks": ("detail",),
    "programme_marks": ("detail",),
    "escalation_triggers": ("trigger",),
}


def anonymous_ref() -> str:
    """A new random ref for kept scores: derived from nothing, so it cannot be traced back."""
    return ANONYMOUS_PREFIX + secrets.token_hex(8)


def subject_of(ref: str) -> str:
    return f"participant:{ref}"


def erased_audit(actor: str, reason: str, at: datetime, rows: Mapping[str, int], kept_scores: int,
                 kept_audit: int) -> Row:
    """Who erased, why (request or retention), and how many rows went or stayed anonymised: never whom."""
    detail = {"reason": reason, "rows": dict(sorted(rows.items())), "anonymised_scores": kept_scores,
              "anonymised_audit_entries": kept_audit}
    return audit_row(AuditRecord(actor=actor, action=ERASED, subject=ERASED_SUBJECT, at=at, detail=detail))


@dataclass(frozen=True)
class Erasure:
    """One person to erase, with what the erase needs decided before the transaction."""

    participant_id: int
    anonymous_ref: str | None  # set: keep their scores under this new participant


# --- presenting what was found: decrypted, decoded, JSON-ready ---


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def present(tables: Mapping[str, Iterable[Mapping[str, Any]]], keys: Keys) -> dict[str, list[dict[str, Any]]]:
    """Rows by table as a person may read them: names, addresses and what they wrote decrypted (the hash left
    out), answers' values decoded, JSON columns parsed, times as ISO-8601 UTC. Empty tables are kept, so the export
    shows everything that was looked at."""
    shown: dict[str, list[dict[str, Any]]] = {}
    for table, rows in tables.items():
        out = []
        for row in rows:
            item = {key: _plain(value) for key, value in row.items()}
            for column in SEALED_COLUMNS.get(table, ()):
                if isinstance(item.get(column), str):
                    item[column] = keys.open(item[column])
            if table == "inbox":
                item["body"] = item.pop("body_enc", None)
            for column in JSON_COLUMNS.get(table, ()):
                if isinstance(item.get(column), str):
                    item[column] = load_json(item[column])
            if table == "addresses":
                item.pop("address_hash", None)
                item["address"] = keys.open(item.pop("address_enc"))
            if table == "profiles":
                item["name"] = keys.open(item["name"])
            if table == "answers":
                item["value"] = decode_answer(item.pop("value_kind"), item.pop("value_num"), item.pop("value_text"))
            out.append(item)
        shown[table] = out
    return shown


# --- SQL: which rows are the person's ---


def _selector(table: Table, participant_id: int) -> ColumnElement[bool] | None:
    """The rows of `table` that belong to the participant, through its foreign keys; None if none can."""
    if table is s.participants:
        return s.participants.c.id == participant_id
    found: list[ColumnElement[bool]] = []
    for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
        parent = fk.column.table
        if parent is table:
            continue
        if parent is s.participants:
            found.append(fk.parent == participant_id)
            continue
        owned = _selector(parent, participant_id)
        if owned is not None:
            found.append(fk.parent.in_(select(fk.column).where(owned)))
    return None if not found else or_(*found)


def _audit_selector(ref: str) -> ColumnElement[bool]:
    al = s.audit_log
    return or_(al.c.subject == subject_of(ref), al.c.actor == subject_of(ref))


def _by_staff(ref: str) -> ColumnElement[bool]:
    al = s.audit_log
    return and_(al.c.subject == subject_of(ref), or_(*(al.c.actor.startswith(prefix) for prefix in STAFF)))


def _ref(conn: Connection, participant_id: int) -> str | None:
    ref = conn.execute(select(s.participants.c.ref).where(s.participants.c.id == participant_id)).scalar()
    return None if ref is None else str(ref)


def person_rows(conn: Connection, participant_id: int) -> dict[str, list[dict[str, Any]]] | None:
    """Every row about the participant, by table (in the schema's order), in one read; None if unknown."""
    ref = _ref(conn, participant_id)
    if ref is None:
        return None
    found: dict[str, list[dict[str, Any]]] = {}
    for table in s.metadata.sorted_tables:
        where = _audit_selector(ref) if table is s.audit_log else _selector(table, participant_id)
        if where is not None:
            query = select(table).where(where).order_by(*table.primary_key.columns)
            found[table.name] = [dict(row) for row in conn.execute(query).mappings()]
    return found


def erase(conn: Connection, erasure: Erasure, actor: str, reason: str, at: datetime) -> dict[str, int] | None:
    """Delete every row about the participant (keeping anonymised scores when asked) and audit it; the rows
    removed by table, or None for an unknown id (nothing done)."""
    pid = erasure.participant_id
    ref = _ref(conn, pid)
    if ref is None:
        return None
    kept = 0
    if erasure.anonymous_ref is not None:
        lang = conn.execute(select(s.participants.c.lang).where(s.participants.c.id == pid)).scalar_one()
        row = {"ref": erasure.anonymous_ref, "lang": lang, "created_at": at}
        anonymous = conn.execute(insert(s.participants).returning(s.participants.c.id), row).scalar_one()
        kept = conn.execute(update(s.scores).where(s.scores.c.participant_id == pid)
                            .values(participant_id=anonymous)).rowcount
        marks = s.programme_marks
        conn.execute(update(marks).where(marks.c.participant_id == pid, marks.c.kind.in_(sorted(KEPT_MARKS)))
                     .values(participant_id=anonymous))
    kept_audit = conn.execute(update(s.audit_log).where(_by_staff(ref)).values(subject=ERASED_SUBJECT)).rowcount
    counts: dict[str, int] = {}
    for table in reversed(s.metadata.sorted_tables):  # children first: the foreign keys stay satisfied
        where = _audit_selector(ref) if table is s.audit_log else _selector(table, pid)
        if where is not None:
            removed = conn.execute(delete(table).where(where)).rowcount
            if removed:
                counts[table.name] = removed
    conn.execute(insert(s.audit_log), erased_audit(actor, reason, at, counts, kept, kept_audit))
    return counts


def start_dates(conn: Connection) -> list[tuple[Participant, date | None]]:
    """Everyone but the anonymous holders of kept scores, with their programme's start date (None when never
    enrolled), in id order."""
    p, pr = s.participants, s.profiles
    query = (
        select(*p.c, pr.c.start_date)
        .select_from(p.outerjoin(pr, pr.c.participant_id == p.c.id))
        .where(p.c.ref.not_like(f"{ANONYMOUS_PREFIX}%"))
        .order_by(p.c.id)
    )
    return [(Participant(row["id"], row["ref"], row["lang"], row["created_at"]), row["start_date"])
            for row in conn.execute(query).mappings()]


def erasures(participant_ids: Sequence[int], keep_scores: bool) -> tuple[Erasure, ...]:
    return tuple(Erasure(pid, anonymous_ref() if keep_scores else None) for pid in dict.fromkeys(participant_ids))


@dataclass(frozen=True)
class ErasePeople(ContactOp):
    """An erase as one write in the writer's transaction: everyone in it goes, or (on an error) no one."""

    erasures: tuple[Erasure, ...]
    actor: str
    reason: str
    at: datetime

    def run(self, conn: Connection) -> list[dict[str, int] | None]:
        return [erase(conn, erasure, self.actor, self.reason, self.at) for erasure in self.erasures]


def check_erase(actor: str, reason: str) -> tuple[str, str]:
    if not actor.strip() or len(actor) > 200:
        raise InvalidRecord("actor: 1 to 200 characters")
    if reason not in ("request", "retention"):
        raise InvalidRecord("reason must be 'request' or 'retention'")
    return actor, reason
