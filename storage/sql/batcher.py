"""Group commit: one writer runs whatever is queued in one transaction and commits once.

Every write goes through one writer (a `Batcher`). It takes everything queued, up to `max_batch` jobs, runs
them in a single ``BEGIN IMMEDIATE`` transaction, commits once (one fsync under ``synchronous=FULL``) and only
then resolves each caller. A lone call is written at once; batches form by themselves while a commit is in
flight. If a batch fails before its COMMIT, nothing of it was written, so it is split in halves and retried
until the failing job is alone and only its caller gets the error. If the COMMIT itself fails, the outcome is
unknown and every caller in the batch gets the error: no one is told a write succeeded that may not have.
The hot reads (a conversation, a participant by ref) are batched the same way by a reader.

Our own code rather than a library's: SQLAlchemy's pools and drivers commit per connection, and SQLite allows one
writer at a time, so throughput under ``synchronous=FULL`` is one fsync per commit; sharing that fsync among every
waiting caller, with failures kept to their own caller, is what makes the bot fast and durable at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from storage.errors import StorageClosed
from storage.sql.claims import RACE_RETRIES, lost_race
from storage.sql.engine import CommitFailed, Runner


class Kind(IntEnum):
    """Job kinds, in the order a batch applies them."""

    PARTICIPANT = 1
    STEP = 2
    SENT = 3
    AUDIT = 4
    FLOW = 5
    ESCALATION = 6  # acknowledge, close, raise tier, notifications: `EscalationOp`s, in queue order
    CONTACT = 7  # enrolment, addresses, link codes, consent, delivery reports: `ContactOp`s, in queue order
    PROGRAMME = 8  # planning and claiming schedule rows, completing coach tasks: `ProgrammeOp`s, in queue order
    READ_PARTICIPANT = 9
    READ_CONVERSATION = 10
    READ_BY_ADDRESS = 11
    READ_ADDRESSES = 12
    READ_BY_PROVIDER_ID = 13
    PRAGMAS = 14
    READ_OUTBOX_CLAIM = 15  # a dispatcher's claim on a SQLite file (storage/sql/outbox_claims.py `LocalLeases`)
    READ_ONE = 16  # a one-statement lookup on the hot path: (function of a Connection, its arguments) (`lookup`)


@dataclass(eq=False)
class Job:
    kind: Kind
    payload: Any
    future: asyncio.Future[Any]


Handler = Callable[[Connection, list[Any]], list[Any]]
STOP = object()


class Batcher:
    """One task that runs whatever is queued, up to `max_batch` jobs, in one transaction (group commit)."""

    def __init__(self, name: str, runner: Runner, handlers: dict[Kind, Handler], max_batch: int) -> None:
        self._name = name
        self._runner = runner
        self._handlers = handlers
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Job | object] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def engine(self) -> Engine:
        return self._runner.engine

    async def submit(self, kind: Kind, payload: Any) -> Any:
        if self._closed:
            raise StorageClosed("storage is closed")
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done():  # first use, or after a crash
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._loop(self._queue), name=self._name)
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait(Job(kind, payload, future))
        return await future

    def _more(self) -> bool:
        """Whether jobs wait for the next batch (asked on the runner's thread: a hint, `qsize` is a length read)."""
        queue = self._queue
        return queue is not None and queue.qsize() > 0 and not self._closed

    async def stop(self) -> None:
        """Finish the jobs already queued, then end the task and release the runner."""
        if not self._closed:
            self._closed = True
            if self._queue is not None and self._task is not None and not self._task.done():
                self._queue.put_nowait(STOP)
                await self._task
            await self._runner.close()

    async def _loop(self, queue: asyncio.Queue[Job | object]) -> None:
        stopping = False
        batch: list[Job] = []
        try:
            while not stopping:
                first = await queue.get()
                if first is STOP:
                    break
                if queue.empty():  # alone: one yield lets callers made ready together join this batch
                    await asyncio.sleep(0)  # (with others queued, not: under load a yield waits out a whole busy
                                            # loop iteration, 10-20 ms at 1,500 steps/s, with the lock free)
                batch = [cast(Job, first)]
                while len(batch) < self._max_batch and not queue.empty():
                    item = queue.get_nowait()
                    if item is STOP:
                        stopping = True
                        break
                    batch.append(cast(Job, item))
                await self._run([job for job in batch if not job.future.cancelled()])
                batch = []
        finally:  # reached with jobs in hand only if this task itself was cancelled
            fail(batch, RuntimeError(f"{self._name} was cancelled; this job may or may not have run"))
            waiting = [cast(Job, item) for item in drain(queue) if item is not STOP]
            fail(waiting, RuntimeError(f"{self._name} was cancelled before running this job"))

    async def _run(self, jobs: list[Job], attempt: int = 0) -> None:
        if not jobs:
            return
        try:
            results = await self._runner.run(lambda conn: self._apply(conn, jobs), self._more)
        except CommitFailed as exc:
            fail(jobs, exc.__cause__ or exc)
        except OperationalError as exc:  # locked, disk full, I/O: not one job's fault; retrying won't help
            if lost_race(exc) and attempt < RACE_RETRIES:  # PostgreSQL rolled it back: run it again
                await self._run(jobs, attempt + 1)
            else:
                fail(jobs, exc)
        except Exception as exc:
            if len(jobs) == 1:
                fail(jobs, exc)
            else:  # nothing was written: isolate the failing job(s) and let the others commit
                half = len(jobs) // 2
                await self._run(jobs[:half])
                await self._run(jobs[half:])
        else:
            for job, result in zip(jobs, results, strict=True):
                if job.future.done():
                    continue
                if isinstance(result, Exception):  # refused by its handler; the rest of the batch went in
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    def _apply(self, conn: Connection, jobs: list[Job]) -> list[Any]:
        results: list[Any] = [None] * len(jobs)
        for kind in Kind:
            picked = [i for i, job in enumerate(jobs) if job.kind is kind]
            if picked:
                out = self._handlers[kind](conn, [jobs[i].payload for i in picked])
                for i, result in zip(picked, out, strict=True):
                    results[i] = result
        return results


def lookups(conn: Connection, payloads: list[Any]) -> list[Any]:
    """`Kind.READ_ONE`: each payload is (function, arguments), run as function(conn, *arguments)."""
    return [function(conn, *arguments) for function, arguments in payloads]


def drain(queue: asyncio.Queue[Job | object]) -> list[Job | object]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def fail(jobs: list[Job], exc: BaseException) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)
