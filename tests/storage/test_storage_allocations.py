"""The `Allocations` port (storage/sql/allocations.py) on SQLite (both runners) and PostgreSQL: a cohort opted in
with who and when, each allocation written in its enrolment's transaction in the order of the cohort's places, and
nothing written when either is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage import Enrollment, SqlStorage
from storage.allocation_records import CONTROL, PROGRAMME, Draw, RandomisedCohort
from storage.errors import AlreadyTaken, InvalidRecord

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def alternate(seq: int) -> Draw:
    return Draw(PROGRAMME if seq % 2 == 0 else CONTROL, seq // 4, 4)


async def test_a_randomised_cohort_allocates_each_enrolment_its_next_place(store: SqlStorage) -> None:
    opted = await store.randomise_cohort(RandomisedCohort("trial-1", "blocks", "key-1", "admin:lead", NOW))
    assert (opted.cohort, opted.allocated) == ("trial-1", 0)
    people = []
    for i in range(5):
        enrollment = Enrollment(f"p-{i}", f"Person {i}", "da", None, cohort="trial-1", phone=f"+452000000{i}")
        people.append(await store.enroll_allocated(enrollment, NOW, alternate, "admin:nurse"))
    assert [(a.seq, a.arm, a.block) for _, a in people] == [(0, PROGRAMME, 0), (1, CONTROL, 0), (2, PROGRAMME, 0),
                                                            (3, CONTROL, 0), (4, PROGRAMME, 1)]
    participant, allocation = people[1]
    assert await store.allocation(participant.id) == allocation
    assert (allocation.allocated_by, allocation.allocated_at) == ("admin:nurse", NOW)
    assert (await store.profile(participant.id)).cohort == "trial-1"  # type: ignore[union-attr]
    assert [a.seq for a in await store.allocations("trial-1")] == [0, 1, 2, 3, 4]
    assert (await store.randomised_cohort("trial-1")).allocated == 5  # type: ignore[union-attr]
    audit = await store.audit_entries()
    assert [e.action for e in audit].count("participant.allocated") == 5
    (randomised,) = [e for e in audit if e.action == "cohort.randomised"]
    assert (randomised.actor, randomised.subject, randomised.at) == ("admin:lead", "cohort:trial-1", NOW)


async def test_concurrent_enrolments_take_different_places(store: SqlStorage) -> None:
    await store.randomise_cohort(RandomisedCohort("trial-2", "blocks", "key-1", "admin:lead", NOW))
    enrolled = await asyncio.gather(*(
        store.enroll_allocated(Enrollment(f"q-{i}", "Someone", "da", None, cohort="trial-2"), NOW, alternate, "admin")
        for i in range(12)))
    assert sorted(a.seq for _, a in enrolled) == list(range(12))
    assert [a.arm for a in await store.allocations("trial-2")].count(CONTROL) == 6


async def test_refusals_write_nothing(store: SqlStorage) -> None:
    await store.enroll(Enrollment("p-early", "Early", "da", None, cohort="open-1"), NOW)
    with pytest.raises(InvalidRecord, match="enrolled already"):  # they would have no arm
        await store.randomise_cohort(RandomisedCohort("open-1", "blocks", "key-1", "admin", NOW))
    assert await store.randomised_cohort("open-1") is None
    await store.randomise_cohort(RandomisedCohort("trial-3", "blocks", "key-1", "admin", NOW))
    with pytest.raises(AlreadyTaken):
        await store.randomise_cohort(RandomisedCohort("trial-3", "blocks", "key-1", "admin", NOW))
    with pytest.raises(InvalidRecord, match="not a randomised cohort"):
        await store.enroll_allocated(Enrollment("p-x", "X", "da", None, cohort="open-1"), NOW, alternate, "admin")
    await store.enroll_allocated(Enrollment("p-1", "One", "da", None, cohort="trial-3", phone="+4520000001"), NOW,
                                 alternate, "admin")
    with pytest.raises(AlreadyTaken):  # the phone belongs to p-1: no participant, no place taken
        await store.enroll_allocated(Enrollment("p-2", "Two", "da", None, cohort="trial-3", phone="+4520000001"),
                                     NOW, alternate, "admin")
    assert (await store.randomised_cohort("trial-3")).allocated == 1  # type: ignore[union-attr]
    assert [a.seq for a in await store.allocations("trial-3")] == [0]
    assert [c.cohort for c in await store.randomised_cohorts()] == ["trial-3"]


async def test_erasing_a_participant_takes_their_allocation_and_leaves_the_place_counted(store: SqlStorage) -> None:
    await store.randomise_cohort(RandomisedCohort("trial-4", "blocks", "key-1", "admin", NOW))
    first, _ = await store.enroll_allocated(Enrollment("p-a", "A", "da", None, cohort="trial-4"), NOW, alternate,
                                            "admin")
    await store.enroll_allocated(Enrollment("p-b", "B", "da", None, cohort="trial-4"), NOW, alternate, "admin")
    (counts,) = await store.erase_participants([first.id], "admin:dpo", "request", NOW)
    assert counts is not None and counts.get("allocations") == 1
    assert [a.seq for a in await store.allocations("trial-4")] == [1]  # the auditor sees the gap at place 0
    assert (await store.randomised_cohort("trial-4")).allocated == 2  # type: ignore[union-attr]
