"""`python -m bot COMMAND`: chat in the terminal, check flow files, export results."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import config
from bot.runtime import tune_gc

log = logging.getLogger("bot")


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=config.default_db_path(), metavar="PATH",
                        help="SQLite database file (default: $BOT_DB or ./data/bot.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Stress-programme bot for participants.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="chat with the bot in this terminal as a participant")
    chat.add_argument("--participant", required=True, metavar="ID", help="pseudonymous participant id")
    chat.add_argument("--lang", choices=["da", "en"], help="the participant's language (default da)")
    chat.add_argument("--start", metavar="FLOW", help="start this flow at once (e.g. pss10, who5)")
    _add_db(chat)

    flows = commands.add_parser("flows", help="work with flow files")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = flow_commands.add_parser("check", help="check flow files and report every problem with file and line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="flow files or folders (default: the shipped flows)")

    export = commands.add_parser("export", help="write answers or scores as CSV or JSON")
    export.add_argument("what", choices=["answers", "scores"])
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    _add_db(export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    tune_gc()
    try:
        if args.command == "flows":
            return _flows_check(args.paths)
        if args.command == "export":
            return asyncio.run(_export(args))
        return asyncio.run(_chat(args))
    except KeyboardInterrupt:
        return 130


def _flows_check(paths: list[Path]) -> int:
    from bot.flowregistry import DEFAULT_FLOWS_DIR
    from flows.checker import check_files, flow_paths

    files = flow_paths(paths or [config.flows_dir() or DEFAULT_FLOWS_DIR])
    if not files:
        print("no flow files found", file=sys.stderr)
        return 1
    report = check_files(files)
    for problem in report.problems:
        print(problem)
    if not report.ok:
        print(f"{len(report.errors)} error(s) in {len({p.path for p in report.errors})} file(s)")
        return 1
    print(f"{len(report.flows)} flows OK")
    return 0


async def _export(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.export import export

    async with open_app(args.db) as app:
        if args.output:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                count = await export(app.storage, args.what, args.format, out, app.clock)
            print(f"{count} rows written to {args.output}", file=sys.stderr)
        else:
            await export(app.storage, args.what, args.format, sys.stdout, app.clock)
    return 0


async def _chat(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.channels.console import ConsoleChannel, ConsoleSession
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
            print("(Skriv dine svar og tryk Enter. Ctrl-D afslutter; dine svar er gemt.)\n", file=sys.stderr)
        state = await app.loop.state_of(participant)
        if args.start:
            await session.feed(StartFlow(args.start))
        elif state.run is None and state.runs_started == 0:
            await session.feed(StartFlow(config.first_flow()))
        else:
            await session.feed(Resume())
        await session.run(sys.stdin)
    return 0
