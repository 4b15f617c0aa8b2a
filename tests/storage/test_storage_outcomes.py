"""The outcome report's storage: the cohort on profiles (migration 5) and the reads of storage/sql/outcomes.py.

The reads are checked against rows written through the ordinary `Storage` methods, on SQLite (both runners) and
on the run's PostgreSQL: a chunk of participants at a time, each chunk with its participants' rows, all from one
snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from storage import (
    Enrollment,
    EscalationRecord,
    MarkRecord,
    ScheduledRecord,
    ScheduleOutcome,
    ScheduleStatus,
    ScoreRecord,
    SqlStorage,
    StepRecord,
    open_storage,
)
from storage.crypto import new_key_values
from storage.legacy_migrations import MIGRATIONS
from storage.report_rows import (
    EscalationRow,
    MarkRow,
    OutcomeQuery,
    OutcomeRows,
    PersonRow,
    RunRow,
    ScoreRow,
)
from storage.sql import schema
from storage.sql.outcomes import DRIVERS, outcome_chunks, read_outcomes, snapshot
from tests.storage.test_storage_programme import normalised_schema, version_3_database

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
SCHEMA_V4 = Path(__file__).with_name("schema_v4.sql")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def version_4_database(path: Path) -> None:
    """A database as migrations 1 to 4 left it, with an enrolled participant (no cohort yet) and a score."""
    stamp = "'2026-01-01T00:00:00.000000+00:00'"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V4.read_text())
        for version in (1, 2, 3, 4):
            conn.execute(f"INSERT INTO schema_migrations VALUES ({version}, 'migration {version}', {stamp})")
        conn.execute(f"INSERT INTO participants VALUES (1, 'P-OLD', 'da', {stamp})")
        conn.execute("INSERT INTO profiles VALUES (1, 'Old Person', '2026-01-05', 'coach', NULL, NULL)")
        conn.execute(f"INSERT INTO scores VALUES (1, 1, 1, 'pss10', 1, 'total', 20.0, NULL, {stamp})")
    conn.close()


def test_schema_v4_sql_is_version_3_plus_migration_4(tmp_path: Path) -> None:
    """schema_v4.sql is what it claims: schema_v3.sql migrated by the frozen migration 4."""
    v3 = tmp_path / "v3.sqlite"
    version_3_database(v3)
    engine = create_engine(f"sqlite:///{v3}")
    try:
        with engine.begin() as sync:
            MIGRATIONS[3].apply(sync)
    finally:
        engine.dispose()
    v4 = tmp_path / "v4.sqlite"
    version_4_database(v4)
    assert normalised_schema(v3) == normalised_schema(v4)


async def test_migration_5_gives_old_profiles_an_empty_cohort_and_the_current_schema(tmp_path: Path) -> None:
    old = tmp_path / "v4.sqlite"
    version_4_database(old)
    assert "cohort" not in next(sql for _, name, sql in normalised_schema(old) if name == "profiles")
    store = SqlStorage(old)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        profile = await store.profile(1)
        assert profile is not None and (profile.start_date, profile.cohort) == (date(2026, 1, 5), None)
        new = await store.enroll(Enrollment("P-NEW", "New Person", "da", date(2026, 3, 16), cohort="c-1"), T0)
        assert (await store.profile(new.id)).cohort == "c-1"  # type: ignore[union-attr]
    finally:
        await store.close()
    fresh = tmp_path / "fresh.sqlite"
    await (await open_storage(fresh)).close()
    assert normalised_schema(old) == normalised_schema(fresh)


async def three_people(s: SqlStorage) -> tuple[OutcomeQuery, list[int]]:
    """Anna (cohort c-1) with a score, a TRE log, a coach's note, an escalation and check-ins; Bo (c-2) with a
    check-in skipped; Carl, never enrolled. The query the report would make for them."""
    anna = await s.enroll(Enrollment("p-anna", "Anna", "da", date(2026, 3, 16), cohort="c-1"), T0)
    bo = await s.enroll(Enrollment("p-bo", "Bo", "da", None, cohort="c-2"), T0)
    carl = await s.get_or_create_participant("p-carl", "da", T0)  # never enrolled: no profile
    wave_run = MarkRecord("wave_run", "baseline", {"flow_id": "pss10", "run_seq": 1}, at(5))
    note = MarkRecord("coach_note", "", {"text": "private"}, at(6))
    scores = [ScoreRecord(1, "pss10", 1, "total", 22.0, "entry_criterion", at(5)),
              ScoreRecord(2, "tre_log", 1, "minutes", 15.0, None, at(30)),
              ScoreRecord(2, "tre_log", 1, "tension_before", 6.0, None, at(30)),
              ScoreRecord(3, "who5", 1, "raw", 12.0, None, at(40))]
    signal = EscalationRecord("moderate", "text", {"matched": "selvmord", "text": "a private sentence"}, at(50),
                              at(170))
    await s.commit_step(StepRecord(anna.id, 0, {"n": 1}, at(60), scores=scores, marks=[wave_run, note],
                                   escalations=[signal]))
    await s.add_schedule([(anna.id, ScheduledRecord("checkin:1", "checkin", at(100))),
                          (anna.id, ScheduledRecord("checkin:2", "checkin", at(200))),
                          (bo.id, ScheduledRecord("checkin:1", "checkin", at(100)))], T0)
    claimed = await s.claim_schedule(at(100), 10, at(105))
    for row in claimed:
        outcome = ScheduleOutcome(row.id, ScheduleStatus.SENT if row.participant_id == anna.id else
                                  ScheduleStatus.SKIPPED, "stopped")
        await s.commit_step(StepRecord(row.participant_id, 1 if row.participant_id == anna.id else 0,
                                       {"n": 2}, at(101), schedule_outcome=outcome))
    query = OutcomeQuery(scores=(("pss10", "total"),), runs=("tre_log",), events=("checkin",),
                         marks=("wave_run",))
    return query, [anna.id, bo.id, carl.id]


async def test_the_report_reads_what_it_needs_and_nothing_else(store: SqlStorage) -> None:
    s = store
    query, (anna, bo, carl) = await three_people(s)

    (rows,) = await read_outcomes(s.engine, query, list)  # three participants: one chunk
    assert rows.people == [PersonRow(anna, "c-1", date(2026, 3, 16), T0), PersonRow(bo, "c-2", None, T0),
                           PersonRow(carl, None, None, T0)]
    assert rows.marks == [MarkRow(anna, "wave_run", "baseline", {"flow_id": "pss10", "run_seq": 1}, at(5))]
    assert rows.scores == [ScoreRow(anna, 1, "pss10", "total", 22.0)]  # not WHO-5's raw score
    assert rows.runs == [RunRow(anna, "tre_log", 2, at(30))]  # one row per completed run, not per score
    assert [(e.participant_id, e.kind, e.sent_at) for e in rows.events] == [(anna, "checkin", at(101))]
    assert rows.escalations == [EscalationRow(anna, "moderate", "open", at(50), None, at(170), 0)]
    assert "private" not in repr(rows)  # neither the coach's note nor the trigger's text is read

    c2 = OutcomeQuery("c-2", query.scores, query.runs, query.events, query.marks)
    (only_c2,) = await read_outcomes(s.engine, c2, list)
    assert [p.participant_id for p in only_c2.people] == [bo]
    assert (only_c2.marks, only_c2.scores, only_c2.runs, only_c2.events, only_c2.escalations) == ([], [], [], [], [])


def everyone(chunk: OutcomeRows) -> set[int]:
    """The participants any of the chunk's rows belong to."""
    return {row[0] for rows in (chunk.people, chunk.marks, chunk.scores, chunk.runs, chunk.events,
                                chunk.escalations) for row in rows}


async def test_the_rows_come_a_chunk_of_participants_at_a_time_from_one_snapshot(
        store: SqlStorage) -> None:
    """Two participants a chunk: Anna and Bo with their rows, then Carl. A participant and a milestone of Carl's
    written between the chunks (another process, committed) are not in the report: it sees one snapshot."""
    s = store
    query, (anna, bo, carl) = await three_people(s)
    url = s.engine.url
    other = create_engine(url.set(drivername=DRIVERS[url.get_backend_name()]), poolclass=NullPool)
    by_two = OutcomeQuery(None, query.scores, query.runs, query.events, ("wave_run", "wave_started"), chunk=2)

    def read_while_another_writes(chunks: Iterator[OutcomeRows]) -> list[OutcomeRows]:
        first = next(chunks)
        with other.begin() as conn:
            conn.execute(schema.participants.insert().values(ref="p-dorte", lang="da", created_at=at(300)))
            conn.execute(schema.programme_marks.insert().values(
                participant_id=carl, kind="wave_started", key="baseline", detail="{}", at=at(300)))
        return [first, *chunks]

    try:
        chunks = await read_outcomes(s.engine, by_two, read_while_another_writes)
    finally:
        other.dispose()
    assert [[p.participant_id for p in chunk.people] for chunk in chunks] == [[anna, bo], [carl]]
    assert [everyone(chunk) for chunk in chunks] == [{anna, bo}, {carl}]
    assert (len(chunks[0].marks), len(chunks[0].events), chunks[1].marks) == (1, 1, [])
    (again,) = await read_outcomes(s.engine, query, list)
    assert len(again.people) == 4  # Dorte is there for the next report


async def test_on_postgresql_the_participants_stream_through_a_server_side_cursor(postgres_url: str) -> None:
    """Half-way through the chunks the server holds the cursor: the participants are not all fetched at once."""
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    await store.migrate()
    try:
        query, _ = await three_people(store)
    finally:
        await store.close()
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as conn, snapshot(conn) as reading:
            chunks = outcome_chunks(reading, replace(query, chunk=1))
            first = next(chunks)
            cursors = reading.exec_driver_sql("SELECT statement FROM pg_cursors").scalars().all()
            rest = list(chunks)
    finally:
        engine.dispose()
    assert len(cursors) == 1 and "FROM participants" in cursors[0]
    assert [len(chunk.people) for chunk in (first, *rest)] == [1, 1, 1]
