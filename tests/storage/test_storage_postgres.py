"""What only PostgreSQL needs: several bot processes start on one database at the same time (a deploy), and each
brings the schema up to date on start. On SQLite ``BEGIN IMMEDIATE`` serialises them; on PostgreSQL they would
race to create the same tables unless the migration takes a lock (storage/migrations.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from storage import SqliteStorage
from storage.crypto import new_key_values
from storage.schema import schema_migrations


async def test_processes_starting_together_migrate_one_after_the_other(postgres_url: str) -> None:
    keys = new_key_values()
    stores = [SqliteStorage(postgres_url, key_environ=keys) for _ in range(4)]  # four engines: four "processes"
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        async with stores[0].engine.connect() as conn:
            ledger = (await conn.execute(select(schema_migrations.c.version, func.count())
                                         .group_by(schema_migrations.c.version))).all()
        assert ledger and all(count == 1 for _, count in ledger)  # every migration recorded once
        # and each works on the same tables: anna made by one is found by the others
        made = await stores[1].get_or_create_participant("anna", "da", datetime(2026, 11, 23, 9, tzinfo=UTC))
        found = [await store.get_or_create_participant("anna", "da", datetime.now(UTC)) for store in stores]
        assert {p.id for p in found} == {made.id}
    finally:
        for store in stores:
            await store.close()
