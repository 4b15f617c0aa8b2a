"""What every part of `SqlStorage` works with: the keys, the async engine, the writer and the reader.

Each domain module's methods (`OutboxMethods`, `DirectoryMethods`, ...) derive from `StoreBase`, so the class that
puts them together (storage/sql/store.py) is the one place that builds these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.crypto import Keys
from storage.errors import StorageClosed
from storage.sql.batcher import Batcher, Kind
from storage.sql.engine import scrub_file
from storage.sql.schedule_rows import EventMemo

T = TypeVar("T")


class StoreBase:
    _keys: Keys
    _engine: AsyncEngine
    _writer: Batcher  # every write, in group commits
    _reader: Batcher  # the hot lookups, batched the same way
    _path: Path | None  # the SQLite file, or None for another database
    _closed: bool
    _event_memo: EventMemo
    _apart_writes: set[asyncio.Future[int]]  # bulk plans on a server, written beside `_writer`; `close()` waits

    def _connect(self) -> AsyncConnection:
        if self._closed:
            raise StorageClosed("storage is closed")
        return self._engine.connect()

    async def lookup(self, function: Callable[..., T], *arguments: Any) -> T:
        """`function(conn, *arguments)` on the reader, batched with the other hot lookups: for reads that are one
        SELECT (the reader opens no transaction, so two statements could see two states of the database).

        On a SQLite file the reader runs inline on the event loop, where a read never waits for a writer (WAL). The
        `_connect` path goes through aiosqlite: a thread per connection and a hand-off per call (checkout, BEGIN,
        the statement, each fetch, the reset), each waiting for the busy loop. A dispatcher's look at the outbox
        and a person's programme and arm on their first messages went that way: aiosqlite's threads were a fifth of
        the bot's CPU on Telegram with the limits off (benchmarks/telegram.py --profile); through here, CPU per
        update fell from 3.43 to 3.05 ms (K = 1,000, interleaved runs)."""
        return cast(T, await self._reader.submit(Kind.READ_ONE, (function, arguments)))

    async def scrub(self) -> None:
        """Rewrite the file so that deleted rows leave no bytes behind: ``VACUUM`` (every page written anew from
        the live rows), then a ``TRUNCATE`` checkpoint (the WAL, which still holds old page images, emptied).

        Part of a real erase. It holds the write lock while it runs (writers wait, up to busy_timeout); on a
        database that is not a SQLite file it does nothing (PostgreSQL: see docs/data-protection.md)."""
        if self._closed:
            raise StorageClosed("storage is closed")
        if self._path is not None:
            await asyncio.to_thread(scrub_file, self._path)

