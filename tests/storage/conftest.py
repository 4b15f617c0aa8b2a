"""Fixtures for the storage tests: one `store` per implementation, always closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import SqlStorage
from storage.crypto import new_key_values


@pytest.fixture(params=["sqlite", "sqlite-async", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStorage]:
    """The `Storage`: SQLite on a real file (in a directory it must create) with each runner, and a database of
    its own on the run's PostgreSQL server (keys from the environment, as a server database has no key file)."""
    if request.param == "postgresql":
        impl = SqlStorage(request.getfixturevalue("postgres_url"), key_environ=new_key_values())
    else:
        runner = "async" if request.param == "sqlite-async" else "hybrid"
        impl = SqlStorage(tmp_path / "data" / "bot.sqlite", runner=runner)
    await impl.migrate()
    try:
        yield impl
    finally:
        await impl.close()


@pytest.fixture(params=["hybrid", "async"])
async def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStorage]:
    impl = SqlStorage(tmp_path / "bot.sqlite", runner=request.param)
    await impl.migrate()
    try:
        yield impl
    finally:
        await impl.close()
