"""The `Records` port: data in bulk (the research exports, the outcome report's rows) and about one person (access,
erasure, start dates for retention). The SQL is in storage/sql/py and storage/sql/outcomes.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import false, select

from storage.errors import StorageClosed
from storage.records import Participant
from storage.report_rows import OutcomeQuery, OutcomeRows
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import require_utc
from storage.sql.outcomes import enrolled_cohorts, read_outcomes
from storage.sql.person import ErasePeople, check_erase, erasures, person_rows, present, start_dates
from storage.sql.rows import answer_export, score_export

T = TypeVar("T")  # what the outcome report's consumer makes of the rows


class RecordsMethods(StoreBase):
    """The `Records` port."""

    async def export_answers(self) -> list[dict[str, Any]]:
        a, p = s.answers, s.participants
        query = (
            select(a, p.c.ref)
            .join_from(a, p, a.c.participant_id == p.c.id)
            .where(a.c.superseded == false())
            .order_by(p.c.ref, a.c.run_seq, a.c.answered_at, a.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [answer_export(r, r["ref"], self._keys.open) for r in rows]

    async def export_scores(self) -> list[dict[str, Any]]:
        sc, p = s.scores, s.participants
        query = (
            select(sc, p.c.ref)
            .join_from(sc, p, sc.c.participant_id == p.c.id)
            .order_by(p.c.ref, sc.c.run_seq, sc.c.completed_at, sc.c.id)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [score_export(r, r["ref"]) for r in rows]

    async def person_data(self, participant_id: int) -> dict[str, list[dict[str, Any]]] | None:
        """Every row about the participant by table, decrypted and JSON-ready (one read transaction)."""
        async with self._connect() as conn:
            await conn.execute(select(1))  # BEGIN: one snapshot for every table
            found = await conn.run_sync(person_rows, participant_id)
        return None if found is None else present(found, self._keys)

    async def erase_participants(self, participant_ids: Sequence[int], actor: str, reason: str, at: datetime,
                                 keep_scores: bool = False) -> list[dict[str, int] | None]:
        """Erase each in a transaction of its own (a long list never holds the writer for long: steps go in
        between), audited without a name or ref; then scrub the file once (see `scrub`). Per distinct participant:
        the rows removed by table, or None for an unknown id."""
        actor, reason = check_erase(actor, reason)
        at = require_utc(at)
        counts: list[dict[str, int] | None] = []
        for erasure in erasures(participant_ids, keep_scores):
            op = ErasePeople((erasure,), actor, reason, at)
            counts += cast(list[dict[str, int] | None], await self._writer.submit(Kind.CONTACT, op))
        if any(c is not None for c in counts):
            await self.scrub()
        return counts

    async def start_dates(self) -> list[tuple[Participant, date | None]]:
        """Every participant (not the anonymous holders of kept scores) with their start date, None if never
        enrolled."""
        async with self._connect() as conn:
            return await conn.run_sync(start_dates)

    async def read_outcomes(self, query: OutcomeQuery, consume: Callable[[Iterator[OutcomeRows]], T]) -> T:
        """Every row the outcome report needs, a chunk of participants at a time from one snapshot, handed to
        `consume` off the event loop; returns what it returns (storage/sql/outcomes.py)."""
        if self._closed:
            raise StorageClosed("storage is closed")
        return await read_outcomes(self._engine, query, consume)

    async def cohorts(self) -> list[str]:
        """The cohorts participants were enrolled in, sorted."""
        async with self._connect() as conn:
            return await conn.run_sync(enrolled_cohorts)
