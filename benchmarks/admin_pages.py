"""The administrators' pages' reads over a large deployment: the audit log searched, the outbox counted per channel.

    python benchmarks/admin_pages.py [--rows N]    # default 1,000,000 audit rows and as many sent messages

Setup (not timed): a fresh SQLite file (the bot's schema) with N audit rows (10,000 participants, coaches and the
system, spread over a year) and N outbox rows, nearly all sent, 200 waiting (some held for a retry) and 50 given
up, written straight into the tables. Timed, each 20 times on the real file through the storage: the audit log's
first page unfiltered, one participant's rows, one coach's rows, a day, an action prefix over a month, page 20 of
one participant (keyset: as cheap as page 1), and the channel health page's two reads. Targets: every read well
under 100 ms at a million rows (the pages read the indexes, not the tables). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import SqlStorage
from storage.admin_records import AuditQuery

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PEOPLE = 10_000
ACTIONS = ("answer.recorded", "run.completed", "overview.viewed", "alert.ack", "alert.close", "message.read",
           "programme.module", "task.no_response", "outbox.given_up", "report.outcomes")


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def fill(path: Path, rows: int) -> None:
    rng = random.Random(15)
    conn = sqlite3.connect(path)
    try:
        conn.executemany("INSERT INTO participants (id, ref, lang, created_at) VALUES (?, ?, 'da', ?)",
                         [(p, f"p-{p:05d}", utc(NOW - timedelta(days=400))) for p in range(1, PEOPLE + 1)])
        year = 365 * 24 * 3600
        audit = []
        for n in range(rows):
            at = NOW - timedelta(seconds=year * (rows - n) / rows)
            person = rng.randint(1, PEOPLE)
            actor = rng.choice((f"participant:p-{person:05d}", "system", "coach:coach", "coach:backup", "coach:lead"))
            audit.append((utc(at), actor, rng.choice(ACTIONS), f"participant:p-{person:05d}", "{}"))
        conn.executemany("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)", audit)
        outbox = []
        for n in range(rows):
            written = NOW - timedelta(seconds=year * (rows - n) / rows)
            channel = "sms" if n % 3 else "telegram"
            waiting, given_up = n >= rows - 200, rows - 400 <= n < rows - 350
            outbox.append((rng.randint(1, PEOPLE), channel, '{"text": "x"}', utc(written),
                           None if waiting or given_up else utc(written + timedelta(seconds=2)),
                           1 if waiting and n % 4 == 0 else 0, "30008" if n % 4 == 0 or given_up else None,
                           utc(NOW + timedelta(minutes=5)) if waiting and n % 8 == 0 else None,
                           utc(written + timedelta(hours=1)) if given_up else None))
        conn.executemany("INSERT INTO outbox (participant_id, channel, payload, created_at, sent_at, attempts, "
                         "delivery_detail, not_before, given_up_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", outbox)
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def timed(read: Callable[[], Awaitable[Any]], times: int = 20) -> dict[str, float]:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        await read()
        took.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(took), 2), "max_ms": round(max(took), 2)}


async def main(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bot.sqlite"
        store = SqlStorage(path)
        await store.migrate()
        await store.close()
        started = time.perf_counter()
        fill(path, rows)
        setup = time.perf_counter() - started
        store = SqlStorage(path)
        try:
            anna = "participant:p-00042"
            page = await store.search_audit(AuditQuery(subject=anna, limit=5))
            cursor = None
            for _ in range(19):  # page 20 of one participant, five rows a page
                cursor = page.entries[-1].id if page.entries else cursor
                page = await store.search_audit(AuditQuery(subject=anna, limit=5, older_than=cursor))
            day = NOW - timedelta(days=100)
            results = {
                "audit first page": await timed(lambda: store.search_audit(AuditQuery())),
                "audit one participant": await timed(lambda: store.search_audit(AuditQuery(subject=anna))),
                "audit one coach": await timed(lambda: store.search_audit(AuditQuery(actor="coach:lead"))),
                "audit one day": await timed(lambda: store.search_audit(AuditQuery(since=day,
                                                                                   until=day + timedelta(days=1)))),
                "audit action prefix, a month": await timed(lambda: store.search_audit(AuditQuery(
                    action="alert", since=day, until=day + timedelta(days=30)))),
                "audit page 20 of a participant": await timed(lambda: store.search_audit(AuditQuery(
                    subject=anna, limit=5, older_than=cursor))),
                "outbox per channel": await timed(lambda: store.outbox_health(NOW, NOW - timedelta(days=7))),
                "given up, a week": await timed(lambda: store.given_up_since(NOW - timedelta(days=7))),
            }
            health = await store.outbox_health(NOW, NOW - timedelta(days=7))
            assert sum(h.waiting for h in health) == 200, health
        finally:
            await store.close()
    for name, figures in results.items():
        print(f"{name:32} median {figures['median_ms']:8.2f} ms   max {figures['max_ms']:8.2f} ms")
    return {"rows": rows, "setup_s": round(setup, 1), **results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    print(json.dumps(asyncio.run(main(parser.parse_args().rows))))
