"""Answers per second through the real loop: engine + one database commit per answer + outbox rows.

    python benchmarks/answers.py [--participants N] [--rate R] [--db PATH|URL] [--processes N[,N...]] [--postgres]

N simulated participants (default 1,000) answer PSS-10 concurrently; each answer is a
`ConversationLoop.handle` call that returns only after its transaction (state, answer, score, outbox rows,
inbox row) is committed with synchronous=FULL. Two phases, each with N new participants:

- saturation: everybody answers as fast as the bot replies. Gives `answers_per_s`, the capacity, and
  `cpu_ms_per_answer`, the bot processes' CPU time per answer (every thread; a database server's not counted).
- paced: answers arrive at a steady R answers/s (default 2,000), person after person, each person
  answering every N/R seconds. Gives `p50_ms`/`p99_ms`, the latency a person sees at that load, measured
  from when each answer was due (so a bot that falls behind cannot hide it). (Under saturation the
  latency is only queueing: with 1,000 answers in flight it is about 1,000 / capacity; printed as well.)
  Also `paced_cpu_ms_per_answer` and `paced_loop_busy_pct`, the share of the time the event loop's thread was
  on the CPU: an answer costs more when paced (a batch commits 5-10 answers, not hundreds, and its fixed cost
  is shared by fewer), and the tail grows as the loop nears 100 %.

Several bot processes (`--processes 2`, or `1,2,4` for one run each): each is a separate OS process with its own
app and storage on the same database, answering for its own share of the participants (and of the offered
rate) from a common start; answers/s is every process's answers over the wall time until the last one finished.
That is what several processes behind a load balancer do, and it only makes sense on a database server
(`--db postgresql+psycopg://...`, or `--postgres`: a throwaway PostgreSQL with fsync on, started for the run).
With a server database, SQLite (one process, a new file) is measured in the same run for comparison.

For comparison, the raw single-row commit rate of sqlite3 on the same disk with the same pragmas is
measured in the same run (just before), with each commit's p99 and max: the disk's own tail, below which no
answer's can be. And the machine's cost of waking up (`engine_step_warm_us`, `engine_step_after_idle_us`): one
engine step (flows/engine.py `advance`, an answer to PSS-10) timed back to back, then each after 2 ms asleep. On the
shared 2-core virtual machine the second was 4-10 times the first (cold caches after the host ran something else,
presumably): that is why an answer costs about twice the CPU paced that it costs saturated, and a reader can see how
cold the machine was in a run. The last line printed is one JSON object with the figures (with several
configurations: {"runs": [one object each]}).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import queue
import resource
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App, open_app
from bot.runtime import tune_runtime
from bot.settings import reload_settings
from flows.engine import advance
from flows.inputs import StartFlow, Text
from storage.crypto import new_key_values
from storage.records import InboundRecord, Participant

ANSWERS = ["2", "3", "1", "Ret ofte", "0", "4", "2", "2", "1", "3"]


@dataclass
class RawCommits:
    """The disk's own figures: back-to-back single-row commits, and how long each took (its fsync, mostly). An
    answer waits for at least one commit, often the end of the one in flight too: the commits' p99 and max are the
    physical floor of the answers' tail in the same run."""

    per_s: float
    p99_ms: float
    max_ms: float


def raw_commits(path: Path, seconds: float = 2.0) -> RawCommits:
    """Single-row INSERT + COMMIT per iteration with WAL and synchronous=FULL, like the bot's settings."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    took: list[float] = []
    start = time.perf_counter()
    while (begun := time.perf_counter()) - start < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v) VALUES (?)", ("x" * 100,))
        db.execute("COMMIT")
        took.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - start
    db.close()
    took.sort()
    return RawCommits(len(took) / elapsed, percentile(took, 0.99), took[-1] * 1000)


async def answer_pss10(app: App, participant: Participant, index: int, count: int, phase: str, rate: float,
                       start: float, latencies: list[float]) -> None:
    """One person answering all ten items; in the paced phase answer n of person i is due at (n*count+i)/rate."""
    for n, text in enumerate(ANSWERS):
        due = start + (n * count + index) / rate if phase == "paced" else 0.0
        if due:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        inbound = InboundRecord("console", f"{participant.ref}-{n}", app.clock.now())
        t0 = due or time.perf_counter()  # measured from when the answer was due: falling behind shows
        await app.loop.handle(participant, Text(text), "console", inbound)
        latencies.append(time.perf_counter() - t0)


@dataclass
class Phase:
    """What one process measured in one phase: its latencies, and when it started and finished (time.monotonic,
    which every process on the machine shares)."""

    latencies: list[float]
    started: float
    finished: float
    cpu_s: float  # the process's CPU time over the phase (every thread: the loop, the writer's), time.process_time
    loop_cpu_s: float  # the event loop's thread alone (time.thread_time): every Python step runs there, under the GIL


async def drive(db: str, prefix: str, participants: int, rate: float, barrier: Any = None) -> dict[str, Phase]:
    """One bot process's part: its participants start PSS-10, wait for every process to be ready (`barrier`),
    then answer; once for each phase."""
    results: dict[str, Phase] = {}
    async with open_app(db) as app:
        for phase in ("saturation", "paced"):
            people = [await app.storage.get_or_create_participant(f"{prefix}{phase}-{i}", "da", app.clock.now())
                      for i in range(participants)]
            await asyncio.gather(*(app.loop.handle(p, StartFlow("pss10"), "console") for p in people))
            if barrier is not None:
                await asyncio.to_thread(barrier.wait)
            latencies: list[float] = []
            started, cpu, loop_cpu = time.monotonic(), time.process_time(), time.thread_time()
            start = time.perf_counter()
            await asyncio.gather(*(answer_pss10(app, p, i, participants, phase, rate, start, latencies)
                                   for i, p in enumerate(people)))
            results[phase] = Phase(latencies, started, time.monotonic(), time.process_time() - cpu,
                                   time.thread_time() - loop_cpu)
    return results


def _process(db: str, prefix: str, participants: int, rate: float, barrier: Any, out: Any) -> None:
    """The body of one bot process (multiprocessing, spawned): its figures go back through `out`."""
    tune_runtime()
    out.put(asyncio.run(drive(db, prefix, participants, rate, barrier)))


def run_processes(db: str, prefix: str, participants: int, rate: float, processes: int) -> dict[str, list[Phase]]:
    """`processes` bot processes on `db`, each with participants/processes people at rate/processes answers/s."""
    if processes == 1:
        return {phase: [result] for phase, result in asyncio.run(drive(db, prefix, participants, rate)).items()}
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_process, name=f"bot-{k}", daemon=True,
                               args=(db, f"{prefix}w{k}-", participants // processes, rate / processes, barrier, out))
               for k in range(processes)]
    for worker in workers:
        worker.start()
    results: list[dict[str, Phase]] = []
    try:
        while len(results) < processes:
            try:
                results.append(out.get(timeout=1.0))
            except queue.Empty:
                if dead := [w.name for w in workers if w.exitcode not in (None, 0)]:
                    barrier.abort()  # the others would wait for it forever
                    raise SystemExit(f"bot processes failed: {', '.join(dead)}") from None
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    return {phase: [r[phase] for r in results] for phase in ("saturation", "paced")}


async def completed_scores(db: str, prefix: str) -> int:
    """How many PSS-10 scores the participants of this configuration have (each must have completed both)."""
    async with open_app(db) as app:
        return sum(1 for score in await app.storage.export_scores() if str(score["participant"]).startswith(prefix))


async def wake_cost(db: str, steps: int = 300, idle_s: float = 0.002) -> tuple[float, float]:
    """Median µs of one engine step (the second answer to PSS-10, nothing written) back to back, and after `idle_s`
    asleep before each (see the module's docstring)."""
    async with open_app(db) as app:
        person = await app.storage.get_or_create_participant(f"wake-probe-{os.getpid()}", "da", app.clock.now())
        await app.loop.handle(person, StartFlow("pss10"), "console")
        state = await app.loop.state_of(person)
        library = await app.registry.library_for(state)
        now = app.clock.now()
        medians = []
        for idle in (0.0, idle_s):
            took = []
            for _ in range(steps):
                if idle:
                    time.sleep(idle)  # the whole process asleep, as a bot between messages
                begun = time.perf_counter()
                advance(library, state, Text(ANSWERS[0]), now)
                took.append(time.perf_counter() - begun)
            medians.append(statistics.median(took) * 1e6)
        return medians[0], medians[1]


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def measure(db: str, label: str, participants: int, rate: float, processes: int) -> dict[str, Any]:
    participants -= participants % processes  # everyone answers: an equal share per process
    prefix = f"{label}-{processes}p-{os.getpid()}-"  # several configurations may share one database
    asyncio.run(completed_scores(db, prefix))  # migrated (and keys checked) before the processes start
    results = run_processes(db, prefix, participants, rate, processes)
    done = asyncio.run(completed_scores(db, prefix))
    if done != 2 * participants:
        raise SystemExit(f"{label}, {processes} process(es): expected {2 * participants} completed PSS-10 scores, "
                         f"found {done}")
    sat, paced = results["saturation"], results["paced"]

    def elapsed(parts: list[Phase]) -> float:
        return max(p.finished for p in parts) - min(p.started for p in parts)

    sat_sorted = sorted(x for p in sat for x in p.latencies)
    paced_sorted = sorted(x for p in paced for x in p.latencies)
    return {
        "db": label,
        "processes": processes,
        "participants": participants,
        "answers": len(sat_sorted) + len(paced_sorted),
        "answers_per_s": round(len(sat_sorted) / elapsed(sat), 1),
        "cpu_ms_per_answer": round(sum(p.cpu_s for p in sat) / len(sat_sorted) * 1000, 3),  # the bot processes
        "paced_cpu_ms_per_answer": round(sum(p.cpu_s for p in paced) / len(paced_sorted) * 1000, 3),
        # how busy each process's event loop was while paced (the busiest): near 100 % every late step waits
        "paced_loop_busy_pct": round(max(100 * p.loop_cpu_s / (p.finished - p.started) for p in paced), 1),
        "p50_ms": round(statistics.median(paced_sorted) * 1000, 2),
        "p99_ms": round(percentile(paced_sorted, 0.99), 2),
        "offered_per_s": rate,
        "paced_achieved_per_s": round(len(paced_sorted) / elapsed(paced), 1),
        "saturated_p50_ms": round(statistics.median(sat_sorted) * 1000, 2),
        "saturated_p99_ms": round(percentile(sat_sorted, 0.99), 2),
    }


def report(figures: dict[str, Any]) -> None:
    where = f"{figures['db']}, {figures['processes']} process(es)"
    print(f"== {where}: {figures['participants']} participants per phase, 10 PSS-10 answers each")
    print(f"answers/s             {figures['answers_per_s']}   (saturated; {figures['cpu_ms_per_answer']} ms of CPU "
          "per answer in the bot processes, the server's not counted)")
    print(f"  latency, saturated  p50 {figures['saturated_p50_ms']} ms, p99 {figures['saturated_p99_ms']} ms "
          f"(queueing: {figures['participants']} answers in flight)")
    print(f"paced                 {figures['offered_per_s']:g} answers/s offered, {figures['paced_achieved_per_s']} "
          "achieved")
    print(f"latency per answer    p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
    print(f"  while paced         {figures['paced_cpu_ms_per_answer']} ms of CPU per answer; the event loop's thread "
          f"busy {figures['paced_loop_busy_pct']} % of the time (its steps queue as it nears 100 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000, help="per phase, over all processes")
    parser.add_argument("--rate", type=float, default=2000.0, help="answers/s offered in the paced phase")
    parser.add_argument("--db", help="database file or URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL (fsync on) for the run and use it as --db")
    parser.add_argument("--processes", default="1", help="bot processes, or a list such as 1,2,4 (one run each)")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop a throwaway server on `kill` too
    tune_runtime()  # as `python -m bot` does
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-", dir=os.environ.get("BENCH_TMP")))
        sqlite_path = str(Path(tmp) / "bench.db")
        db = args.db or sqlite_path
        if args.postgres:
            from tests.postgres_cluster import start_cluster

            cluster = start_cluster(durable=True, directory=os.environ.get("BENCH_TMP"))
            stack.callback(cluster.stop)
            cluster.admin('CREATE DATABASE "bench"')
            db = cluster.url("bench")
        label = "sqlite" if "://" not in db or db.startswith("sqlite") else db.split(":", 1)[0].split("+")[0]
        if label != "sqlite":
            for name, value in new_key_values().items():  # a server database has no key file beside it
                os.environ.setdefault(name, value)
            reload_settings()
        raw = raw_commits(Path(tmp) / "raw.db")
        configurations = [(sqlite_path, "sqlite", 1)] if label != "sqlite" else []
        configurations += [(db, label, n) for n in counts]
        runs = [measure(where, name, args.participants, args.rate, n) for where, name, n in configurations]
        warm_us, idle_us = asyncio.run(wake_cost(sqlite_path if label != "sqlite" else db))
    peak_rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # this process (1 process)
    for figures in runs:
        report(figures)
    print(f"peak RSS              {peak_rss} MB (the measuring process)")
    print(f"raw sqlite commits/s  {round(raw.per_s, 1)}   (one row per COMMIT, WAL, synchronous=FULL; each took p99 "
          f"{raw.p99_ms:.2f} ms, max {raw.max_ms:.2f} ms: the disk's own tail)")
    print(f"one engine step       {warm_us:.0f} µs back to back, {idle_us:.0f} µs after 2 ms asleep (this machine's "
          "cost of waking up: paced answers pay part of it)")
    for figures in runs:
        figures.update(raw_commits_per_s=round(raw.per_s, 1), raw_commit_p99_ms=round(raw.p99_ms, 2),
                       raw_commit_max_ms=round(raw.max_ms, 2), engine_step_warm_us=round(warm_us, 1),
                       engine_step_after_idle_us=round(idle_us, 1))
    if len(runs) == 1:
        print(json.dumps({**runs[0], "peak_rss_mb": peak_rss}))
    else:
        print(json.dumps({"runs": runs, "peak_rss_mb": peak_rss}))


if __name__ == "__main__":
    main()
