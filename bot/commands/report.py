"""`python -m bot report outcomes`: the municipality's outcome report (docs/outcomes.md), as text, CSV, JSON or HTML.

Reading health data in bulk is audited like an export: who made which report, for which cohort, of how many.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.commands.common import Commands, handled_by
from bot.files import owner_only

if TYPE_CHECKING:
    from bot.outcomes.build import Report

FORMATS = ("text", "csv", "json", "html")


def add_parser(commands: Commands) -> None:
    report = commands.add_parser("report", help="reports for the municipality: the programme's outcomes")
    reports = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    outcomes = reports.add_parser(
        "outcomes", help="enrolment, PSS-10, WHO-5, life satisfaction, adherence and safety, from the stored data")
    outcomes.add_argument("--cohort", metavar="NAME", help="only participants enrolled with this cohort")
    outcomes.add_argument("--programme", metavar="ID", help="the participants of this programme, by its file's id "
                          "(default: the deployment's default programme; each programme has a report of its own)")
    outcomes.add_argument("--from", dest="start_from", type=date.fromisoformat, metavar="YYYY-MM-DD",
                          help="only participants whose programme started on or after this day")
    outcomes.add_argument("--to", dest="start_to", type=date.fromisoformat, metavar="YYYY-MM-DD",
                          help="only participants whose programme started on or before this day")
    outcomes.add_argument("--format", choices=FORMATS, default="text")
    outcomes.add_argument("--out", type=Path, metavar="PATH", help="write to PATH instead of standard output")
    outcomes.add_argument("--lang", choices=["da", "en"], default="da", help="language and number format (default da)")
    config.add_db_argument(outcomes)
    handled_by(outcomes, run, existing_db=True)


async def run(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.outcomes.cohort import Filters
    from bot.outcomes.reading import read_report
    from storage.errors import Unsupported
    from storage.records import AuditRecord

    if args.start_from and args.start_to and args.start_from > args.start_to:
        print("--from must be on or before --to", file=sys.stderr)
        return 2
    async with open_app(args.db) as app:
        library = app.registry.library
        programme = library.programme_for(args.programme)
        if programme is None:
            choices = ", ".join(sorted(library.programmes))
            print(f"no programme {args.programme!r}: choose one of {choices}" if args.programme and choices
                  else f"several programmes and none is the default: name one with --programme ({choices})"
                  if choices else "no programme file: the report follows the programme's measurements",
                  file=sys.stderr)
            return 1
        if args.cohort is not None:  # a typo must not pass for a cohort with nobody in it
            known = await app.storage.cohorts()
            if args.cohort not in known:
                print(f"no participant was enrolled in cohort {args.cohort!r}; cohorts: "
                      f"{', '.join(known) or 'none yet'}", file=sys.stderr)
                return 1
        now = app.clock.now()
        several = len(library.programmes) > 1  # then the report says which programme, and reads its people only
        filters = Filters(args.cohort, args.start_from, args.start_to, programme.id if several else None,
                          programme.name(args.lang) if several else None)
        try:
            report = await read_report(app.storage, programme, now, filters,
                                       default=programme is library.programme)
        except Unsupported as exc:  # a database the report cannot read
            print(str(exc), file=sys.stderr)
            return 1
        written = _render(args.format)(report, args.lang)
        if args.out:
            with owner_only(args.out) as out:  # health data: owner only
                out.write(written)
            print(f"outcome report ({report.participation.enrolled} participants) written to {args.out}",
                  file=sys.stderr)
        else:
            sys.stdout.write(written)
        detail = {"format": args.format, "cohort": args.cohort, "participants": report.participation.enrolled,
                  **({"programme": programme.id} if several else {})}
        await app.storage.record_audit(AuditRecord(config.operator(), "report.outcomes", "participants", now, detail))
    return 0


def _render(fmt: str) -> Callable[[Report, str], str]:
    from bot.outcomes.html import render_html
    from bot.outcomes.tables import render_csv, render_json
    from bot.outcomes.text import render_text

    return {"text": render_text, "csv": render_csv, "json": render_json, "html": render_html}[fmt]
