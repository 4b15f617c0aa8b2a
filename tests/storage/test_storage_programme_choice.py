"""The programme chosen at enrolment (issue 15: several programmes in one deployment), on SQLite (both runners) and
PostgreSQL: recorded on the profile with the enrolment (also a randomised one), audited by its id, read back for the
conversation loop and the retention sweep, the outcome report's rows limited to one programme, and the caseload's
"finished" by each programme's own length."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from storage import Enrollment, ScoreRecord, SqlStorage, StepRecord
from storage.allocation_records import PROGRAMME, Draw, RandomisedCohort
from storage.caseload import CaseloadQuery
from storage.errors import InvalidRecord
from storage.report_rows import OutcomeQuery, OutcomeRows

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


async def test_the_choice_is_kept_with_the_profile_and_read_back_by_participant(store: SqlStorage) -> None:
    gentofte = await store.enroll(Enrollment("p-g", "Gitte", "da", programme="gentofte_12_weeks"), NOW)
    tre = await store.enroll(Enrollment("p-t", "Tom", "da", programme="tre_bornholm"), NOW)
    before = await store.enroll(Enrollment("p-old", "Olga", "da"), NOW)  # as if enrolled before choices were kept
    console = await store.get_or_create_participant("console-demo", "da", NOW)  # never enrolled: no profile

    assert (await store.profile(gentofte.id)).programme == "gentofte_12_weeks"  # type: ignore[union-attr]
    assert (await store.profile(before.id)).programme is None  # type: ignore[union-attr]
    assert [await store.programme_of(p.id) for p in (gentofte, tre, before, console)] == [
        "gentofte_12_weeks", "tre_bornholm", None, None]
    assert await store.programme_of(9999) is None
    assert await store.programme_choices() == {gentofte.id: "gentofte_12_weeks", tre.id: "tre_bornholm"}
    enrolled = [e.detail for e in await store.audit_entries() if e.action == "participant.enrolled"]
    assert enrolled[::-1] == [{"lang": "da", "coach_id": None, "channels": [], "programme": "gentofte_12_weeks"},
                        {"lang": "da", "coach_id": None, "channels": [], "programme": "tre_bornholm"},
                        {"lang": "da", "coach_id": None, "channels": []}]


async def test_a_randomised_enrolment_keeps_its_programme_and_a_long_id_is_refused(store: SqlStorage) -> None:
    await store.randomise_cohort(RandomisedCohort("trial-1", "blocks", "key-1", "admin", NOW))
    participant, allocation = await store.enroll_allocated(
        Enrollment("p-r", "Rita", "da", cohort="trial-1", programme="stress_programme"), NOW,
        lambda seq: Draw(PROGRAMME, 0, 4), "admin")
    assert allocation.arm == PROGRAMME and await store.programme_of(participant.id) == "stress_programme"
    with pytest.raises(InvalidRecord, match="programme"):
        await store.enroll(Enrollment("p-x", "Xenia", "da", programme="x" * 101), NOW)
    assert await store.profile_by_ref("p-x") is None


async def test_the_outcome_rows_of_one_programme(store: SqlStorage) -> None:
    ids = {}
    for ref, chosen in (("p-s", "stress_programme"), ("p-g", "gentofte_12_weeks"), ("p-old", None)):
        participant = await store.enroll(Enrollment(ref, ref, "da", programme=chosen), NOW)
        ids[ref] = participant.id
        await store.commit_step(StepRecord(participant.id, 0, {"flow": None}, NOW, scores=[
            ScoreRecord(1, "pss10", 1, "total", float(participant.id), None, NOW)]))
    ids["console"] = (await store.get_or_create_participant("console-demo", "da", NOW)).id

    async def read(query: OutcomeQuery) -> tuple[list[int], list[int]]:
        def take(chunks: Iterator[OutcomeRows]) -> tuple[list[int], list[int]]:
            rows = list(chunks)
            return ([p.participant_id for c in rows for p in c.people],
                    [s.participant_id for c in rows for s in c.scores])

        return await store.read_outcomes(query, take)

    scores = (("pss10", "total"),)
    by_ref = {pid: ref for ref, pid in ids.items()}
    people, rows = await read(OutcomeQuery(scores=scores, programme="gentofte_12_weeks"))
    assert [by_ref[p] for p in people] == ["p-g"] and [by_ref[p] for p in rows] == ["p-g"]
    # the default programme's report also counts those with nothing recorded (enrolled before, or the console)
    people, rows = await read(OutcomeQuery(scores=scores, programme="stress_programme", with_unrecorded=True))
    assert [by_ref[p] for p in people] == ["p-s", "p-old", "console"] and [by_ref[p] for p in rows] == ["p-s", "p-old"]
    people, _ = await read(OutcomeQuery(scores=scores))
    assert len(people) == 4


async def test_finished_is_each_programmes_own_length_in_the_caseload(store: SqlStorage) -> None:
    """Started 20 weeks ago: over in a 12-week programme (recorded or the default's), not yet in a 26-week one."""
    today = NOW.date()
    long_ago = today - timedelta(weeks=20)
    for ref, chosen, start in (("p-12", "gentofte_12_weeks", long_ago), ("p-26", "tre_bornholm", long_ago),
                               ("p-old", None, long_ago), ("p-new", "tre_bornholm", today), ("p-none", None, None)):
        await store.enroll(Enrollment(ref, ref, "da", start, "coach", programme=chosen), NOW)
    query = CaseloadQuery("coach", NOW, finished_on_or_before=today - timedelta(weeks=12), sort="ref",
                          finished_by_programme=(("gentofte_12_weeks", today - timedelta(weeks=12)),
                                                 ("tre_bornholm", today - timedelta(weeks=26))))

    async def refs(only: str) -> list[str]:
        return [r.ref for r in (await store.caseload(replace(query, only=only))).rows]

    assert await refs("finished") == ["p-12", "p-old"]
    assert await refs("active") == ["p-26", "p-new", "p-none"]
    without_default = replace(query, finished_on_or_before=None)  # a default with no length: never over
    assert [r.ref for r in (await store.caseload(replace(without_default, only="active"))).rows] == [
        "p-26", "p-new", "p-none", "p-old"]
