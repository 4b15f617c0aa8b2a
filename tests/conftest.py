"""Shared fixtures: a real SQLite file per test, a real PostgreSQL database per test that asks for one (a server
the run starts: tests/postgres_cluster.py), and a clock that only moves when the test moves it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.settings import reload_settings
from tests.postgres_cluster import PostgresCluster, PostgresUnavailable, start_cluster

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Copenhagen


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-transcripts", action="store_true", default=False,
                     help="write what the bot does now into tests/transcripts/*.txt (after a deliberate change; "
                          "review the result with git diff)")


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Each test reads the environment as it set it (monkeypatch.setenv), not as an earlier test left it."""
    reload_settings()
    yield
    reload_settings()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL server for the whole run, started by the first test that needs it and removed at
    the end. Where it cannot start, its tests are skipped with the reason, except in CI (``CI=true``): there a
    missing PostgreSQL is a failure, or the suite would pass without ever running on it."""
    try:
        cluster = start_cluster()
    except PostgresUnavailable as reason:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of a database of this test's own, empty, dropped afterwards."""
    name = postgres_cluster.new_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "bot.db")


@pytest.fixture
async def app(db_path: str, clock: FakeClock) -> AsyncIterator[App]:
    async with open_app(db_path, clock) as opened:
        yield opened


def without_consent(tmp_path: Path) -> Path:
    """The shipped deployment configuration minus the consent block: for tests about something else than
    consent (consent itself is tested in tests/test_data_protection.py, tests/test_reach.py and the SMS and
    Telegram tests)."""
    from bot.deployment import DEFAULT_PATH

    text = DEFAULT_PATH.read_text(encoding="utf-8")
    start, end = text.index("consent:\n"), text.index("escalation:\n")
    path = tmp_path / "deployment-without-consent.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def app_without_consent(tmp_path: Path, at: datetime | FakeClock,
                              coach_channels: Mapping[str, Any] | None = None) -> AsyncIterator[App]:
    """The app on a new file, its clock at `at` (or the test's own clock), the deployment `without_consent`, coaches
    reached only through `coach_channels` (none by default): what most tests of the programme and the human path
    start from."""
    clock = at if isinstance(at, FakeClock) else FakeClock(at)
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=without_consent(tmp_path),
                        coach_channels=dict(coach_channels or {})) as opened:
        yield opened
