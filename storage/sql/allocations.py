"""The `Allocations` port on SQL: randomised cohorts and the allocation made in each enrolment's transaction.

An allocation is written with its enrolment or not at all: `EnrolAllocated` enrols (as `Enroll` does), then takes the
cohort's next place by raising its counter (an UPDATE: on PostgreSQL it locks the cohort's row until the commit, so
two processes enrolling into one cohort at once take places one after the other; SQLite has one writer anyway), and
asks `draw` (bot/allocation.py) what that place is. The unique (cohort, seq) is a last guard. Both are audited with
who and when; the audit names the arm after the fact, never ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, bindparam, func, insert, select, update

from storage.allocation_records import ARMS, Allocation, Draw, RandomisedCohort
from storage.errors import AlreadyTaken, InvalidRecord
from storage.records import AuditRecord, Enrollment, Participant
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import require_utc
from storage.sql.directory import ContactOp, Enroll
from storage.sql.directory_rows import new_participant, participant_audit
from storage.sql.rows import audit_row

RANDOMISED = "cohort.randomised"
ALLOCATED = "participant.allocated"
_rc, _al = s.randomised_cohorts, s.allocations


def _cohort(row: Any) -> RandomisedCohort:
    return RandomisedCohort(row.cohort, row.scheme, row.key_id, row.created_by, row.created_at, row.allocated)


_ALLOCATION_OF = select(_al).where(_al.c.participant_id == bindparam("pid"))


def _allocation_of(conn: Connection, participant_id: int) -> Allocation | None:
    row = conn.execute(_ALLOCATION_OF, {"pid": participant_id}).first()
    return None if row is None else _allocation(row)


def _allocation(row: Any) -> Allocation:
    return Allocation(row.participant_id, row.cohort, row.seq, row.arm, row.block, row.block_size, row.allocated_by,
                      row.allocated_at)


@dataclass(frozen=True)
class Randomise(ContactOp):
    cohort: RandomisedCohort

    def run(self, conn: Connection) -> RandomisedCohort | Exception:
        c = self.cohort
        if conn.execute(select(_rc.c.cohort).where(_rc.c.cohort == c.cohort)).first() is not None:
            return AlreadyTaken("cohort (it is randomised already)")
        enrolled = conn.execute(select(func.count()).select_from(s.profiles)
                                .where(s.profiles.c.cohort == c.cohort)).scalar_one()
        if enrolled:
            return InvalidRecord(f"cohort: {enrolled} enrolled already without allocation; randomise a new cohort")
        conn.execute(insert(_rc).values(cohort=c.cohort, scheme=c.scheme, key_id=c.key_id, allocated=0,
                                        created_by=c.created_by, created_at=c.created_at))
        detail = {"cohort": c.cohort, "scheme": c.scheme, "key_id": c.key_id}
        record = AuditRecord(c.created_by, RANDOMISED, f"cohort:{c.cohort}", c.created_at, detail)
        conn.execute(insert(s.audit_log), audit_row(record))
        return c


@dataclass(frozen=True)
class EnrolAllocated(ContactOp):
    """Enrol and allocate in one transaction; nothing is written when either is refused."""

    enroll: Enroll
    draw: Callable[[int], Draw]
    actor: str

    def run(self, conn: Connection) -> tuple[Participant, Allocation] | Exception:
        new = self.enroll.new
        cohort = new.profile.get("cohort")
        found = conn.execute(select(_rc.c.cohort).where(_rc.c.cohort == cohort)).first() if cohort else None
        if found is None:
            return InvalidRecord("cohort: not a randomised cohort")
        enrolled = self.enroll.run(conn)
        if isinstance(enrolled, Exception):
            return enrolled
        conn.execute(update(_rc).where(_rc.c.cohort == cohort).values(allocated=_rc.c.allocated + 1))
        seq = int(conn.execute(select(_rc.c.allocated).where(_rc.c.cohort == cohort)).scalar_one()) - 1
        drawn = self.draw(seq)
        if drawn.arm not in ARMS:
            raise ValueError(f"unknown arm {drawn.arm!r}")  # a programming error: the whole batch rolls back
        allocation = Allocation(enrolled.id, str(cohort), seq, drawn.arm, drawn.block, drawn.block_size, self.actor,
                                new.at)
        conn.execute(insert(_al).values(participant_id=allocation.participant_id, cohort=allocation.cohort,
                                        seq=seq, arm=allocation.arm, block=allocation.block,
                                        block_size=allocation.block_size, allocated_by=self.actor,
                                        allocated_at=new.at))
        detail = {"cohort": allocation.cohort, "seq": seq, "arm": allocation.arm, "block": allocation.block}
        conn.execute(insert(s.audit_log), participant_audit(self.actor, ALLOCATED, new.ref, new.at, detail))
        return enrolled, allocation


class AllocationMethods(StoreBase):
    """The `Allocations` port."""

    async def randomise_cohort(self, cohort: RandomisedCohort) -> RandomisedCohort:
        if not cohort.cohort.strip() or len(cohort.cohort) > 100:
            raise InvalidRecord("cohort: 1 to 100 characters")
        opted = RandomisedCohort(cohort.cohort, cohort.scheme, cohort.key_id, cohort.created_by,
                                 require_utc(cohort.created_at))
        outcome = await self._writer.submit(Kind.CONTACT, Randomise(opted))
        if isinstance(outcome, Exception):
            raise outcome
        return cast(RandomisedCohort, outcome)

    async def randomised_cohort(self, cohort: str) -> RandomisedCohort | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(_rc).where(_rc.c.cohort == cohort))).first()
        return None if row is None else _cohort(row)

    async def randomised_cohorts(self) -> list[RandomisedCohort]:
        async with self._connect() as conn:
            return [_cohort(row) for row in (await conn.execute(select(_rc).order_by(_rc.c.cohort))).all()]

    async def enroll_allocated(self, enrollment: Enrollment, now: datetime, draw: Callable[[int], Draw],
                               actor: str) -> tuple[Participant, Allocation]:
        op = EnrolAllocated(Enroll(new_participant(enrollment, now, self._keys)), draw, actor)
        outcome = await self._writer.submit(Kind.CONTACT, op)
        if isinstance(outcome, Exception):
            raise outcome
        return cast(tuple[Participant, Allocation], outcome)

    async def allocation(self, participant_id: int) -> Allocation | None:
        return await self.lookup(_allocation_of, participant_id)  # a person's first message: on the hot path

    async def allocations(self, cohort: str | None = None) -> list[Allocation]:
        """Allocations in sequence order, of one cohort or of all (by cohort)."""
        query = select(_al).order_by(_al.c.cohort, _al.c.seq)
        if cohort is not None:
            query = query.where(_al.c.cohort == cohort)
        async with self._connect() as conn:
            return [_allocation(row) for row in (await conn.execute(query)).all()]
