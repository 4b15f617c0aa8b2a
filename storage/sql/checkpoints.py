"""WAL checkpoints off the writer's path: a connection and a thread of their own copy the WAL into the database.

With SQLite's automatic checkpoint the commit that crosses ``wal_autocheckpoint`` pages copies the whole WAL into
the database file and fsyncs it before COMMIT returns, and every caller of that batch, and everyone queued behind
it, waits. `benchmarks/answers.py` at 2,000 answers/s offered writes the 10,000 pages of the pragma about once a
run; the commit that checkpointed took 0.1-0.85 s (on the shared 2-core machine), 200 to 1,700 answers late at
once: alone enough to take a run's p99 from ~10 ms past 100 ms, in the runs where it fell in the measured phase.

A ``PASSIVE`` checkpoint takes no lock a writer needs, so here one runs on the `Checkpointer`'s thread, at most
every `every` seconds while the writer commits. The writer keeps ``wal_autocheckpoint`` as a backstop: SQLite
starts the WAL again from its beginning only at a write transaction that finds every frame already copied, which
under unbroken load may not happen; then the WAL reaches the pragma's size and the writer's own checkpoint runs,
but it copies only the few frames written since the last pass here.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection and thread, one at a time, when due."""

    def __init__(self, path: Path, every: float = 0.5) -> None:
        self._path = path
        self._every = every
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-checkpointer")
        self._conn: sqlite3.Connection | None = None
        self._running: Future[None] | None = None
        self._last = time.monotonic()
        self.passes = 0  # checkpoints run (for tests)

    def after_commit(self) -> None:
        """Called after each commit of the writer: start a pass if none is running and the last one is `every` old."""
        now = time.monotonic()
        if (self._running is None or self._running.done()) and now - self._last >= self._every:
            self._last = now
            self._running = self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
                self._conn.execute("PRAGMA busy_timeout=5000")
                self._conn.execute("PRAGMA synchronous=FULL")  # the database file is fsynced before the WAL is reused
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.passes += 1
        except sqlite3.Error:  # nothing is lost: the writer's own checkpoint is the backstop
            log.warning("background WAL checkpoint failed; the writer will checkpoint itself", exc_info=True)
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Wait for a pass still running, then close the connection and the thread."""
        self._thread.submit(self._close)
        self._thread.shutdown(wait=True)
