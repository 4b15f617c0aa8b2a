"""Answers per second through the real loop: engine + one SQLite commit per answer + outbox rows.

    python benchmarks/answers.py [--participants N] [--rate R] [--db PATH]

N simulated participants (default 1,000) answer PSS-10 concurrently; each answer is a
`ConversationLoop.handle` call that returns only after its transaction (state, answer, score, outbox rows,
inbox row) is committed with synchronous=FULL. Two phases, each with N new participants:

- saturation: everybody answers as fast as the bot replies. Gives `answers_per_s`, the capacity.
- paced: answers arrive at a steady R answers/s (default 2,000), person after person, each person
  answering every N/R seconds. Gives `p50_ms`/`p99_ms`, the latency a person sees at that load, measured
  from when each answer was due (so a bot that falls behind cannot hide it). (Under saturation the
  latency is only queueing: with 1,000 answers in flight it is about 1,000 / capacity; printed as well.)

For comparison, the raw single-row commit rate of sqlite3 on the same disk with the same pragmas is
measured in the same run. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App, open_app
from bot.runtime import tune_gc
from flows.inputs import StartFlow, Text
from storage.records import InboundRecord, Participant

ANSWERS = ["2", "3", "1", "Ret ofte", "0", "4", "2", "2", "1", "3"]


def raw_commit_rate(path: Path, seconds: float = 2.0) -> float:
    """Single-row INSERT + COMMIT per iteration with WAL and synchronous=FULL, like the bot's settings."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v) VALUES (?)", ("x" * 100,))
        db.execute("COMMIT")
        count += 1
    elapsed = time.perf_counter() - start
    db.close()
    return count / elapsed


async def answer_pss10(app: App, participant: Participant, index: int, count: int, phase: str, rate: float,
                       start: float, latencies: list[float]) -> None:
    """One person answering all ten items; in the paced phase answer n of person i is due at (n*count+i)/rate."""
    for n, text in enumerate(ANSWERS):
        due = start + (n * count + index) / rate if phase == "paced" else 0.0
        if due:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        inbound = InboundRecord("console", f"{phase}-{index}-{n}", app.clock.now())
        t0 = due or time.perf_counter()  # measured from when the answer was due: falling behind shows
        await app.loop.handle(participant, Text(text), "console", inbound)
        latencies.append(time.perf_counter() - t0)


async def drive(db_path: str, participants: int, rate: float) -> dict[str, tuple[list[float], float]]:
    results: dict[str, tuple[list[float], float]] = {}
    async with open_app(db_path) as app:
        for phase in ("saturation", "paced"):
            people = [await app.storage.get_or_create_participant(f"{phase}-{i}", "da", app.clock.now())
                      for i in range(participants)]
            await asyncio.gather(*(app.loop.handle(p, StartFlow("pss10"), "console") for p in people))
            latencies: list[float] = []
            start = time.perf_counter()
            await asyncio.gather(*(answer_pss10(app, p, i, participants, phase, rate, start, latencies)
                                   for i, p in enumerate(people)))
            results[phase] = (latencies, time.perf_counter() - start)
        scores = await app.storage.export_scores()
        if len(scores) != 2 * participants:
            raise SystemExit(f"expected {2 * participants} completed PSS-10 scores, found {len(scores)}")
    return results


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2000.0, help="answers/s offered in the paced phase")
    parser.add_argument("--db", help="database file (default: a new file in a temporary folder)")
    args = parser.parse_args()
    tune_gc()  # as `python -m bot` does
    with tempfile.TemporaryDirectory(prefix="bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        db_path = args.db or str(Path(tmp) / "bench.db")
        raw = raw_commit_rate(Path(tmp) / "raw.db")
        results = asyncio.run(drive(db_path, args.participants, args.rate))
    sat, sat_elapsed = results["saturation"]
    paced, paced_elapsed = results["paced"]
    sat_sorted, paced_sorted = sorted(sat), sorted(paced)
    figures = {
        "participants": args.participants,
        "answers": len(sat) + len(paced),
        "answers_per_s": round(len(sat) / sat_elapsed, 1),
        "p50_ms": round(statistics.median(paced_sorted) * 1000, 2),
        "p99_ms": round(percentile(paced_sorted, 0.99), 2),
        "offered_per_s": args.rate,
        "paced_achieved_per_s": round(len(paced) / paced_elapsed, 1),
        "saturated_p50_ms": round(statistics.median(sat_sorted) * 1000, 2),
        "saturated_p99_ms": round(percentile(sat_sorted, 0.99), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "raw_commits_per_s": round(raw, 1),
    }
    print(f"participants          {args.participants} per phase, 10 PSS-10 answers each")
    print(f"saturation            {len(sat)} answers in {sat_elapsed:.2f} s")
    print(f"answers/s             {figures['answers_per_s']}   (target >= 2,000)")
    print(f"  latency, saturated  p50 {figures['saturated_p50_ms']} ms, p99 {figures['saturated_p99_ms']} ms "
          f"(queueing: {args.participants} answers in flight)")
    print(f"paced                 {args.rate:g} answers/s offered, {figures['paced_achieved_per_s']} achieved")
    print(f"latency per answer    p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms   (target p99 <= 20 ms)")
    print(f"peak RSS              {figures['peak_rss_mb']} MB")
    print(f"raw sqlite commits/s  {figures['raw_commits_per_s']}   (one row per COMMIT, WAL, synchronous=FULL)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
