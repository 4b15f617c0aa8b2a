"""`python -m bot COMMAND`: chat in the terminal, check flow files, export results."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot import config, person_cli, report_cli
from bot.runtime import tune_gc
from bot.settings import SettingsError, describe, settings
from flows.model import Flow
from flows.yamlsource import Problem

log = logging.getLogger("bot")


def _participant_ref(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or not value.isprintable():
        raise argparse.ArgumentTypeError("a participant id is 1 to 64 printable characters, e.g. p-0042")
    return value


def _version() -> str:
    try:
        return version("stressbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stressbot", description="Stress-programme bot for participants "
                                     "(also `python -m bot`). Settings come from the environment: `run --check`.")
    parser.add_argument("--version", action="version", version=f"stressbot {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="chat with the bot in this terminal as a participant")
    chat.add_argument("--participant", required=True, metavar="ID", type=_participant_ref,
                      help="pseudonymous participant id")
    chat.add_argument("--lang", choices=["da", "en"], help="the participant's language (default da)")
    chat.add_argument("--start", metavar="FLOW", help="start this flow at once (e.g. pss10, who5)")
    config.add_db_argument(chat)

    flows = commands.add_parser("flows", help="work with flow files")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = flow_commands.add_parser("check", help="check flow files and report every problem with file and line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="flow files or folders (default: the shipped flows)")
    check.add_argument("--db", metavar="PATH", type=Path,
                       help="also compare with the versions this database has run (an edit needs a new version)")

    coach = commands.add_parser("coach", help="the coach's desk: list, show, acknowledge and close risk alerts")
    coach.add_argument("--coach", required=True, metavar="ID", help="your coach id from the deployment configuration")
    config.add_db_argument(coach)

    run = commands.add_parser("run", help="run the bot: every configured channel (Telegram, SMS) and its webhooks, "
                                          "or the console when none is configured")
    run.add_argument("--port", type=int, default=settings().port, help="default: $PORT or 8080")
    run.add_argument("--host", default=settings().host, help="default: $HOST or 127.0.0.1")
    run.add_argument("--check", action="store_true",
                     help="print the effective configuration (secrets hidden) and exit")
    config.add_db_argument(run)

    enroll = commands.add_parser("enroll", help="enrol participants (one, or many from a CSV file)")
    enroll.add_argument("--name", help="the participant's name (shown to coaches only)")
    enroll.add_argument("--phone", help="mobile number for SMS, e.g. 12345678 or +4512345678")
    enroll.add_argument("--telegram", action="store_true", help="make a Telegram invite link")
    enroll.add_argument("--lang", choices=["da", "en"], default="da")
    enroll.add_argument("--start-date", type=date.fromisoformat, metavar="YYYY-MM-DD")
    enroll.add_argument("--coach", metavar="ID", help="the participant's coach (an id from the configuration)")
    enroll.add_argument("--cohort", metavar="NAME", help="the group enrolled together, for outcome reports")
    enroll.add_argument("--csv", type=Path, metavar="FILE",
                        help="enrol every row (columns: name, phone, telegram, lang, start_date, coach, cohort)")
    config.add_db_argument(enroll)

    escalations = commands.add_parser("escalations", help="risk escalations")
    escalation_commands = escalations.add_subparsers(dest="escalations_command", required=True, metavar="ACTION")
    listing = escalation_commands.add_parser("list", help="print escalations, newest first")
    listing.add_argument("--open", action="store_true", help="only those not closed")
    config.add_db_argument(listing)

    programme = commands.add_parser("programme", help="the programme over time (flows/programme.yaml)")
    programme_commands = programme.add_subparsers(dest="programme_command", required=True, metavar="ACTION")
    preview = programme_commands.add_parser(
        "preview", help="print every message a participant would get, with date, time and channel")
    preview.add_argument("--start", type=date.fromisoformat, metavar="YYYY-MM-DD", default=None,
                         help="the participant's start date (default: next Monday)")
    preview.add_argument("--lang", choices=["da", "en"], default="da")
    preview.add_argument("--channel", choices=["sms", "telegram"], default="sms")
    tick = programme_commands.add_parser(
        "tick", help="handle every scheduled event due now, once (`run` does this every 30 s by itself)")
    config.add_db_argument(tick)

    tasks = commands.add_parser("tasks", help="coach tasks: week-4 evaluation, TRE check-ins, missed measurements")
    task_commands = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
    task_list = task_commands.add_parser("list", help="print your participants' open tasks, oldest first")
    task_list.add_argument("--coach", required=True, metavar="ID", help="who is looking (written to the audit log)")
    config.add_db_argument(task_list)
    task_done = task_commands.add_parser("done", help="mark a task done")
    task_done.add_argument("task_id", type=int, metavar="TASK")
    task_done.add_argument("--coach", required=True, metavar="ID")
    config.add_db_argument(task_done)

    report_cli.add_parser(commands)
    export = commands.add_parser("export", help="write answers or scores as CSV or JSON; research: under pseudonyms")
    export.add_argument("what", choices=["answers", "scores", "research"])
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", "--out", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    config.add_db_argument(export)
    person_cli.add_parser(commands, export)  # person export/erase/retention, export research (bot/person_cli.py)
    return parser


READS_EXISTING = frozenset({"export", "report", "person", "tasks", "escalations"})  # never on a new database


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings()  # read and checked once, before anything else: a bad value is one line, not a traceback
    except SettingsError as error:
        print(f"configuration: {error}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    tune_gc()
    if args.command in READS_EXISTING and not Path(args.db).exists():  # a typo must not make an empty database
        print(f"there is no database at {args.db} (give --db PATH or set BOT_DB)", file=sys.stderr)
        return 1
    try:
        if args.command == "flows":
            return _flows_check(args.paths, args.db)
        if args.command == "report":
            return asyncio.run(report_cli.run(args))
        if person_cli.handles(args):
            return asyncio.run(person_cli.run(args))
        if args.command == "export":
            return asyncio.run(_export(args))
        if args.command == "programme" and args.programme_command == "tick":
            return asyncio.run(_programme_tick(args))
        if args.command == "programme":
            return asyncio.run(_programme_preview(args))
        if args.command == "tasks":
            return asyncio.run(_tasks(args))
        if args.command == "coach":
            return asyncio.run(_coach(args))
        if args.command == "enroll":
            return asyncio.run(_enroll(args))
        if args.command == "run" and args.check:
            print("\n".join(describe(settings())))
            return 0
        if args.command == "run" and not (settings().sms_configured or settings().telegram_configured):
            print("No channel is configured (TWILIO_*, TELEGRAM_BOT_TOKEN); starting the console chat instead.",
                  file=sys.stderr)
            return main(["chat", "--participant", "demo", "--db", args.db])
        if args.command == "run":
            from bot.server import run_server

            return asyncio.run(run_server(args.db, args.host, args.port))
        if args.command == "escalations":
            return asyncio.run(_escalations(args))
        return asyncio.run(_chat(args))
    except KeyboardInterrupt:  # Ctrl-C or SIGINT: for `run` the normal way to stop, after a clean shutdown
        return 0 if args.command == "run" else 130


def _flows_check(paths: list[Path], db: Path | None) -> int:
    from bot.flowregistry import DEFAULT_FLOWS_DIR, DEFAULT_RISK_TERMS, load_checked_programme
    from flows.checker import check_files, flow_paths
    from flows.risk_loader import load_risk_terms

    files = flow_paths(paths or [config.flows_dir() or DEFAULT_FLOWS_DIR])
    if not files:
        print("no flow files found", file=sys.stderr)
        return 1
    report = check_files(files)
    _, term_problems = load_risk_terms(DEFAULT_RISK_TERMS)
    problems = [*report.problems, *term_problems, *sms_length_warnings(report.flows)]
    programme_path = config.programme_file(paths[0] if paths else config.flows_dir() or DEFAULT_FLOWS_DIR)
    programme, programme_problems = load_checked_programme(programme_path, list(report.flows))
    problems += programme_problems
    if db is not None:
        problems += asyncio.run(_changed_without_new_version(report.flows, db))
    for problem in problems:
        print(problem)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        print(f"{len(errors)} error(s) in {len({p.path for p in errors})} file(s)")
        return 1
    what = f", programme {programme.id!r} OK" if programme is not None else ", no programme file"
    print(f"{len(report.flows)} flows OK, risk word list OK{what}")
    return 0


def sms_length_warnings(flows: Sequence[Flow]) -> list[Problem]:
    """A step whose SMS (text and numbered answers) would take more than SMS_MAX_SEGMENTS segments (default 3):
    long messages cost more and arrive split on a cheap phone."""
    from bot.gsm import segments, to_gsm

    limit = settings().sms_max_segments
    found = []
    for flow in flows:
        for step in flow.steps:
            for lang in flow.languages:
                lines = [step.text.get(lang), *(f"{c.value} = {c.label.get(lang)}" for c in step.choices)]
                count = segments(to_gsm("\n".join(lines)))
                if count > limit:
                    found.append(Problem(flow.source_path, step.line, f"step {step.id!r} in {lang!r} takes {count} "
                                         f"SMS segments (more than {limit})", "warning"))
    return found


async def _changed_without_new_version(flows: Sequence[Flow], db: Path) -> list[Problem]:
    """Flow files whose text differs from what the database ran under the same id and version."""
    from storage import open_storage

    if not db.is_file():
        return [Problem(str(db), 0, "no such database", "error")]
    storage = await open_storage(str(db), runner=settings().bot_storage_runner, key_environ=settings().key_environ())
    problems = []
    try:
        for flow in flows:
            text = Path(flow.source_path).read_text(encoding="utf-8")
            stored = await storage.flow_version_source(flow.id, flow.version)
            if stored is not None and stored != text:
                line = next((n for n, row in enumerate(text.splitlines(), 1) if row.startswith("version:")), 1)
                problems.append(Problem(flow.source_path, line, f"the file was changed after version {flow.version} "
                                        "was used by participants: raise the version"))
    finally:
        await storage.close()
    return problems


async def _export(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.export import export
    from bot.files import owner_only

    async with open_app(args.db) as app:
        if args.output:
            with owner_only(args.output) as out:  # health data: owner only
                count = await export(app.storage, args.what, args.format, out, app.clock)
            print(f"{count} rows written to {args.output}", file=sys.stderr)
        else:
            await export(app.storage, args.what, args.format, sys.stdout, app.clock)
    return 0


async def _coach(args: argparse.Namespace) -> int:
    from bot.app import open_app

    async with open_app(args.db) as app:
        if not app.deployment.is_coach(args.coach):
            print("unknown coach id", file=sys.stderr)
            return 1
        await app.escalations.tick()
        watcher = asyncio.create_task(app.escalations.watch())  # deadlines run while a coach is at the desk
        try:
            print(await app.desk.handle(args.coach, "LIST"))
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return 0
                if line.strip():
                    print(await app.desk.handle(args.coach, line.strip()), flush=True)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _programme_preview(args: argparse.Namespace) -> int:
    from bot.preview import print_timeline, timeline

    today = datetime.now(UTC).date()
    start = args.start or today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    print_timeline(await timeline(start, args.lang, args.channel, config.flows_dir()), sys.stdout)
    return 0


async def _programme_tick(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.scheduler import ProgrammeScheduler, address_channel, lease_from_environment

    async with open_app(args.db) as app:
        scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, address_channel(app.storage),
                                       lease=lease_from_environment())
        report = await scheduler.tick()
        await app.loop.settle()
    print(f"{report.handled} scheduled events handled, {report.duplicates} already handled, {report.failed} failed, "
          f"{report.timers} questionnaires expired", file=sys.stderr)
    return 1 if report.failed else 0


async def _tasks(args: argparse.Namespace) -> int:
    """The coach's open tasks (their own participants'; an administrator's: everyone's), or one marked done."""
    from bot.app import open_app

    async with open_app(args.db) as app:
        if args.coach not in app.deployment.coaches:
            print(f"{args.coach!r} is not a coach in the deployment configuration", file=sys.stderr)
            return 2
        if args.tasks_command == "done":
            print(await app.desk.overview.task_done(args.coach, args.task_id))
        else:
            print(await app.desk.overview.tasks(args.coach))
    return 0


async def _enroll(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.enroll import EnrolmentError, EnrolmentRequest, enrol, read_csv
    from flows import phrases
    from flows.inputs import RequireConsent

    if args.csv is None and not args.name:
        print("give --name (and --phone and/or --telegram), or --csv FILE", file=sys.stderr)
        return 2
    if args.csv is not None:
        with args.csv.open(encoding="utf-8-sig", newline="") as source:
            rows = read_csv(source)
    else:
        rows = [(0, EnrolmentRequest(args.name, args.phone, args.telegram, args.lang, args.start_date, args.coach,
                                         args.cohort))]
    bot_username = settings().telegram_bot_username
    if not bot_username and (args.telegram or args.csv is not None):
        print("note: TELEGRAM_BOT_USERNAME (the bot's @name) is not set, so no Telegram invite links can be made",
              file=sys.stderr)
    enrolled, rejected = 0, []
    async with open_app(args.db) as app:
        for done, (number, request) in enumerate(rows, start=1):
            if args.csv is not None:
                filled = 30 * done // len(rows)
                print(f"\r[{'=' * filled}{' ' * (30 - filled)}] {done}/{len(rows)}", end="", file=sys.stderr)
            if isinstance(request, EnrolmentError):
                rejected.append((number, str(request)))
                continue
            try:
                invite = await enrol(app.storage, request, app.deployment.coaches, app.clock.now(), bot_username,
                                     app.registry.library.programme)
            except EnrolmentError as exc:
                rejected.append((number, str(exc)))
                continue
            enrolled += 1
            # the programme's terms come first in their first conversation; the first SMS says they are signed up
            channel = "sms" if request.phone else "telegram"
            notice = phrases.SMS_INVITE if request.phone else None
            await app.loop.handle(invite.participant, RequireConsent(), channel, notice=notice)
            print(f"{invite.participant.ref}" + (f"\t{invite.telegram_link}" if invite.telegram_link else ""))
    if args.csv is not None:
        print(file=sys.stderr)
    print(f"{enrolled} enrolled, {len(rejected)} rejected", file=sys.stderr)
    for number, reason in rejected:
        print(f"  row {number}: {reason}" if number else f"  {reason}", file=sys.stderr)
    return 0 if not rejected else 1


async def _escalations(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from storage.interface import AuditRecord

    async with open_app(args.db) as app:
        rows = await app.storage.escalations(only_open=args.open)
        for e in rows:
            print(f"#{e.id}\t{e.level}\t{e.status}\tparticipant {e.participant_ref}\topened {e.opened_at.isoformat()}"
                  f"\ttier {e.tier}\tacknowledged {e.acknowledged_by or '-'}\tclosed {e.closed_by or '-'}")
        if not rows:
            print("no escalations")
        await app.storage.record_audit(AuditRecord("admin:cli", "escalation.listed", "escalations", app.clock.now(),
                                                   {"count": len(rows), "only_open": args.open}))
    return 0


async def _chat(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.channels.console import ConsoleChannel, ConsoleSession
    from flows import phrases
    from flows.inputs import Resume, SetLanguage, StartFlow

    interactive = sys.stdin.isatty()
    async with open_app(args.db) as app:
        for problem in app.registry.problems:
            print(f"flow problem: {problem}", file=sys.stderr)
        now = app.clock.now()
        participant = await app.storage.get_or_create_participant(args.participant, args.lang or "da", now)
        session = ConsoleSession(app.loop, participant, ConsoleChannel(sys.stdout, interactive), app.clock)
        await session.flush()  # anything committed but not shown before a crash
        if args.lang and args.lang != participant.lang:
            await session.feed(SetLanguage(args.lang))
        if interactive:
            print(f"({app.loop.catalogs.gettext(participant.lang, phrases.CONSOLE_HINT)})\n", file=sys.stderr)
        state = await app.loop.state_of(participant)
        if args.start:
            if state.run is not None:
                print(f"note: participant {participant.ref}'s unfinished {state.run.flow_id} run is ended (abandoned) "
                      f"to start {args.start}; preview on another database (--db) to avoid this", file=sys.stderr)
            await session.feed(StartFlow(args.start))
        elif state.run is None and state.runs_started == 0:
            await session.feed(StartFlow(config.first_flow()))
        else:
            await session.feed(Resume())
        await app.escalations.tick()  # overdue escalations fire at once after a restart
        watcher = asyncio.create_task(app.escalations.watch())
        try:
            await session.run(sys.stdin)
            await app.loop.settle()  # coach alerts still on their way
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher  # let a tick in progress finish unwinding before storage closes
    return 0
