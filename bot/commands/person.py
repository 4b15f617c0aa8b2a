"""`person export|erase|retention`: one person's data (the data-protection commands; `export research` is in
export.py).

    person export REF [--out FILE]     everything stored about one person, as JSON
    person erase REF [--yes]           erase it (asks for the ref to be typed again, unless --yes)
    person retention [--dry-run]       erase (or list) everyone past the configured retention period

Files are written readable by their owner only: they hold health data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.commands.common import Commands, handled_by
from bot.files import owner_only

if TYPE_CHECKING:
    from bot.app import App
    from storage.records import Participant


def add_parser(commands: Commands) -> None:
    person = commands.add_parser("person", help="one person's data: export it, erase it; retention")
    actions = person.add_subparsers(dest="person_command", required=True, metavar="ACTION")
    show = actions.add_parser("export", help="write everything stored about one person as JSON")
    show.add_argument("ref", metavar="ID", help="the participant's pseudonymous ref, e.g. p-ab3k9m2x")
    show.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    config.add_db_argument(show)
    handled_by(show, run, existing_db=True)
    erase = actions.add_parser("erase", help="erase everything stored about one person (asks first)")
    erase.add_argument("ref", metavar="ID", help="the participant's pseudonymous ref")
    erase.add_argument("--yes", action="store_true", help="do not ask for the ref to be typed again")
    config.add_db_argument(erase)
    handled_by(erase, run, existing_db=True)
    retention = actions.add_parser("retention", help="erase everyone past the retention period "
                                                     "(data_protection in the deployment configuration)")
    retention.add_argument("--dry-run", action="store_true", help="only list who would be erased")
    config.add_db_argument(retention)
    handled_by(retention, run, existing_db=True)


async def run(args: argparse.Namespace) -> int:
    from bot.app import open_app

    async with open_app(args.db) as app:
        if args.person_command == "retention":
            return await _retention(app, args)
        from bot.person import find

        participant = await find(app.storage, args.ref)
        if participant is None:
            print(f"no participant with the ref {args.ref!r}", file=sys.stderr)
            return 1
        if args.person_command == "export":
            return await _export(app, participant, args.out)
        return await _erase(app, participant, args.yes)


async def _export(app: App, participant: Participant, out: Path | None) -> int:
    from bot.person import export_person

    document = await export_person(app.storage, participant, config.operator(), app.clock.now())
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        with owner_only(out) as target:
            target.write(text)
        print(f"everything about {participant.ref} written to {out}", file=sys.stderr)
    return 0


async def _erase(app: App, participant: Participant, confirmed: bool) -> int:
    from bot.person import erase_person

    keep = app.deployment.data_protection.keep_anonymised_scores
    if not confirmed:
        kept = " (their scores stay, anonymised, in the outcome figures)" if keep else ""
        print(f"This erases everything stored about {participant.ref}{kept}, for good.\n"
              f"Type the ref again to go on: ", end="", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip() != participant.ref:
            print("not the same ref: nothing erased", file=sys.stderr)
            return 1
    counts = await erase_person(app.storage, participant, config.operator(), app.clock.now(), keep)
    print(f"{participant.ref} erased: {sum(counts.values())} rows from {len(counts)} tables"
          + (", scores kept anonymised" if keep else ""), file=sys.stderr)
    return 0


async def _retention(app: App, args: argparse.Namespace) -> int:
    from bot.retention import sweep

    settings = app.deployment.data_protection
    if settings.retention_days_after_end is None:
        print("no retention period configured (data_protection.retention_days_after_end): nothing to do",
              file=sys.stderr)
        return 0
    library = app.registry.library
    found = await sweep(app.storage, library.programme, settings, app.clock.now(), config.operator(),
                        dry_run=args.dry_run, programmes=library.programmes)
    for due in found:
        print(f"{due.participant.ref}\tprogramme ended {due.ended}\tkept until {due.erase_after}")
    verb = "would be erased" if args.dry_run else "erased"
    print(f"{len(found)} participant(s) {verb} ({settings.retention_days_after_end} days after their programme)",
          file=sys.stderr)
    return 0
