"""The programme's durable schedule at scale: materialising 100,000 participants' schedules, and claiming due
rows out of a million.

    python benchmarks/schedule.py [--participants N] [--claims K] [--db URL | --postgres]

1. N participants (default 100,000) are inserted directly (setup, not timed), with start dates spread over a
   year (cohorts share a start date, as in a municipality's intake). Then their full schedules are
   materialised through `bot.scheduler.materialise` (the plan per start date, then `Storage.add_schedule` in
   10,000-row transactions, two lanes side by side; on the real SQLite file, synchronous=FULL, or on PostgreSQL
   with fsync on, where each chunk has a transaction of its own beside the writer): timed. Target <= 10 s.
2. More participants are planned (untimed) until the table holds 1,000,000 rows (a participant has about 8
   at a time), and the clock is set so that all of them are due. `claim_schedule` then takes 1,000 rows,
   K times (default 20), each time rows nobody holds: timed per claim. Target <= 50 ms.
3. Peak RSS of the process. Target <= 150 MB.
By default on a new SQLite file; `--db postgresql+psycopg://...` (an empty database) or `--postgres` (a throwaway
PostgreSQL with fsync on, started for the run) measure PostgreSQL.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select

from bot.flowregistry import DEFAULT_FLOWS_DIR, SHIPPED_PROGRAMME
from bot.runtime import tune_runtime
from bot.scheduler import materialise
from bot.settings import reload_settings
from flows.checker import check_files, flow_paths
from flows.programme_loader import check_programme, load_programme
from storage import open_storage
from storage.crypto import new_key_values
from storage.sql.schema import participants, schedule

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def main(count: int, claims: int, db: str | None) -> dict[str, Any]:
    tune_runtime()
    programme, problems = load_programme(SHIPPED_PROGRAMME)
    flows = {f.id: f for f in check_files(flow_paths([DEFAULT_FLOWS_DIR])).flows}
    assert programme is not None and not problems and not check_programme(programme, flows)
    with tempfile.TemporaryDirectory() as folder:
        storage = await open_storage(db or Path(folder) / "bench.db")
        try:
            engine = storage.engine  # type: ignore[attr-defined]
            extra = max(0, -(-1_000_000 // 8) - count)  # enough more participants for a million rows
            for first in range(1, count + extra + 1, 10_000):  # setup: the participants themselves
                async with engine.begin() as conn:
                    await conn.execute(insert(participants), [
                        {"id": i, "ref": f"p-{i:08d}", "lang": "da", "created_at": NOW}
                        for i in range(first, min(first + 10_000, count + extra + 1))])

            def starts(low: int, high: int) -> Iterator[tuple[int, date]]:
                return ((i, date(2026, 1, 5) + timedelta(days=(i * 7919) % 365)) for i in range(low, high))

            began = time.perf_counter()
            written = await materialise(storage, programme, starts(1, count + 1), NOW)
            materialise_s = time.perf_counter() - began
            rss_after_materialise = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            await materialise(storage, programme, starts(count + 1, count + extra + 1), NOW)  # untimed
            async with engine.connect() as conn:
                total = (await conn.execute(select(func.count()).select_from(schedule))).scalar_one()
                due_line = (await conn.execute(select(func.max(schedule.c.due_at)))).scalar_one()
            timings, claimed = [], []
            for _ in range(claims):
                began = time.perf_counter()
                rows = await storage.claim_schedule(due_line, 1000, due_line + timedelta(hours=1))
                timings.append((time.perf_counter() - began) * 1000)
                claimed.append(len(rows))  # fewer than 1,000 is a finding: every row is due and none completed
        finally:
            await storage.close()
    return {
        "participants": count,
        "rows_written": written,
        "rows_in_table": total,
        "materialise_s": round(materialise_s, 2),
        "rows_per_s": round(written / materialise_s),
        "due_rows": total,
        "claim_1000_p50_ms": round(statistics.median(timings), 1),
        "claim_1000_max_ms": round(max(timings), 1),
        "rows_per_claim": claimed,
        "peak_rss_mb_materialise": round(rss_after_materialise, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--db", help="an empty database's URL (default: a new SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL (fsync on) for the run")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        db = args.db
        if args.postgres:
            from tests.postgres_cluster import start_cluster

            cluster = start_cluster(durable=True)
            stack.callback(cluster.stop)
            cluster.admin('CREATE DATABASE "bench"')
            db = cluster.url("bench")
        if db is not None and "://" in db and not db.startswith("sqlite"):
            for name, value in new_key_values().items():  # a server database has no key file beside it
                os.environ.setdefault(name, value)
            reload_settings()
        figures = asyncio.run(main(args.participants, args.claims, db))
    print(f"materialise {figures['participants']:,} participants: {figures['materialise_s']} s "
          f"({figures['rows_written']:,} rows, {figures['rows_per_s']:,} rows/s; target <= 10 s)")
    print(f"claim 1,000 of {figures['due_rows']:,} due rows: p50 {figures['claim_1000_p50_ms']} ms, "
          f"max {figures['claim_1000_max_ms']} ms (target <= 50 ms); rows per claim {figures['rows_per_claim']}")
    print(f"peak RSS {figures['peak_rss_mb_materialise']} MB after materialising, {figures['peak_rss_mb']} MB "
          f"at the end (target <= 150 MB)")
    print(json.dumps(figures))
