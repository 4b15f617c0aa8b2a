"""Telegram black-box: `bot run` (polling) vs a naive python-telegram-bot peer, shipped limits and limits off.

    ./dev bench telegram [--k 200 1000] [--rounds N] [--quick] [--compare GITREF] [--profile DIR]

The shared harness (`../shared/bench` next to the project: its README.md) provides the fake Bot API server
(`fake_telegram.py`, imported here: getUpdates hands out up to 100 queued updates at a time) and the naive peer
(`naive_ptb_bot.py`, ConversationHandler + PicklePersistence, no rate limiter). For each K, K participants each
send "/start <code>", "Ja" (the programme's terms) and a whole PSS-10 typed as "2" (12 updates; the peer gets
"/start" and 10 x "2"); the clock stops when every participant has the final reply (the score). Variants, run
interleaved in the same run (the order rotates every round) and reported as medians:

- `shipped`: `python -m bot run` as deployed (one budget of 30 requests/s for the whole bot, one message a second
  per chat: bot/channels/pacing.py, telegram_outbound.py);
- `unthrottled`: the same with both limits off (a diagnostic, never a configuration: this file starts the bot with
  `TelegramChannel(requests_per_second=0, per_chat_interval=0)`), the bot's own speed;
- `naive`: the peer (it ignores Telegram's limits, so it is compared with `unthrottled`);
- `ceiling`: benchmarks/telegram_ceiling.py, a bot with nothing between the wire and the reply (aiohttp, a counter
  per chat, no framework, no storage), answering like the peer: the most updates/s any bot can get through this
  harness on this machine, in the same run (the fake server and the harness share the bot's cores);
- with `--compare REF`: `shipped@REF` and `unthrottled@REF`, the same from `git archive REF` (before/after), each
  checkout serving a setup it made itself (so the two may differ by a migration).

Setup (untimed, once per K; every run gets a fresh copy of the database): `bot enroll --csv` makes the invite
links (start date in the future: nothing of the programme falls due while we measure), and
`open_questionnaires` opens a PSS-10 for each person, as the programme's baseline wave would on the start date.

Figures: updates/s from the bot's first getUpdates (start-up excluded); answers/s (every answered question: the
terms and 10 items, 11 per participant; the peer 10), overall and steady (the middle 80 % of acknowledgements);
Bot API requests that Telegram counts (with a chat: messages, edits, button answers) per update and per answered
question; the bot's CPU time per update from its first getUpdates; acknowledged answers missing from the database
(ours, must be 0). `--profile DIR` also runs ours once more in each mode (the smallest K) with py-spy attached from the
first getUpdates (`py-spy record --idle` off: where the CPU goes, every thread; with SPY_GIL=1 only the thread holding
the GIL, so threads waiting in C are not counted), writes the collapsed stacks to DIR
and prints the CPU by layer (PTB's polling and parsing, our telegram.py inbound, bot/conversation.py, flows/ engine,
storage, outbound). Takes about 35 minutes with the defaults (K = 1,000 at the shipped 30 requests/s is 400 s a run);
`--quick` about 5. The last line is one JSON object; its top-level figures are those of the largest K.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# run as a script, this folder comes first on sys.path, and this file would shadow python-telegram-bot's `telegram`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
HARNESS = ROOT.parent / "shared" / "bench"
ITEMS = 10
# Bot API methods that are not about a chat: Telegram's send limits do not count them
NOT_COUNTED = {"getUpdates", "getMe", "setMyCommands", "deleteWebhook", "getWebhookInfo", "setWebhook", "close",
               "logOut", "deleteMyCommands"}
QUESTION = re.compile(r"(?m)^\((\d+)/10\)")  # our PSS-10 question, at the start of a line (it may follow an intro)
NAIVE_QUESTION = re.compile(r"^PSS item (\d+):")
RUN_TIMEOUT = 1500.0
ENROL_AT_ONCE = 500  # the most one CSV may enrol (bot/enrol_csv.py)


# -- the bot process ------------------------------------------------------------------------------------------

def serve(mode: str, argv: list[str]) -> int:
    """`python benchmarks/telegram.py --serve MODE -- ARGS`: `bot ARGS` from the current folder (this checkout or an
    extracted `--compare` one); `unthrottled` switches Telegram's send limits off."""
    sys.path.insert(0, os.getcwd())
    telegram = importlib.import_module("bot.channels.telegram")
    if mode == "unthrottled":
        original = telegram.TelegramChannel.__init__

        def unthrottled(self: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.update(requests_per_second=0.0, per_chat_interval=0.0)
            original(self, *args, **kwargs)

        telegram.TelegramChannel.__init__ = unthrottled
    return int(importlib.import_module("bot.commands.main").main(argv))


# -- setup ----------------------------------------------------------------------------------------------------

def bot_environment() -> dict[str, str]:
    """Keys for this benchmark's databases only (the development key file is for the console)."""
    return {"BOT_DATA_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "BOT_LOOKUP_KEY": secrets.token_urlsafe(32), "TELEGRAM_BOT_USERNAME": "bench_bot",
            "PROGRAMME_TICK_SECONDS": "3600"}


def enrol(k: int, folder: Path, env: dict[str, str], code: Path = ROOT) -> list[tuple[str, str]]:
    """K participants with Telegram invite links through `bot enroll --csv`, each with a PSS-10 open; returns
    (reference, link code) for each. `code` is the checkout that makes the database (an extracted `--compare` one
    makes its own: an older checkout refuses a database of a newer schema)."""
    folder.mkdir(parents=True, exist_ok=True)
    people = folder / "people.csv"
    start = (date.today() + timedelta(days=200)).isoformat()  # ahead, but within the year enrolment accepts
    codes: list[tuple[str, str]] = []
    for first in range(0, k, ENROL_AT_ONCE):  # a file of at most 500 people at a time, as enrolment asks
        people.write_text("name,telegram,lang,start_date\n" + "".join(
            f"Person {i},1,da,{start}\n" for i in range(first, min(k, first + ENROL_AT_ONCE))))
        out = subprocess.run([sys.executable, "-m", "bot", "enroll", "--csv", str(people), "--db",
                              str(folder / "bot.db")], env=env, cwd=code, capture_output=True, text=True).stdout
        codes += [(ref, link.split("?start=", 1)[1]) for ref, link in
                  (line.split("\t") for line in out.splitlines() if "\t" in line)]
    if len(codes) != k:
        raise SystemExit(f"bot enroll made {len(codes)} invite links, not {k}:\n{out[-500:]}")
    people.unlink()
    subprocess.run([sys.executable, __file__, "--open-questionnaires", str(folder / "bot.db"),
                    *(ref for ref, _ in codes)], env={**env, "BENCH_CODE": str(code)}, cwd=code, check=True)
    return codes


def make_setup(k: int, folder: Path, env: dict[str, str], code: Path) -> tuple[Path, list[tuple[str, str]]]:
    """`enrol` into `folder`, its codes kept beside the database (`acked_but_missing` reads them)."""
    t0 = time.perf_counter()
    codes = enrol(k, folder, env, code)
    (folder / "codes.json").write_text(json.dumps(codes))
    print(f"K = {k}: {k} participants enrolled with invite links by {code}, a PSS-10 open for each "
          f"({time.perf_counter() - t0:.0f} s, untimed)", flush=True)
    return folder, codes


async def open_questionnaires(db: str, refs: list[str]) -> None:
    """Open a PSS-10 for each participant on Telegram, as the programme's baseline wave does at its due time (the
    terms come first: the questionnaire starts once they are accepted). There is no command for this on purpose:
    coaches do not start questionnaires by hand."""
    sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))
    from bot.app import open_app
    from flows.inputs import StartFlow

    async with open_app(db, coach_channels={}) as app:
        for ref in refs:
            participant = await app.storage.get_or_create_participant(ref, "da", app.clock.now())
            await app.loop.handle(participant, StartFlow("pss10"), "telegram")
        # Nobody has opened their invite link yet, so the terms just written cannot go: in production the dispatcher,
        # woken by the commit, gives them up at once ("no active Telegram address"), and /start asks them again.
        # Here no dispatcher runs, so the same is recorded, or the bot would find them sendable once linked.
        for row in await app.storage.pending_outbox("telegram", limit=len(refs) * 10):
            await app.storage.give_up_outbox(row.id, app.clock.now(), "no active Telegram address")


# -- one run --------------------------------------------------------------------------------------------------

@dataclass
class Variant:
    name: str
    mode: str  # ours | naive
    command: list[str]  # {port} is filled in
    cwd: Path


@dataclass
class Result:
    variant: str
    k: int
    updates: int
    answers: int
    seconds: float  # first getUpdates -> every participant has the final reply
    startup: float  # process start -> first getUpdates
    cpu: float  # the bot's CPU seconds over `seconds`
    calls: Counter[str]
    finished: int
    steady_answers_per_s: float
    acked_but_missing: int | None = None
    log: str = ""

    @property
    def requests(self) -> int:
        return sum(n for method, n in self.calls.items() if method not in NOT_COUNTED)

    def figures(self) -> dict[str, Any]:
        return {"updates_per_s": self.updates / self.seconds, "answers_per_s": self.answers / self.seconds,
                "steady_answers_per_s": self.steady_answers_per_s,
                "requests_per_update": self.requests / self.updates,
                "requests_per_answer": self.requests / self.answers,
                "cpu_ms_per_update": 1000 * self.cpu / self.updates, "startup_s": self.startup,
                "seconds": self.seconds}


class Stamped(list[dict[str, Any]]):
    """The fake's list of sent messages, with the time each arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def append(self, item: dict[str, Any]) -> None:
        self.at.append(time.perf_counter())
        super().append(item)

    def clear(self) -> None:
        self.at.clear()
        super().clear()


@dataclass
class Harness:
    ft: ModuleType
    port: int
    first_poll: list[float] = field(default_factory=list)
    cpu_at_first_poll: list[float] = field(default_factory=list)
    process: Any = None
    profile: Path | None = None  # py-spy's output while profiling
    spy: Any = None

    @classmethod
    def load(cls, folder: Path) -> Harness:
        if not (folder / "fake_telegram.py").is_file() or not (folder / "naive_ptb_bot.py").is_file():
            raise SystemExit(f"the shared Telegram harness is missing: no fake_telegram.py in {folder} (--harness)")
        sys.path.insert(0, str(folder))
        ft = importlib.import_module("fake_telegram")
        ft.SENT = Stamped()  # type: ignore[attr-defined]
        harness = cls(ft, 0)
        original = ft.H.do_POST

        def do_post(handler: Any) -> None:
            if not harness.first_poll and "getUpdates" in handler.path:
                harness.first_poll.append(time.perf_counter())
                harness.cpu_at_first_poll.append(cpu_seconds(harness.process))
                if harness.profile is not None:  # from the first getUpdates: start-up left out
                    harness.spy = subprocess.Popen(
                        ["py-spy", "record", "--pid", str(harness.process.pid), "--rate", "250", "--format", "raw",
                         *(["--gil"] if os.environ.get("SPY_GIL") else []), "--threads", "--nonblocking",
                         "--output", str(harness.profile)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            original(handler)

        ft.H.do_POST = do_post
        ft._Server.handle_error = quiet  # a bot stopped in the middle of a long poll: no traceback
        harness.port = ft.start().server_address[1]
        return harness

    def run(self, variant: Variant, k: int, setup: Path | None, codes: list[str], env: dict[str, str],
            profile: Path | None = None) -> Result:
        ft = self.ft
        work = Path(tempfile.mkdtemp(prefix="tgbench-"))
        if setup is not None:
            for name in os.listdir(setup):
                shutil.copy2(setup / name, work)
        with ft.LOCK:
            ft.UPDATES.clear()
            ft.SENT.clear()
            ft.CALLS.clear()
        self.first_poll.clear()
        self.cpu_at_first_poll.clear()
        ours = variant.mode == "ours"
        uid = itertools.count(1)
        for p in range(k):
            ft.push_text(next(uid), 10_000 + p, f"/start {codes[p]}" if ours else "/start")
        if ours:
            for p in range(k):
                ft.push_text(next(uid), 10_000 + p, "Ja")
        for _ in range(ITEMS):
            for p in range(k):
                ft.push_text(next(uid), 10_000 + p, "2")
        updates = next(uid) - 1
        sys.path.insert(0, str(ROOT))
        from tests.postgres_cluster import free_port
        command = [c.replace("{port}", str(free_port())) for c in variant.command]
        bot_env = dict(os.environ, **env, TELEGRAM_BOT_TOKEN="123456:BENCH",
                       TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{self.port}/bot", BOT_DB=str(work / "bot.db"),
                       PYTHONUNBUFFERED="1")
        final = (lambda t: "Din score er" in t) if ours else (lambda t: t.startswith("Tak. Score"))
        done: dict[int, float] = {}
        seen = 0
        with open(work / "bot.log", "w") as log:
            self.profile = profile
            started = time.perf_counter()
            self.process = subprocess.Popen(command, env=bot_env, cwd=variant.cwd, stdout=log, stderr=subprocess.STDOUT)
            cpu_end = 0.0
            while time.perf_counter() - started < RUN_TIMEOUT:
                with ft.LOCK:
                    new, stamps, seen = ft.SENT[seen:], ft.SENT.at[seen:], len(ft.SENT)
                for message, at in zip(new, stamps, strict=True):
                    if final(str(message.get("text", ""))):
                        done.setdefault(int(message["chat_id"]), at)
                if len(done) >= k:
                    break
                cpu_end = cpu_seconds(self.process) or cpu_end
                if self.process.poll() is not None:
                    break
                time.sleep(0.02)
            cpu_end = cpu_seconds(self.process) or cpu_end
            if self.spy is not None:  # py-spy writes its file when interrupted
                self.spy.send_signal(signal.SIGINT)
                self.spy.wait(60)
                self.spy, self.profile = None, None
            stop(self.process)
        log_text = (work / "bot.log").read_text(errors="replace")
        if len(done) < k:
            print(f"  {variant.name} K={k}: only {len(done)} of {k} participants finished; the bot's log ends:\n"
                  + "\n".join(log_text.splitlines()[-15:]), file=sys.stderr)
        first = self.first_poll[0] if self.first_poll else started
        end = max(done.values()) if len(done) >= k else time.perf_counter()
        with ft.LOCK:
            sent, calls = list(ft.SENT), Counter(ft.CALLS)
            stamps = list(ft.SENT.at)
        answers = k * (ITEMS + 1 if ours else ITEMS)
        result = Result(variant.name, k, updates, answers, end - first, first - started,
                        cpu_end - (self.cpu_at_first_poll[0] if self.cpu_at_first_poll else 0.0), calls, len(done),
                        steady_rate(acknowledgements(sent, stamps, ours)), log=log_text)
        if ours and setup is not None:
            result.acked_but_missing = acked_but_missing(sent, work / "bot.db", setup)
        shutil.rmtree(work, ignore_errors=True)
        return result


def quiet(server: Any, request: Any, address: Any) -> None:
    """Connection errors of a bot that was stopped are expected; anything else is printed."""
    if not isinstance(sys.exc_info()[1], ConnectionError):
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]


def cpu_seconds(process: Any) -> float:
    """User + system CPU seconds of a running process (Linux /proc; 0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, AttributeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def acknowledgements(sent: list[dict[str, Any]], stamps: list[float], ours: bool) -> list[float]:
    """When each answer was acknowledged: by the next question, or the score after the last one."""
    times = []
    for message, at in zip(sent, stamps, strict=True):
        text = str(message.get("text", ""))
        if ours:
            if QUESTION.search(text) or "Din score er" in text:  # question 1 acknowledges the terms
                times.append(at)
        else:
            found = NAIVE_QUESTION.match(text)
            if (found and int(found.group(1)) >= 2) or text.startswith("Tak. Score"):
                times.append(at)
    return sorted(times)


def steady_rate(times: list[float]) -> float:
    """Acknowledgements per second over the middle 80 % of them (ramp-up and the tail left out)."""
    if len(times) < 10:
        return float("nan")
    low, high = len(times) // 10, len(times) * 9 // 10
    return (high - low) / (times[high] - times[low]) if times[high] > times[low] else float("nan")


def acked_but_missing(sent: list[dict[str, Any]], db: Path, setup: Path) -> int:
    """Answers the bot acknowledged (question n+1, or the score) that are not in the database (the shared
    harness's check)."""
    acked: dict[int, set[int]] = defaultdict(set)
    for message in sent:
        if message.get("method") != "sendMessage":
            continue
        text, chat = str(message.get("text", "")), int(message["chat_id"])
        found = QUESTION.search(text)
        if found and int(found.group(1)) >= 2:
            acked[chat].add(int(found.group(1)) - 1)
        if "Din score er" in text:
            acked[chat].add(ITEMS)
    refs = json.loads((setup / "codes.json").read_text())
    ref_of = {10_000 + i: ref for i, (ref, _) in enumerate(refs)}
    conn = sqlite3.connect(db)
    try:
        stored = dict(conn.execute(
            "SELECT p.ref, count(*) FROM answers a JOIN participants p ON p.id = a.participant_id "
            "WHERE a.flow_id = 'pss10' GROUP BY p.ref").fetchall())
    finally:
        conn.close()
    return sum(max(0, len(items) - stored.get(ref_of[chat], 0)) for chat, items in acked.items())


# -- the whole benchmark --------------------------------------------------------------------------------------

# -- where the CPU goes --------------------------------------------------------------------------------------

LAYERS = [  # (layer, path fragments of its frames); a sample goes to the deepest of our layers on its stack
    ("telegram.py inbound", ("/bot/channels/telegram.py", "/bot/safety_net.py")),
    ("conversation", ("/bot/conversation.py", "/bot/rendering.py", "/bot/flowregistry.py", "/bot/deployment.py")),
    ("engine (flows/)", ("/flows/",)),
    ("storage", ("/storage/",)),
    ("outbound", ("/bot/dispatcher.py", "/bot/channels/telegram_outbound.py", "/bot/channels/pacing.py",
                  "/bot/channels/base.py")),
]
# python-telegram-bot is "/telegram/..." (bot/channels/telegram.py is not)
LIBRARIES = [("PTB", "/telegram/"), ("HTTP (httpx)", "/httpx/"), ("HTTP (httpx)", "/httpcore/"),
             ("HTTP (httpx)", "/h11/"), ("HTTP (httpx)", "/anyio/"), ("SQLAlchemy", "/sqlalchemy/"),
             ("sqlite", "sqlite3"), ("aiosqlite", "/aiosqlite/"), ("asyncio", "/asyncio/"), ("json", "/json/")]
STORAGE_OPS = [("pending_outbox", "outbox reads"), ("_OutboxOp", "outbox marks"), ("mark_delivery", "outbox marks"),
               ("addresses_of", "address lookups"), ("SqlStorage.addresses", "address lookups"),
               ("participants_by_address", "chat -> participant"), ("participant_by_address", "chat -> participant"),
               ("write_steps", "step commits"), ("commit_step", "step commits"), ("load_conversation", "loads")]
FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def _frame(frame: str) -> tuple[str, str]:
    """(function, path) of a frame; py-spy shortens paths ("storage/sql/store.py"): given a leading "/" to match."""
    found = FRAME.match(frame)
    function, path = (found.group(1), found.group(2)) if found else (frame, "")
    return function, path if path.startswith("/") else "/" + path


def _library(stack: list[tuple[str, str]]) -> str:
    """The first library on a stack (the outermost), or "itself"."""
    for _, path in stack:
        for name, part in LIBRARIES:
            if part in path:
                return "Update.de_json" if any("de_json" in f for f, _ in stack) and name == "PTB" else name
    return "itself"


def _storage_op(stack: list[str]) -> str | None:
    """What a storage sample was doing (the outermost operation on the stack), if it says."""
    return next((op for frame in stack for name, op in STORAGE_OPS if frame.startswith(name)
                 or f".{name} (" in frame or f" {name} (" in frame), None)


def layer_of(stack: list[str]) -> tuple[str, str]:
    """(layer, what under it) of one sampled stack (frames root first, "function (file:line)"): the deepest of our
    layers on the stack, and the first library it calls; without one of ours, PTB or the event loop."""
    if stack and stack[0].startswith("thread") and "MainThread" not in stack[0]:  # py-spy --threads: the root
        storage = any(part in frame for frame in stack for part in ("/storage/", "aiosqlite/", "storage-writer"))
        thread = stack[0].split(": ", 1)[-1].split(" (")[0]
        if not storage:
            return "other threads", thread
        return "storage: SQLite in its threads", _storage_op(stack) or thread
    frames = [_frame(f) for f in stack[1:] if not f.startswith("thread")] if stack else []
    deepest, layer = -1, ""
    for i, (_, path) in enumerate(frames):
        for name, parts in LAYERS:
            if any(part in path for part in parts):
                deepest, layer = i, name
    if layer == "storage":  # by operation: the outbox (the dispatcher's), lookups, a step's commit
        return "storage on the event loop", _storage_op(stack) or _library(frames[deepest + 1:])
    if deepest >= 0:
        return layer, _library(frames[deepest + 1:])
    if any(path.startswith("/telegram/") or "-packages/telegram/" in path for _, path in frames):
        return "PTB (getUpdates, parsing, dispatch)", _library(frames)
    return "event loop (asyncio, sockets), other", _library(frames)


def print_layers(name: str, k: int, stacks: Path, result: Result) -> None:
    """The CPU samples of one profiled run by layer (and, under each, by what it spent them in)."""
    if not stacks.exists():
        print(f"  no profile of {name}: is py-spy installed? (uv run --with py-spy ...)")
        return
    totals: Counter[str] = Counter()
    detail: Counter[tuple[str, str]] = Counter()
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        layer, below = layer_of(frames.split(";"))
        totals[layer] += int(count)
        detail[(layer, below)] += int(count)
    samples = sum(totals.values()) or 1
    per_update = 1000 * result.cpu / result.updates
    print(f"\n  where the CPU goes, ours {name}, K = {k}: {per_update:.1f} ms CPU per update "
          f"({result.updates / result.seconds:.1f} updates/s under py-spy), {samples} samples (py-spy, {stacks})")
    for layer, count in totals.most_common():
        parts = ", ".join(f"{below or 'itself'} {100 * n / samples:.0f}%" for (lay, below), n in detail.most_common()
                          if lay == layer and n / samples >= 0.01)
        print(f"    {layer:38} {100 * count / samples:5.1f}%  {per_update * count / samples:5.2f} ms/update  ({parts})")


def variants(compare: Path | None, ref: str | None) -> list[Variant]:
    this = [sys.executable, __file__, "--serve"]
    out = [Variant("shipped", "ours", [*this, "shipped", "--", "run", "--port", "{port}"], ROOT),
           Variant("unthrottled", "ours", [*this, "unthrottled", "--", "run", "--port", "{port}"], ROOT),
           Variant("naive", "naive", [sys.executable, str(HARNESS / "naive_ptb_bot.py")], ROOT),
           Variant("ceiling", "naive", [sys.executable, str(ROOT / "benchmarks" / "telegram_ceiling.py")], ROOT)]
    if compare is not None:
        out += [Variant(f"shipped@{ref}", "ours", [*this, "shipped", "--", "run", "--port", "{port}"], compare),
                Variant(f"unthrottled@{ref}", "ours", [*this, "unthrottled", "--", "run", "--port", "{port}"], compare)]
    return out


def extract(ref: str) -> Path:
    """The project at git ref `ref` in a temporary folder (run with this checkout's virtual environment)."""
    folder = Path(tempfile.mkdtemp(prefix="tgbench-src-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def median(results: list[Result], key: str) -> float:
    return statistics.median(r.figures()[key] for r in results)


def report(k: int, by_variant: dict[str, list[Result]]) -> dict[str, dict[str, float]]:
    print(f"\nK = {k} ({len(next(iter(by_variant.values())))} runs each, medians)")
    print(f"  {'variant':24} {'updates/s':>9} {'answers/s':>9} {'steady':>7} {'req/upd':>7} {'req/ans':>7} "
          f"{'CPU ms/upd':>10} {'start s':>7} {'missing':>7}  requests by method")
    table: dict[str, dict[str, float]] = {}
    for name, results in by_variant.items():
        row = {key: round(median(results, key), 3) for key in results[0].figures()}
        missing = [r.acked_but_missing for r in results if r.acked_but_missing is not None]
        row["acked_but_missing"] = max(missing) if missing else 0
        row["finished"] = min(r.finished for r in results) / k
        table[name] = row
        calls = results[0].calls
        methods = ", ".join(f"{m} {n / results[0].updates:.2f}" for m, n in sorted(calls.items())
                            if m not in NOT_COUNTED)
        print(f"  {name:24} {row['updates_per_s']:9.1f} {row['answers_per_s']:9.1f} {row['steady_answers_per_s']:7.1f} "
              f"{row['requests_per_update']:7.2f} {row['requests_per_answer']:7.2f} {row['cpu_ms_per_update']:10.2f} "
              f"{row['startup_s']:7.1f} {(missing and max(missing)) or 0:7d}  {methods} (per update)")
        runs = ", ".join(f"{r.figures()['updates_per_s']:.1f}" for r in results)
        print(f"  {'':24} runs: {runs} updates/s" + ("" if row["finished"] == 1 else
                                                           f"; ONLY {row['finished']:.0%} FINISHED"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[200, 1000], help="participants (default: 200 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant per K (default 3)")
    parser.add_argument("--quick", action="store_true", help="K = 200, one round")
    parser.add_argument("--only", nargs="+", metavar="VARIANT", help="run only these variants (e.g. unthrottled naive)")
    parser.add_argument("--compare", metavar="GITREF", help="also run ours as of this git ref (e.g. main)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="also profile ours in each mode once (py-spy)")
    parser.add_argument("--harness", type=Path, default=HARNESS, help=f"the shared harness (default: {HARNESS})")
    args = parser.parse_args()
    if args.quick:
        args.k, args.rounds = [200], 1
    if args.profile and shutil.which("py-spy") is None:
        raise SystemExit("--profile needs py-spy on PATH (e.g. uv tool install py-spy)")
    harness = Harness.load(args.harness)
    env = bot_environment()
    compare = extract(args.compare) if args.compare else None
    chosen = [v for v in variants(compare, args.compare) if not args.only or v.name in args.only]
    tables: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tgbench-setup-") as tmp:
        for k in args.k:
            # each checkout's own setup: the same people, enrolled by the code that will serve them
            setups = {code: make_setup(k, Path(tmp) / f"k{k}-{n}", env, code)
                      for n, code in enumerate(dict.fromkeys(v.cwd for v in chosen if v.mode == "ours"))}
            setup, codes = setups.get(ROOT) or make_setup(k, Path(tmp) / f"k{k}", env, ROOT)
            results: dict[str, list[Result]] = {v.name: [] for v in chosen}
            for round_ in range(args.rounds):
                shift = round_ % len(chosen)
                for variant in chosen[shift:] + chosen[:shift]:
                    own_setup, own_codes = setups.get(variant.cwd, (setup, codes))
                    result = harness.run(variant, k, own_setup if variant.mode == "ours" else None,
                                         [c for _, c in own_codes], env)
                    results[variant.name].append(result)
                    f = result.figures()
                    print(f"  round {round_ + 1} {variant.name:22} {f['updates_per_s']:7.1f} updates/s "
                          f"{f['requests_per_update']:5.2f} requests/update "
                          f"{f['cpu_ms_per_update']:6.2f} ms CPU/update "
                          f"({result.finished}/{k} finished)", flush=True)
            tables[k] = report(k, results)
            if args.profile and k == min(args.k):
                args.profile.mkdir(parents=True, exist_ok=True)
                for variant in [v for v in variants(None, None)[:2] if not args.only or v.name in args.only]:
                    stacks = args.profile / f"{variant.name}-k{k}.txt"
                    result = harness.run(variant, k, setup, [c for _, c in codes], env, profile=stacks)
                    print_layers(variant.name, k, stacks, result)
    if compare is not None:
        shutil.rmtree(compare, ignore_errors=True)
    largest = tables[max(tables)]

    def figure(variant: str, key: str) -> float | None:
        return largest[variant][key] if variant in largest else None

    ours, naive = figure("unthrottled", "updates_per_s"), figure("naive", "updates_per_s")
    ceiling = figure("ceiling", "updates_per_s")
    summary: dict[str, Any] = {
        "k": max(tables),
        "ours_updates_per_s": ours,
        "naive_updates_per_s": naive,
        "ratio": round(ours / naive, 3) if ours and naive else None,
        "ceiling_updates_per_s": ceiling,
        "ours_of_ceiling": round(ours / ceiling, 3) if ours and ceiling else None,
        "twice_naive_within_ceiling": 2 * naive <= ceiling if naive and ceiling else None,
        "ours_cpu_ms_per_update": figure("unthrottled", "cpu_ms_per_update"),
        "naive_cpu_ms_per_update": figure("naive", "cpu_ms_per_update"),
        "requests_per_answer": figure("shipped", "requests_per_answer") or figure("unthrottled", "requests_per_answer"),
        "requests_per_update": figure("shipped", "requests_per_update") or figure("unthrottled", "requests_per_update"),
        "shipped_answers_per_s": figure("shipped", "answers_per_s"),
        "shipped_steady_answers_per_s": figure("shipped", "steady_answers_per_s"),
        "shipped_updates_per_s": figure("shipped", "updates_per_s"),
        "acked_but_missing": max(int(row.get("acked_but_missing", 0)) for t in tables.values() for row in t.values()),
        "by_k": tables,
    }
    print(json.dumps(summary))
    if any(row["finished"] < 1 for t in tables.values() for row in t.values()):
        sys.exit("some runs did not finish: their figures mean nothing (see the bot's log above)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        rest = sys.argv[3:]
        sys.exit(serve(sys.argv[2], rest[1:] if rest[:1] == ["--"] else rest))
    if len(sys.argv) > 2 and sys.argv[1] == "--open-questionnaires":
        sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))
        asyncio.run(open_questionnaires(sys.argv[2], sys.argv[3:]))
        sys.exit(0)
    main()
