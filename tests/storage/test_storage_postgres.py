"""What only PostgreSQL needs: several bot processes start on one database at the same time (a deploy), and each
brings the schema up to date on start. On SQLite ``BEGIN IMMEDIATE`` serialises them; on PostgreSQL they would
race to create the same tables unless the upgrade takes a lock (storage/upgrade.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text

from storage import SqlStorage
from storage.crypto import new_key_values
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
