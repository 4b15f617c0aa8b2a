"""What only PostgreSQL needs: several bot processes start on one database at the same time (a deploy), and each
brings the schema up to date on start. On SQLite ``BEGIN IMMEDIATE`` serialises them; on PostgreSQL they would
race to create the same tables unless the upgrade takes a lock (storage/upgrade.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text

from storage import (
    AnswerRecord,
    AuditRecord,
    CommitResult,
    CommitStatus,
    InboundRecord,
    OutboundRecord,
    SqlStorage,
    StepRecord,
)
from storage.crypto import new_key_values
from storage.sql.steps import _SEEN_INBOUND_PG
from storage.sql.steps_pg import _REVISIONS_AND_SEEN
from storage.upgrade import head


async def test_processes_starting_together_migrate_one_after_the_other(postgres_url: str) -> None:
    keys = new_key_values()
    stores = [SqlStorage(postgres_url, key_environ=keys) for _ in range(4)]  # four engines: four "processes"
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        async with stores[0].engine.connect() as conn:
            ledger = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert ledger == [head()]  # upgraded once, to the newest revision
        # and each works on the same tables: anna made by one is found by the others
        made = await stores[1].get_or_create_participant("anna", "da", datetime(2026, 11, 23, 9, tzinfo=UTC))
        found = [await store.get_or_create_participant("anna", "da", datetime.now(UTC)) for store in stores]
        assert {p.id for p in found} == {made.id}
    finally:
        for store in stores:
            await store.close()


WANTED = [f"SM{n}" for n in range(100, 115)] + ["SM-new"]  # a batch's messages: 15 seen before, one new


async def test_a_message_is_looked_up_by_its_id_in_an_inbox_never_analysed(postgres_url: str) -> None:
    """The duplicate check of a batch probes the unique index per message id. Written as `id IN (...)`, it was planned
    on an inbox the server had not analysed yet as a scan of every message of the channel (15 ms a batch at 20,000
    messages, growing): a new deployment's first minute, and every benchmark."""
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    try:
        await store.migrate()
        async with store.engine.begin() as conn:
            await conn.execute(text("INSERT INTO participants (id, ref, lang, created_at) "
                                    "VALUES (1, 'p', 'da', now())"))
            await conn.execute(text(
                "INSERT INTO inbox (channel, channel_message_id, participant_id, received_at, processed_at, for_coach) "
                "SELECT 'sms', 'SM' || g, 1, now(), now(), false FROM generate_series(1, 20000) AS g"))
        async with store.engine.connect() as conn:
            plans = [(await conn.execute(text("EXPLAIN " + str(query.compile())),
                                         {"ids": WANTED, "channel": "sms", "pids": [1]})).scalars().all()
                     for query in (_SEEN_INBOUND_PG, _REVISIONS_AND_SEEN)]  # alone, and with the revisions' read
    finally:
        await store.close()
    for plan in plans:  # the line under the inbox's scan says how it is read: by the index, nothing filtered
        scan = next(k for k, line in enumerate(plan) if " on inbox" in line)
        assert "Index" in plan[scan] and "channel_message_id = " in plan[scan + 1], plan
        assert not any("Filter" in line for line in plan[scan:scan + 3]), plan


def _step(pid: int, rev: int, n: int) -> StepRecord:
    when = datetime(2026, 11, 23, 9, n, tzinfo=UTC)
    return StepRecord(participant_id=pid, expected_revision=rev, state={"n": n}, at=when,
                      inbound=InboundRecord("sms", f"SM-{pid}-{n}", when),
                      answers=[AnswerRecord(1, "pss10", 1, "q1", n, str(n), when)],
                      outbox=[OutboundRecord("sms", {"to": pid, "n": n, "k": k}, when) for k in range(2)],
                      audit=[AuditRecord("system", "test.step", f"participant:{pid}", when, {"n": n})])


async def test_a_batch_of_steps_is_one_statement_and_each_gets_its_own_outbox_ids(postgres_url: str) -> None:
    """On PostgreSQL a batch's common rows (inbox, conversations, answers, outbox, audit) go in one statement
    (storage/sql/steps_pg.py): the outbox ids come back in the order planned, each step's to its own rows; a batch
    that writes one conversation twice is written table by table, with the same results."""
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    try:
        await store.migrate()
        pids = [(await store.get_or_create_participant(f"p{i}", "da", datetime.now(UTC))).id for i in range(12)]
        for engine in store.sync_engines:
            event.listen(engine, "before_cursor_execute", record)
        first = await asyncio.gather(*(store.commit_step(_step(pid, 0, 1)) for pid in pids))
        writes = [st for st in seen if "INSERT INTO outbox" in st]
        assert len(writes) == 1 and writes[0].startswith("WITH "), writes  # one batch, one statement
        again = await asyncio.gather(*(store.commit_step(_step(pid, 1, 2)) for pid in pids),
                                     store.commit_step(_step(pids[0], 2, 3)))  # pids[0] twice: table by table
        for results, n_of in ((first, lambda _: 1), (again, lambda k: 3 if k == len(pids) else 2)):
            for k, result in enumerate(results):
                assert result.status is CommitStatus.COMMITTED
                pid = pids[k % len(pids)]
                rows = {row.id: row.payload for row in await store.pending_outbox("sms", limit=1000)}
                assert [rows[i] for i in result.outbox_ids] == [{"to": pid, "n": n_of(k), "k": j} for j in range(2)]
        assert (await store.load_conversation(pids[0])).revision == 3
        assert (await store.load_conversation(pids[1])).revision == 2
    finally:
        await store.close()


async def test_a_value_too_long_for_its_column_is_refused_not_cut_short(postgres_url: str) -> None:
    """The one statement casts its arrays without a length: an explicit cast to VARCHAR(200) would cut a longer
    message id short without a word (and a redelivery would then never be seen as one). The step is refused alone;
    the rest of its batch commits."""
    store = SqlStorage(postgres_url, key_environ=new_key_values())
    try:
        await store.migrate()
        a, b = [(await store.get_or_create_participant(ref, "da", datetime.now(UTC))).id for ref in ("a", "b")]
        too_long = replace(_step(a, 0, 1), inbound=InboundRecord("sms", "SM" + "x" * 300, datetime.now(UTC)))
        refused, committed = await asyncio.gather(store.commit_step(too_long), store.commit_step(_step(b, 0, 1)),
                                                  return_exceptions=True)
        assert isinstance(refused, Exception), refused
        assert isinstance(committed, CommitResult) and committed.status is CommitStatus.COMMITTED
        assert (await store.load_conversation(a)).revision == 0
    finally:
        await store.close()
