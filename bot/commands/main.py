"""`stressbot COMMAND` / `python -m bot COMMAND`: the parser built from the command modules, and the dispatch."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib.metadata import PackageNotFoundError, version

from bot.commands import appointments as appointments_command
from bot.commands import chat, coach, cohort, db, desk, enrol, export, flows_check, person, programme, report, run
from bot.commands.common import Commands, Handler
from bot.config import database_file
from bot.runtime import tune_runtime
from bot.settings import SettingsError, settings

# Every command, in the order `--help` lists them; each adds its subparser and names its handler.
COMMANDS: tuple[Callable[[Commands], None], ...] = (
    chat.add_parser,  # chat
    flows_check.add_parser,  # flows check
    coach.add_desk_parser,  # coach
    run.add_parser,  # run
    enrol.add_parser,  # enroll
    cohort.add_parser,  # cohort randomise, cohort verify
    coach.add_escalations_parser,  # escalations list
    programme.add_parser,  # programme preview, programme simulate, programme tick
    appointments_command.add_parser,  # appointments book, list, import
    coach.add_tasks_parser,  # tasks list, tasks done
    report.add_parser,  # report outcomes
    export.add_parser,  # export answers|scores|research
    person.add_parser,  # person export, erase, retention
    db.add_parser,  # db upgrade, current, check, revision
    desk.add_parser,  # desk, desk add-user
)


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
    for add_parser in COMMANDS:
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings()  # read and checked once, before anything else: a bad value is one line, not a traceback
    except SettingsError as error:
        print(f"configuration: {error}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    tune_runtime()
    file = database_file(args.db) if args.existing_db else None
    if file is not None and not file.exists():  # a typo must not make an empty database (a server makes none)
        print(f"there is no database at {args.db} (give --db PATH or set BOT_DB)", file=sys.stderr)
        return 1
    try:
        handler: Handler = args.handler
        outcome = handler(args)
        return asyncio.run(outcome) if isinstance(outcome, Coroutine) else outcome
    except KeyboardInterrupt:  # Ctrl-C or SIGINT (`run` handles its own: there it is the normal way to stop)
        return 130
    except Exception as error:
        problem = _setup_problem(error, getattr(args, "db", None))
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 2


def _setup_problem(error: Exception, db: str | None) -> str | None:
    """One line, instead of a traceback, for what the operator must fix when a command cannot use its database:
    the keys (a database on a server has no development key file), or the server refusing or failing (its
    address, user or database name: the driver's first line, which carries no data); None for anything else."""
    from sqlalchemy.exc import OperationalError

    from storage.crypto import KeyConfigError

    if isinstance(error, KeyConfigError):
        return f"configuration: {error}"
    if isinstance(error, OperationalError) and error.orig is not None and db and database_file(db) is None:
        lines = str(error.orig).strip().splitlines()
        return f"the database failed: {lines[0] if lines else type(error.orig).__name__}"
    return None
