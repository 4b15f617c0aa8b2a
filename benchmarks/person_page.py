"""A person's page on the coaches' desk over a municipality's data: 10,000 participants, 1.6 million answers.

    python benchmarks/person_page.py [--participants N] [--pages 200]

Setup (not timed): benchmarks/report.py's twelve weeks and six months per participant (waves, marks, check-ins, TRE
sessions, schedule rows, escalations), plus what the person page reads on top: 160 answers each (1.6 M at 10,000),
60 outbox rows and 30 inbound messages each, written straight into a SQLite file and then rewritten in time order
(everyone's rows mixed, as a running bot writes them: a read by person must use an index, not luck).

Timed, on the real file through the real app: `read_page` (every query the page makes) and the template rendered
(the HTML the coach gets), for `--pages` random participants, as the desk's server does it. Target: p99 <= 200 ms.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.requests import Request

from benchmarks.report import COHORTS, chunks, fill, interleave, moment, start_of, utc
from bot.app import open_app
from bot.clock import FakeClock
from bot.desk.context import Desk
from bot.desk.person_page import read_page
from bot.desk.views.person import SHOWN, words
from bot.flowregistry import SHIPPED_PROGRAMME
from bot.outcomes.spec import spec_from_programme
from bot.rendering import format_number
from flows.programme_loader import load_programme
from storage import Enrollment, open_storage

ANSWERS, OUTBOX, INBOX = 160, 60, 30
EXTRA = {
    "answers": "INSERT INTO answers (participant_id, run_seq, flow_id, flow_version, item_id, value_kind, value_num, "
               "value_text, raw_text, answered_at, superseded) VALUES (?, ?, ?, 1, ?, 'int', ?, NULL, ?, ?, 0)",
    "outbox": "INSERT INTO outbox (participant_id, channel, payload, created_at, sent_at, attempts, priority) "
              "VALUES (?, 'sms', ?, ?, ?, 1, 1)",
    "inbox": "INSERT INTO inbox (channel, channel_message_id, participant_id, received_at, processed_at, body_enc, "
             "outcome, outcome_detail, for_coach) VALUES ('sms', ?, ?, ?, ?, ?, 'answer', '{}', 0)",
}


def fill_messages(path: Path, count: int, sealed: str) -> int:
    """What the page reads besides the report's rows: answers (10 per PSS-10 run, then check-ins), messages."""
    written = 0
    conn = sqlite3.connect(path)
    payload = json.dumps({"text": "Det er tid til en måling af, hvordan du har det. Den tager 5-10 minutter."})
    try:
        for ids in chunks(count, 1000):
            rows: dict[str, list[tuple[Any, ...]]] = {"answers": [], "outbox": [], "inbox": []}
            for pid in ids:
                start = start_of(pid)
                for k in range(ANSWERS):
                    at = utc(moment(start, k * 84 // ANSWERS, 10, k % 60))
                    rows["answers"].append((pid, 1000 + k // 10, "pss10", f"q{k % 10 + 1}", k % 5, sealed, at))
                for k in range(OUTBOX):
                    at = moment(start, k * 84 // OUTBOX, 9)
                    rows["outbox"].append((pid, payload, utc(at), utc(at + timedelta(seconds=2))))
                for k in range(INBOX):
                    at = utc(moment(start, k * 84 // INBOX, 11))
                    rows["inbox"].append((f"m-{pid}-{k}", pid, at, at, sealed))
            with conn:
                for table, values in rows.items():
                    conn.executemany(EXTRA[table], values)
                    written += len(values)
    finally:
        conn.close()
    return written


def mix(path: Path) -> None:
    """The page's tables rewritten in time order, as a running bot leaves them."""
    conn = sqlite3.connect(path)
    try:
        for table, order in (("answers", "answered_at"), ("outbox", "created_at"), ("inbox", "received_at")):
            columns = ", ".join(name for _, name, *_ in conn.execute(f"PRAGMA table_info({table})") if name != "id")
            with conn:
                conn.execute(f"CREATE TEMP TABLE staged AS SELECT {columns} FROM {table} ORDER BY {order}")
                conn.execute(f"DELETE FROM {table}")
                conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM staged ORDER BY rowid")
                conn.execute("DROP TABLE staged")
    finally:
        conn.close()


def request(desk: Desk, ref: str) -> Request:
    coach = desk.deployment.coaches["coach"]
    scope = {"type": "http", "method": "GET", "path": f"/people/{ref}", "query_string": b"", "headers": [],
             "server": ("127.0.0.1", 8090), "scheme": "http", "root_path": "",
             "state": {"lang": "da", "session": None, "coach": coach}}
    return Request(scope)


async def main(count: int, pages: int, keep: Path | None = None) -> dict[str, Any]:
    if keep is not None and keep.exists():  # the file a run with --db left: no setup
        return {**await timed(keep, count, pages), "setup_s": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        path = keep or Path(folder) / "bench.db"
        began = time.perf_counter()
        rows = await setup(path, count)
        setup_s = time.perf_counter() - began
        return {**await timed(path, count, pages), "rows_written": rows, "setup_s": round(setup_s, 1)}


async def setup(path: Path, count: int) -> int:
    programme, problems = load_programme(SHIPPED_PROGRAMME)
    assert programme is not None and not problems
    spec = spec_from_programme(programme)
    storage = await open_storage(path)
    try:
        await storage.enroll(Enrollment("p-00000001", "Anna Jensen", "da", start_of(1), "coach", None,
                                        COHORTS[1]), moment(start_of(1), -7))
        sealed = storage.keys.seal("2")
    finally:
        await storage.close()
    rows = fill(path, count, spec) + fill_messages(path, count, sealed)
    interleave(path)
    mix(path)
    return rows


async def timed(path: Path, count: int, pages: int) -> dict[str, Any]:
    """`pages` person pages of random participants, after ten not counted (a running server's caches are warm)."""
    clock = FakeClock(moment(start_of(count), 90, 12))
    timings: list[float] = []
    async with open_app(str(path), clock, coach_channels={}) as app:
        desk = Desk.from_app(app)
        rng = random.Random(14)
        refs = [f"p-{rng.randint(1, count):08d}" for _ in range(pages + 10)]
        for ref in refs:
            started = time.perf_counter()
            profile = await desk.storage.profile_by_ref(ref)
            assert profile is not None
            data = await read_page(desk, profile, "da", SHOWN, desk.catalogs.translations("da").gettext,
                                   lambda v: format_number(round(v, 1), "da"))
            now = desk.clock.now()
            html = desk.templates.render(request(desk, ref), "person.html", {
                "p": data, "now": now, "done": "", "shown": SHOWN, "more": None, "min_note": 3,
                "max_note": 2000, "coach_paused": False, "own_pause": False, "today": now.date().isoformat(),
                **words(desk, "da")})
            timings.append((time.perf_counter() - started) * 1000)
            assert b"chart-pss10" in html.body and len(data.entries) == SHOWN
    first = timings[:10]
    timings = sorted(timings[10:])
    return {"participants": count, "pages": pages, "first_ten_ms": [round(v) for v in first],
            "p50_ms": round(timings[len(timings) // 2], 1), "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 1),
            "max_ms": round(timings[-1], 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--db", type=Path, help="keep the database here; a later run with it skips the setup")
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.participants, arguments.pages, arguments.db))))
