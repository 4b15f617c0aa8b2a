"""The outcome report over a municipality's worth of data: 10,000 participants who answered every wave.

    python benchmarks/report.py [--participants N] [--interleaved]    # 100,000: a region (3 minutes of setup)

Setup (not timed): N participants (default 10,000) with profiles in four cohorts are written straight into a
fresh SQLite file with what twelve weeks and six months leave behind: the four waves answered (PSS-10, WHO-5, life
satisfaction and their milestones), up to eight modules marked done, 0-30 TRE sessions, twelve weekly check-ins,
about eighty finished schedule rows each, and an escalation for one participant in twenty. They are written a
participant after another; with --interleaved each table the report reads is then rewritten in time order, as
a running bot writes it (everyone's rows mixed), which is what decides how a read by participant performs
(about twice the setup time).

Timed, on the real file: `read_outcomes` (one read transaction, a chunk of participants at a time) with
`build_report` counting each chunk as it comes (one figure: the read and the counting interleave), then each
format rendered (text, CSV, JSON, HTML). Targets: the whole text report under 5 s at 10,000 participants, time
linear in participants, and peak RSS of the process at most 300 MB at 100,000 (it is printed, with the RSS
after the setup, whose rows are written a thousand participants at a time).
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.flowregistry import SHIPPED_PROGRAMME
from bot.outcomes.build import build_report, outcome_query
from bot.outcomes.cohort import Filters
from bot.outcomes.html import render_html
from bot.outcomes.spec import ReportSpec, spec_from_programme
from bot.outcomes.tables import render_csv, render_json
from bot.outcomes.text import render_text
from bot.runtime import tune_runtime
from flows.programme_loader import load_programme
from storage import Enrollment, open_storage

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FIRST_START = date(2025, 1, 6)
COHORTS = ("bornholm-1", "bornholm-2", "gentofte-1", "gentofte-2")
WAVE_FLOWS = {"pss10": ("total",), "who5": ("raw", "percent"), "life_satisfaction": ("satisfaction",)}


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def moment(start: date, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(start.year, start.month, start.day, hour, minute, tzinfo=UTC) + timedelta(days=day)


class Rows:
    """Every table's rows for the bulk insert, with ids counted here."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {}

    def add(self, table: str, *values: Any) -> None:
        self.tables.setdefault(table, []).append(values)


def start_of(pid: int) -> date:
    return FIRST_START + timedelta(weeks=pid % 20)


def person(rows: Rows, pid: int, spec: ReportSpec, rng: random.Random, name: str) -> None:
    start = start_of(pid)
    if pid > 1:  # participant 1 was enrolled through the storage (see `main`)
        rows.add("participants", pid, f"p-{pid:08d}", "da", utc(moment(start, -7)))
        rows.add("profiles", pid, name, start.isoformat(), "coach", "terms-1", utc(moment(start, -7)),
                 COHORTS[pid % len(COHORTS)], "sms")
    run = 0
    pss = rng.randint(14, 36)
    who = rng.randint(3, 15)
    life = rng.randint(2, 8)
    for wave in spec.waves:
        at = moment(start, wave.day)
        rows.add("programme_marks", pid, "wave_started", wave.id, "{}", utc(at))
        for flow in wave.flows:
            run += 1
            done = at + timedelta(minutes=run)
            values = {"total": pss, "raw": who, "percent": who * 4, "satisfaction": life}
            for score_id in WAVE_FLOWS.get(flow, ()):
                rows.add("scores", pid, run, flow, 1, score_id, float(values[score_id]), None, utc(done))
            detail = json.dumps({"flow_id": flow, "run_seq": run}, separators=(",", ":"))
            rows.add("programme_marks", pid, "wave_run", wave.id, detail, utc(done))
        rows.add("programme_marks", pid, "wave_done", wave.id, "{}", utc(at + timedelta(minutes=run)))
        pss = max(0, pss - rng.randint(-2, 6))
        who = min(25, who + rng.randint(-1, 4))
        life = min(10, max(0, life + rng.randint(-1, 2)))
    for number in range(1, pid % 9 + 1):
        rows.add("programme_marks", pid, "module_done", str(number), "{}", utc(moment(start, 7 * number - 5)))
    for week in range(1, 13):  # the weekly check-in: sent, and mostly answered
        sent = moment(start, 7 * week)
        rows.add("schedule", pid, f"checkin:{week}", "checkin", utc(sent), "{}", "sent", "", None, utc(sent),
                 utc(sent))
        if rng.random() < 0.8:
            run += 1
            rows.add("scores", pid, run, "checkin", 1, "wellbeing", float(rng.randint(3, 9)), None,
                     utc(sent + timedelta(hours=2)))
    for day in range(84):  # the rest of a finished schedule: reminders, modules, nudges, waves
        if day % 7 in (0, 2, 4) or day % 14 == 1:
            due = moment(start, day, 17)
            rows.add("schedule", pid, f"exercise:{day}", "exercise", utc(due), "{}", "sent", "", None, utc(due),
                     utc(due))
    for session in range(pid % 31):  # TRE sessions: four scores per completed log
        run += 1
        done = moment(start, (session * 5) % 84, 19)
        for score_id, value in (("minutes", 15.0), ("tension_before", 6.0), ("tension_after", 3.0),
                                ("tension_change", -3.0)):
            rows.add("scores", pid, run, "tre_log", 1, score_id, value, None, utc(done))
    if pid % 20 == 0:
        opened = moment(start, 40, 13)
        acknowledged = opened + timedelta(minutes=rng.randint(3, 150)) if pid % 60 else None
        rows.add("escalations", pid, ("low", "moderate", "high")[pid % 3], "acknowledged" if acknowledged else "open",
                 utc(opened), None if acknowledged else utc(opened + timedelta(hours=2)), int(pid % 80 == 0),
                 "coach" if acknowledged else None, utc(acknowledged) if acknowledged else None, None, None, None)


INSERTS = {
    "participants": "INSERT INTO participants (id, ref, lang, created_at) VALUES (?, ?, ?, ?)",
    "profiles": "INSERT INTO profiles (participant_id, name, start_date, coach_id, consent_version, consent_at, "
                "cohort, consent_channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "programme_marks": "INSERT INTO programme_marks (participant_id, kind, key, detail, at) VALUES (?, ?, ?, ?, ?)",
    "scores": "INSERT INTO scores (participant_id, run_seq, flow_id, flow_version, score_id, value, band, "
              "completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "schedule": "INSERT INTO schedule (participant_id, key, kind, due_at, data, status, reason, claimed_until, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "escalations": "INSERT INTO escalations (participant_id, level, status, opened_at, deadline_at, tier, "
                   "acknowledged_by, acknowledged_at, closed_by, closed_at, outcome_note) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def chunks(count: int, size: int) -> Iterator[range]:
    for first in range(1, count + 1, size):
        yield range(first, min(first + size, count + 1))


TIME_ORDER = {"programme_marks": "at", "scores": "completed_at", "schedule": "coalesce(updated_at, due_at)",
              "escalations": "opened_at"}


def interleave(path: Path) -> None:
    """Rewrite the tables the report reads in the order of their times (new ids in that order too)."""
    conn = sqlite3.connect(path)
    try:
        for table, order in TIME_ORDER.items():
            columns = ", ".join(name for _, name, *_ in conn.execute(f"PRAGMA table_info({table})") if name != "id")
            with conn:
                conn.execute(f"CREATE TEMP TABLE staged AS SELECT {columns} FROM {table} ORDER BY {order}")
                conn.execute(f"DELETE FROM {table}")
                conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM staged ORDER BY rowid")
                conn.execute("DROP TABLE staged")
    finally:
        conn.close()


def fill(path: Path, count: int, spec: ReportSpec) -> int:
    """Write the cohort straight into the file (setup): returns how many rows. Every profile gets participant 1's
    encrypted name, so the storage's key check accepts the file."""
    rng = random.Random(2026)
    written = 0
    conn = sqlite3.connect(path)
    try:
        (name,) = conn.execute("SELECT name FROM profiles WHERE participant_id = 1").fetchone()
        for ids in chunks(count, 1000):
            rows = Rows()
            for pid in ids:
                person(rows, pid, spec, rng, name)
            with conn:
                for table, values in rows.tables.items():
                    conn.executemany(INSERTS[table], values)
                    written += len(values)
    finally:
        conn.close()
    return written


async def main(count: int, interleaved: bool = False) -> dict[str, float]:
    tune_runtime()
    programme, problems = load_programme(SHIPPED_PROGRAMME)
    assert programme is not None and not problems
    spec = spec_from_programme(programme)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        storage = await open_storage(path)  # the schema, migrated, and participant 1 enrolled as the bot does it
        try:
            await storage.enroll(Enrollment("p-00000001", "Anna Jensen", "da", start_of(1), "coach", None,
                                            COHORTS[1]), moment(start_of(1), -7))
        finally:
            await storage.close()
        began = time.perf_counter()
        rows_written = fill(path, count, spec)
        if interleaved:
            interleave(path)
        setup_s = time.perf_counter() - began
        rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        storage = await open_storage(path)
        try:
            began = time.perf_counter()
            report = await storage.read_outcomes(outcome_query(spec, None),
                                                 lambda chunks: build_report(chunks, spec, NOW, Filters()))
            read_build_s = time.perf_counter() - began
            text = render_text(report, "da")
            text_s = time.perf_counter() - began
            timings = {}
            for name, render in (("csv", render_csv), ("json", render_json), ("html", render_html)):
                start = time.perf_counter()
                written = render(report, "da")
                timings[name] = (time.perf_counter() - start, len(written.encode()))
            cohort_began = time.perf_counter()
            one = await storage.read_outcomes(outcome_query(spec, COHORTS[0]),
                                              lambda chunks: build_report(chunks, spec, NOW, Filters(COHORTS[0])))
            render_text(one, "da")
            cohort_s = time.perf_counter() - cohort_began
        finally:
            await storage.close()
    assert report.participation.enrolled == count and report.participation.with_baseline == count
    assert "PSS-10 baseline → 6 måneder" in text
    return {
        "participants": count,
        "interleaved": interleaved,
        "rows_written": rows_written,
        "setup_s": round(setup_s, 1),
        "read_build_s": round(read_build_s, 2),
        "ms_per_participant": round(1000 * read_build_s / count, 3),
        "text_report_s": round(text_s, 2),
        "csv_s": round(timings["csv"][0], 3),
        "json_s": round(timings["json"][0], 3),
        "html_s": round(timings["html"][0], 3),
        "html_kb": round(timings["html"][1] / 1024),
        "one_cohort_s": round(cohort_s, 2),
        "peak_rss_mb_setup": round(rss_setup, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--interleaved", action="store_true", help="the tables' rows in time order, as a bot writes")
    args = parser.parse_args()
    figures = asyncio.run(main(args.participants, args.interleaved))
    layout = " (interleaved)" if figures["interleaved"] else ""
    print(f"setup: {figures['rows_written']:,} rows for {figures['participants']:,} participants{layout} in "
          f"{figures['setup_s']} s (not timed)")
    print(f"outcome report, text: {figures['text_report_s']} s (read and compute {figures['read_build_s']} s, "
          f"{figures['ms_per_participant']} ms a participant; target < 5 s at 10,000)")
    print(f"other formats: CSV {figures['csv_s']} s, JSON {figures['json_s']} s, HTML {figures['html_s']} s "
          f"({figures['html_kb']} kB); one cohort of four: {figures['one_cohort_s']} s")
    print(f"peak RSS {figures['peak_rss_mb']} MB ({figures['peak_rss_mb_setup']} MB after the setup; target <= 300 MB "
          f"at 100,000)")
    print(json.dumps(figures))
