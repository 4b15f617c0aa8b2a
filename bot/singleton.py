"""What must run in one process only: `bot run` on a SQLite file, and the jobs that are not safe to run everywhere.

SQLite is the embedded database of one process: a second `bot run` on the same file is refused with one line
(`sole_process`: an exclusive ``flock`` on ``<database>.lock``, which the kernel drops when the process dies, so a
crash leaves nothing to clean up). That keeps SQLite's claims as cheap as they are: one process needs no locks
between processes. Read commands and administration (`bot person ...`, the report) still open the file beside it.

On PostgreSQL several `bot run` processes share the work (docs/architecture.md, "Several processes"): schedule and
outbox rows are claimed with leases (storage/sql/claims.py), so the programme's tick and the dispatchers run in every
process. The jobs that look at the whole database and act outside it run in one process at a time, the one holding
the job's advisory lock (storage/job_locks.py): `every` runs such a job while this process holds its lock, and
otherwise tries for the lock again every `TAKEOVER`, so when the process running it dies another takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

from storage.job_locks import JobLocks, sqlite_file

log = logging.getLogger(__name__)
TAKEOVER = timedelta(seconds=30)  # how often a process without a job's lock tries for it


class AnotherProcess(Exception):
    """Another `bot run` has the SQLite file; the message says so in one line."""


@contextlib.contextmanager
def sole_process(target: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``<database>.lock`` exclusively while the block runs, for a SQLite file; nothing for a server's URL.
    Raises `AnotherProcess` if another process holds it."""
    path = sqlite_file(target)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnotherProcess(f"another bot run is using {path} (it holds {lock_path.name}); one process per "
                                 f"SQLite file: stop it first, or use PostgreSQL for several") from None
        yield
    finally:
        os.close(fd)  # releases the lock


async def every(locks: JobLocks, name: str, job: Callable[[], Awaitable[object]], interval: timedelta, *,
                first_after: timedelta = timedelta(0)) -> None:
    """Run `job` every `interval` for as long as this process holds the job's lock (forever: a background task);
    a failed run is logged and the job runs again at the next interval."""
    await asyncio.sleep(first_after.total_seconds())
    while True:
        if await locks.hold(name):
            try:
                await job()
            except Exception:
                log.exception("the %s job failed; trying again", name)
            await asyncio.sleep(interval.total_seconds())
        else:
            await asyncio.sleep(min(interval, TAKEOVER).total_seconds())
