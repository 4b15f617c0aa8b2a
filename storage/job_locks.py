"""Job locks: which process runs a job that must run in one process at a time (the escalation watcher, retention...).

On PostgreSQL a job's lock is a session-level advisory lock (``pg_try_advisory_lock``) taken on a connection of
its own, kept open (idle, outside any transaction) for as long as the process lives: the server releases it when the
session ends, so when the process dies (kill -9, a crash, the machine) another process gets the job at its next try.
Nothing else in the database uses advisory locks, so the keys (a hash of the job's name) cannot collide with ours.

SQLite is one `bot run` per file (bot/singleton.py refuses a second), so that process holds every job lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy import NullPool, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")


def sqlite_file(target: str | os.PathLike[str]) -> Path | None:
    """The SQLite file `target` (a path or a SQLite URL) names, or None for another database (a server's URL)."""
    raw = os.fspath(target)
    if "://" not in raw:
        return Path(raw).expanduser().resolve()
    url = make_url(raw)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).expanduser().resolve()


def lock_key(name: str) -> int:
    """The advisory lock key of a job: 64 bits of a hash of its name (signed, as PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.sha256(f"stressbot job {name}".encode()).digest()[:8], "big", signed=True)


class JobLocks:
    """The job locks of this process on its database (`target`, as `BOT_DB`)."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self._engine: AsyncEngine | None = None
        if sqlite_file(target) is None:
            # its own connection, not the storage's pool: the session *is* the lock
            self._engine = create_async_engine(make_url(os.fspath(target)), poolclass=NullPool, hide_parameters=True)
        self._conn: AsyncConnection | None = None
        self._held: set[str] = set()

    async def hold(self, name: str) -> bool:
        """Whether this process holds the job's lock now, taking it if it is free. A lost session (the server
        restarted, the network broke) loses every lock: they are tried for again on a new one."""
        if self._engine is None:
            return True
        try:
            conn = await self._connection()
            if name in self._held:
                await conn.execute(text("SELECT 1"))  # still the same session, so still ours
                return True
            if await conn.scalar(_TRY_LOCK, {"key": lock_key(name)}):
                self._held.add(name)
                log.info("this process now runs the %s job", name)
                return True
            return False
        except Exception:
            log.warning("the job lock connection failed; every job lock is tried for again", exc_info=True)
            await self._drop()
            return False

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            assert self._engine is not None
            self._conn = await self._engine.connect()
            self._conn = await self._conn.execution_options(isolation_level="AUTOCOMMIT")  # never idle in a transaction
        return self._conn

    async def _drop(self) -> None:
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        """Release every lock (the session ends)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
        self._held.clear()
        if self._engine is not None:
            await self._engine.dispose()
