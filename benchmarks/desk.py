"""The coaches' desk at a municipality's size: 10,000 participants, 1.6 million answers, pages in p99 <= 200 ms.

    ./dev bench desk [--participants N] [--requests N] [--rebuild]

Setup (not timed, once): N participants (default 10,000) written straight into a SQLite file with what their
programme leaves behind: 160 answers each (four waves of PSS-10, WHO-5 and life satisfaction, twelve check-ins,
TRE logs, the exercise plan) with the inbound message each came in, their scores, modules done, an SMS number, a
task for one in ten (overdue for half of those), a message for a coach unread for one in fifteen and an alert for
one in twenty (300 closed, 100 acknowledged, 100 waiting). Half are the coach's, 30 % the backup's, 20 % the
lead's (an administrator, who sees all 10,000). The file is built once under the temporary directory
(stressbot-bench-desk/) and reused; --rebuild makes it again.

Timed: the desk started as it is run (`python -m bot desk`, its own process, the real clock), logged in with a
code from the authenticator secret, then each page asked --requests times one after another over HTTP on
127.0.0.1 (keep-alive): /health (the floor: the same server, guard and session check, no page), the coach's
my-participants page (5,000 of theirs, the first 50 in "needs attention" order), the administrator's (all 10,000),
the administrator's sorted by latest PSS-10 and searched by name, a later page, and a person's page
(/people/{ref}) when the desk has that route (said when it does not). Latency is measured at the client, so it is
server time plus a loopback round trip (the floor shows how much that is). The alerts view stays current when an
alert raised in the database (another process, as the bot would) is in the very next polled fragment: its
staleness is at most the poll interval plus that fragment's time, which must stay within 15 s.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.desk.context import DeskConfig
from bot.desk.sessions import COOKIE
from storage import EscalationRecord, StepRecord, open_storage
from storage.crypto import Keys
from storage.desk_records import DeskUser
from tests.postgres_cluster import free_port

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "stressbot-bench-desk"
LAYOUT = 3  # raise when what `person` writes changes: a cached file of another layout is built again
NOW = datetime.now(UTC).replace(microsecond=0)
WAVES = ((0, ("pss10", "who5", "life_satisfaction")), (28, ("pss10",)), (84, ("pss10", "who5", "life_satisfaction")),
         (182, ("pss10", "who5", "life_satisfaction")))
ITEMS = {"pss10": 10, "who5": 5, "life_satisfaction": 1}
ANSWERS_EACH = 160
TARGET_MS = 200.0


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def coach_of(pid: int) -> str:
    return "coach" if pid % 10 < 5 else "backup" if pid % 10 < 8 else "lead"


FIRST = ("Anna", "Bo", "Carl", "Dorte", "Emil", "Freja", "Gustav", "Hanne", "Ida", "Jens", "Karen", "Lars", "Mette",
         "Niels", "Ole", "Pia", "Rasmus", "Sofie", "Troels", "Ulla")
LAST = ("Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
        "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen", "Johansen", "Møller")


def name_of(pid: int) -> str:
    return f"{FIRST[pid % len(FIRST)]} {LAST[(pid * 7) % len(LAST)]}"


def phone_of(pid: int) -> str:
    return f"+45{20_000_000 + pid}"


class Rows:
    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {}

    def add(self, table: str, *values: Any) -> None:
        self.tables.setdefault(table, []).append(values)


def person(rows: Rows, pid: int, keys: Keys, rng: random.Random) -> None:
    start = (NOW - timedelta(days=7 * (pid % 30))).date()  # weeks 1-30: some finished the twelve weeks

    def day(n: float, hour: int = 9) -> datetime:
        return datetime(start.year, start.month, start.day, hour, tzinfo=UTC) + timedelta(days=n)

    created = day(-7)
    rows.add("participants", pid, f"p-{pid:08d}", "da", utc(created))
    rows.add("profiles", pid, keys.seal(name_of(pid)), start.isoformat(), coach_of(pid), "terms-1", utc(created),
             "bench-1", "sms")
    rows.add("addresses", pid, "sms", keys.digest("sms", phone_of(pid)), keys.seal(phone_of(pid)), "active",
             utc(created))
    seq = 0
    answers = 0

    def answer(flow: str, item: str, value: int, at: datetime) -> None:
        nonlocal answers
        answers += 1
        rows.add("answers", pid, seq, flow, 1, item, "int", float(value), None, keys.seal(str(value)), utc(at), 0)
        rows.add("inbox", "sms", f"SM{pid:08d}{answers:04d}", pid, utc(at), utc(at), None, "answer", None, 0)

    pss, who, life = rng.randint(17, 34), rng.randint(4, 16), rng.randint(2, 8)
    for wave_day, flows in WAVES:
        for flow in flows:
            seq += 1
            at = day(wave_day, 10)
            for n in range(ITEMS[flow]):
                answer(flow, f"q{n + 1}", rng.randint(0, 4), at + timedelta(seconds=30 * n))
            scores = {"pss10": (("total", pss),), "who5": (("raw", who), ("percent", who * 4)),
                      "life_satisfaction": (("satisfaction", life),)}[flow]
            for score_id, value in scores:
                rows.add("scores", pid, seq, flow, 1, score_id, float(value), None, utc(at + timedelta(minutes=5)))
        rows.add("programme_marks", pid, "wave_done", str(wave_day), "{}", utc(day(wave_day, 11)))
        pss = max(0, min(40, pss + rng.randint(-6, 3)))
        who = max(0, min(25, who + rng.randint(-2, 4)))
        life = max(0, min(10, life + rng.randint(-1, 2)))
    for week in range(1, 13):
        seq += 1
        at = day(7 * week, 18)
        answer("checkin", "wellbeing", rng.randint(3, 9), at)
        answer("checkin", "words", 0, at + timedelta(minutes=1))
        rows.add("scores", pid, seq, "checkin", 1, "wellbeing", float(rng.randint(3, 9)), None, utc(at))
    seq += 1
    answer("exercise_plan", "days", 1, day(0, 11))
    answer("exercise_plan", "time", 2, day(0, 11))
    session = 0
    while answers < ANSWERS_EACH:
        seq += 1
        session += 1
        at = day((session * 4) % 84, 19)
        for item in ("minutes", "tension_before", "tension_after", "note"):
            if answers < ANSWERS_EACH:
                answer("tre_log", item, 5, at)
        rows.add("scores", pid, seq, "tre_log", 1, "tension_change", -3.0, None, utc(at))
    for number in range(1, pid % 9 + 1):
        rows.add("programme_marks", pid, "module_done", str(number), "{}", utc(day(7 * number - 5)))
    if pid % 10 == 3:
        due = NOW - timedelta(days=2) if pid % 20 == 3 else NOW + timedelta(days=3)
        rows.add("coach_tasks", pid, "consider_referral", "{}", utc(due - timedelta(days=2)), utc(due), None, None)
    if pid % 15 == 7:
        at = NOW - timedelta(hours=pid % 48)
        rows.add("inbox", "sms", f"SMC{pid:08d}", pid, utc(at), utc(at), keys.seal("Kan I ringe til mig?"),
                 "for_coach", None, 1)
    if pid % 20 == 0:  # 500 alerts: 300 closed, 100 acknowledged and still open, 100 waiting
        opened = NOW - timedelta(days=pid % 60, hours=3)
        state = "open" if pid % 100 == 0 else "acknowledged" if pid % 100 == 20 else "closed"
        acked = None if state == "open" else opened + timedelta(minutes=rng.randint(2, 150))
        by = coach_of(pid) if acked else None
        closed = acked + timedelta(days=1) if state == "closed" and acked else None
        rows.add("escalations", pid, ("low", "moderate", "high")[pid % 3], state, utc(opened),
                 utc(opened + timedelta(hours=2)) if state == "open" else None, int(pid % 80 == 0), by,
                 utc(acked) if acked else None, by if closed else None, utc(closed) if closed else None,
                 "Ringede op" if closed else None)


INSERTS = {
    "participants": "INSERT INTO participants (id, ref, lang, created_at) VALUES (?, ?, ?, ?)",
    "profiles": "INSERT INTO profiles (participant_id, name, start_date, coach_id, consent_version, consent_at, "
                "cohort, consent_channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "addresses": "INSERT INTO addresses (participant_id, channel, address_hash, address_enc, status, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
    "answers": "INSERT INTO answers (participant_id, run_seq, flow_id, flow_version, item_id, value_kind, value_num, "
               "value_text, raw_text, answered_at, superseded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "inbox": "INSERT INTO inbox (channel, channel_message_id, participant_id, received_at, processed_at, body_enc, "
             "outcome, outcome_detail, for_coach) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "scores": "INSERT INTO scores (participant_id, run_seq, flow_id, flow_version, score_id, value, band, "
              "completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "programme_marks": "INSERT INTO programme_marks (participant_id, kind, key, detail, at) VALUES (?, ?, ?, ?, ?)",
    "coach_tasks": "INSERT INTO coach_tasks (participant_id, kind, detail, created_at, due_at, done_at, done_by) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "escalations": "INSERT INTO escalations (participant_id, level, status, opened_at, deadline_at, tier, "
                   "acknowledged_by, acknowledged_at, closed_by, closed_at, outcome_note) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


async def build(path: Path, count: int) -> dict[str, Any]:
    """The schema through the storage (migrated as the bot does, its key file beside it), then the rows straight
    into the file a thousand participants at a time."""
    for old in (path, path.with_name(path.name + ".keys"), *path.parent.glob(path.name + "-*")):
        old.unlink(missing_ok=True)
    storage = await open_storage(path)
    keys = storage.keys
    await storage.close()
    began = time.perf_counter()
    rng = random.Random(2026)
    written = 0
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        for first in range(1, count + 1, 1000):
            rows = Rows()
            for pid in range(first, min(first + 1000, count + 1)):
                person(rows, pid, keys, rng)
            with conn:
                for table in INSERTS:
                    values = rows.tables.get(table, [])
                    conn.executemany(INSERTS[table], values)
                    written += len(values)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return {"rows": written, "setup_s": round(time.perf_counter() - began, 1)}


def log_in(client: httpx.Client, coach: str, secret: str) -> dict[str, str]:
    """As a coach does: the coach id and the code from their app. The session cookie is `Secure` (the desk is
    behind https in production), so it is carried by hand on this plain-http loopback."""
    response = client.post("/login", data={"coach_id": coach, "code": pyotp.TOTP(secret).now(), "next": "/people"})
    match = re.search(rf"{COOKIE}=([^;]+)", response.headers.get("set-cookie", ""))
    if response.status_code != 303 or match is None:
        raise SystemExit(f"log-in as {coach} failed: {response.status_code}")
    return {"Cookie": f"{COOKIE}={match.group(1)}"}


def timed(client: httpx.Client, path: str, headers: dict[str, str], count: int,
          must_contain: str | None = None) -> dict[str, float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200 or (must_contain is not None and must_contain not in response.text):
            raise SystemExit(f"{path}: {response.status_code}")
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1),
            "p99_ms": round(samples[min(len(samples) - 1, int(0.99 * len(samples)))], 1),
            "max_ms": round(samples[-1], 1)}


async def raise_alert(path: Path, ref: str) -> int:
    """An alert raised in the database by another process, as the bot's step would raise it."""
    storage = await open_storage(path)
    try:
        participant = await storage.get_or_create_participant(ref, "da", datetime.now(UTC))
        revision = (await storage.load_conversation(participant.id)).revision
        now = datetime.now(UTC)
        await storage.commit_step(StepRecord(participant.id, revision, {"lang": "da"}, now, escalations=[
            EscalationRecord("high", "text", {"matched": "benchmark"}, now, now + timedelta(minutes=15))]))
        return max(e.id for e in await storage.escalations(only_open=True) if e.participant_id == participant.id)
    finally:
        await storage.close()


async def close_alert(path: Path, escalation_id: int) -> None:
    """Leave the cached file as it was: the next run raises its alert for the same person again."""
    storage = await open_storage(path)
    try:
        await storage.close_escalation(escalation_id, "lead", "benchmark", datetime.now(UTC))
    finally:
        await storage.close()


async def add_users(path: Path) -> dict[str, str]:
    storage = await open_storage(path)
    try:
        secrets = {coach: pyotp.random_base32() for coach in ("coach", "lead")}
        for coach, secret in secrets.items():
            await storage.save_desk_user(DeskUser(coach, secret, 0, datetime.now(UTC)), replace=True)
        return secrets
    finally:
        await storage.close()


def main(count: int, requests: int, rebuild: bool) -> dict[str, Any]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"desk-{count}-layout{LAYOUT}.db"
    ready = path.with_name(path.name + ".ready")
    setup: dict[str, Any] = {"cached": True}
    if rebuild or not ready.exists():
        ready.unlink(missing_ok=True)
        setup = {"cached": False, **asyncio.run(build(path, count))}
        ready.write_text(json.dumps(setup))
    secrets = asyncio.run(add_users(path))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "bot", "desk", "--port", str(port), "--db", str(path)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    figures: dict[str, Any] = {"participants": count, "answers": count * ANSWERS_EACH, "requests": requests, **setup}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            coach, lead = log_in(client, "coach", secrets["coach"]), log_in(client, "lead", secrets["lead"])
            timed(client, "/people", lead, 3)  # warm: templates compiled, the file's pages in the cache
            figures["health"] = timed(client, "/health", coach, requests)
            figures["static_css"] = timed(client, "/static/desk.css", coach, requests)
            figures["people_coach"] = timed(client, "/people", coach, requests, "id=\"person-p-")
            figures["people_admin"] = timed(client, "/people", lead, requests, "id=\"person-p-")
            figures["people_admin_by_pss10"] = timed(client, "/people?sort=score0&dir=desc", lead, requests)
            figures["people_admin_search_name"] = timed(client, "/people?q=ida+jensen", lead, requests)
            figures["people_admin_page_100"] = timed(client, "/people?page=100", lead, requests)
            person = client.get("/people/p-00000020", headers=lead)
            if person.status_code == 200:
                figures["person_page"] = timed(client, "/people/p-00000020", lead, requests)
            else:
                figures["person_page"] = f"not measured: /people/{{ref}} answered {person.status_code}"
            poll = DeskConfig().poll_seconds
            fragment = timed(client, "/alerts/list?show=all", lead, max(5, requests // 10))
            alert = asyncio.run(raise_alert(path, f"p-{count - 1:08d}"))
            seen = f'id="alert-{alert}"' in client.get("/alerts/list?show=all", headers=lead).text
            asyncio.run(close_alert(path, alert))
            figures["alerts_fragment"] = fragment
            figures["alerts"] = {"poll_s": poll, "new_alert_in_next_poll": seen,
                                 "stale_at_most_s": round(poll + fragment["p99_ms"] / 1000, 2)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    pages = [figures[k]["p99_ms"] for k in figures if k.startswith("people_")]
    if isinstance(figures["person_page"], dict):
        pages.append(figures["person_page"]["p99_ms"])
    figures["target_p99_ms"] = TARGET_MS
    figures["pages_within_target"] = all(p <= TARGET_MS for p in pages)
    figures["alerts_within_15_s"] = figures["alerts"]["new_alert_in_next_poll"] and \
        figures["alerts"]["stale_at_most_s"] <= 15
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page (default 200)")
    parser.add_argument("--rebuild", action="store_true", help="build the database again instead of the cached one")
    args = parser.parse_args()
    result = main(args.participants, args.requests, args.rebuild)
    for key, value in result.items():
        if isinstance(value, dict) and "p99_ms" in value:
            print(f"{key:28} p50 {value['p50_ms']:7.1f} ms   p99 {value['p99_ms']:7.1f} ms")
    print(json.dumps(result, ensure_ascii=False))
