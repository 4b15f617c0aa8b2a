"""`flows check`: check flow files, the risk word list and the programme, and report every problem with file and
line; with `--db`, also flow files edited after participants ran them without a new version."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import config
from bot.commands.common import Commands, handled_by
from bot.settings import settings
from flows.model import Flow
from flows.yamlsource import Problem


def add_parser(commands: Commands) -> None:
    flows = commands.add_parser("flows", help="work with flow files")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = flow_commands.add_parser("check", help="check flow files and report every problem with file and line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="flow files or folders (default: the shipped flows)")
    check.add_argument("--db", metavar="PATH",
                       help="also compare with the versions this database has run (an edit needs a new version)")
    handled_by(check, _handle)


def _handle(args: argparse.Namespace) -> int:
    return flows_check(args.paths, args.db)


def flows_check(paths: list[Path], db: str | None) -> int:
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


async def _changed_without_new_version(flows: Sequence[Flow], db: str) -> list[Problem]:
    """Flow files whose text differs from what the database (a file or a URL) ran under the same id and version."""
    from storage import open_storage

    file = config.database_file(db)
    if file is not None and not file.is_file():
        return [Problem(db, 0, "no such database", "error")]
    storage = await open_storage(db, runner=settings().bot_storage_runner, key_environ=settings().key_environ())
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
