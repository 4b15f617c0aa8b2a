"""Fixtures for the storage tests: one `store` per implementation, always closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import MemoryStorage, SqliteStorage
from storage.crypto import new_key_values

Store = SqliteStorage | MemoryStorage


@pytest.fixture(params=["sqlite", "sqlite-async", "memory", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each `Storage`: SQLite on a real file (in a directory it must create) with each runner, memory, and a
    database of its own on the run's PostgreSQL server (keys from the environment, as a server database has no
    key file)."""
    impl: Store
    if request.param == "memory":
        impl = MemoryStorage()
    elif request.param == "postgresql":
        impl = SqliteStorage(request.getfixturevalue("postgres_url"), key_environ=new_key_values())
    else:
        runner = "async" if request.param == "sqlite-async" else "hybrid"
        impl = SqliteStorage(tmp_path / "data" / "bot.sqlite", runner=runner)
    await impl.migrate()
    try:
        yield impl
    finally:
        await impl.close()


@pytest.fixture(params=["hybrid", "async"])
async def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    impl = SqliteStorage(tmp_path / "bot.sqlite", runner=request.param)
    await impl.migrate()
    try:
        yield impl
    finally:
        await impl.close()
