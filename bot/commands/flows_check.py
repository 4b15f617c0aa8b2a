"""`flows check`: check flow files, the programmes, the risk word list and deployment files (each recognised by
its keys, bot/file_check.py) and report every problem with file and line; a flow edited without a new version is
refused by the published texts' fingerprints (`--record` adds new versions) and, with `--db`, by what the
database ran."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.commands.common import Commands, handled_by
from bot.settings import settings
from flows.model import Flow
from flows.yamlsource import Problem

if TYPE_CHECKING:
    from bot.file_check import FolderReport


def add_parser(commands: Commands) -> None:
    flows = commands.add_parser("flows", help="work with flow files")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = flow_commands.add_parser(
        "check", help="check flow files, the programmes, the risk word list and deployment files: every problem "
                      "with file and line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="files or folders, subfolders included (default: the flows the bot uses, with the "
                            "programme and the word list beside them); each file is checked as what it is")
    check.add_argument("--db", metavar="PATH",
                       help="also compare with the versions this database has run (an edit needs a new version)")
    check.add_argument("--record", action="store_true",
                       help="when everything is OK, add the flows' new versions to fingerprints.json beside them "
                            "(their published texts); a version already there is never changed")
    handled_by(check, _handle)


def _handle(args: argparse.Namespace) -> int:
    return flows_check(args.paths, args.db, record=args.record)


def flows_check(paths: list[Path], db: str | None, record: bool = False) -> int:
    from bot.file_check import check_folder, record_fingerprints, sms_length_warnings, yaml_files
    from bot.flowregistry import DEFAULT_FLOWS_DIR, DEFAULT_RISK_TERMS

    flows_dir = config.flows_dir() or DEFAULT_FLOWS_DIR
    files = yaml_files(paths or [flows_dir])
    if not files:
        print("no flow files found", file=sys.stderr)
        return 1
    first_folder = next((p for p in paths if p.is_dir()), None) if paths else flows_dir
    report = check_folder(files, default_flows=flows_dir, default_word_list=DEFAULT_RISK_TERMS,
                          default_programmes=config.programme_files(first_folder) if first_folder else [])
    problems = [*report.problems, *sms_length_warnings(report.flows)]
    if db is not None:
        problems += asyncio.run(_changed_without_new_version(report.flows, db))
    for problem in problems:
        print(problem)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        print(f"{len(errors)} error(s) in {len({p.path for p in errors})} file(s)")
        if record:
            print("nothing recorded: fix the errors first", file=sys.stderr)
        return 1
    if record:
        for line in record_fingerprints(report) or ["nothing new to record"]:
            print(line)
    print(_summary(report))
    return 0


def _summary(report: FolderReport) -> str:
    from flows.programme_set import programme_set

    parts = [f"{len(report.flows)} flows OK"]
    parts += ["risk word list OK"] * len(report.word_lists)
    chosen = programme_set(report.programmes)[0].default
    parts += [f"programme {p.id!r}{' (the default)' if p is chosen and len(report.programmes) > 1 else ''} OK"
              for p in report.programmes] or ["no programme file"]
    parts += ["deployment OK"] * len(report.deployments)
    return ", ".join(parts)


async def _changed_without_new_version(flows: Sequence[Flow], db: str) -> list[Problem]:
    """Flow files whose text differs from what the database (a file or a URL) ran under the same id and version."""
    from bot.file_check import changed_after_use
    from storage import open_storage

    file = config.database_file(db)
    if file is not None and not file.is_file():
        return [Problem(db, 0, "no such database", "error")]
    storage = await open_storage(db, runner=settings().bot_storage_runner, key_environ=settings().key_environ())
    try:
        return await changed_after_use(flows, storage)
    finally:
        await storage.close()
