"""`export answers|scores|research`: write answers or scores as CSV or JSON; `research`: item-level data under
stable pseudonyms (needs the research key), free text only with --with-free-text, and audited.

Files are written readable by their owner only: they hold health data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.commands.common import Commands, handled_by
from bot.files import owner_only

if TYPE_CHECKING:
    from bot.app import App


def add_parser(commands: Commands) -> None:
    export = commands.add_parser("export", help="write answers or scores as CSV or JSON; research: under pseudonyms")
    export.add_argument("what", choices=["answers", "scores", "research"])
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", "--out", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    config.add_db_argument(export)
    export.add_argument("--with-free-text", action="store_true",
                        help="research: include text answers and what was typed (left out by default)")
    handled_by(export, _export, existing_db=True)


async def _export(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.export import export

    async with open_app(args.db) as app:
        if args.what == "research":
            return await _research(app, args)
        if args.output:
            with owner_only(args.output) as out:  # health data: owner only
                count = await export(app.storage, args.what, args.format, out, app.clock)
            print(f"{count} rows written to {args.output}", file=sys.stderr)
        else:
            await export(app.storage, args.what, args.format, sys.stdout, app.clock)
    return 0


async def _research(app: App, args: argparse.Namespace) -> int:
    from bot.research import export_research
    from storage.crypto import KeyConfigError

    try:
        pseudonym = app.storage.keys.pseudonym
        pseudonym("check")  # no research key: say so before writing anything
    except KeyConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    now, actor = app.clock.now(), config.operator()
    if args.output is None:
        await export_research(app.storage, pseudonym, args.format, sys.stdout, args.with_free_text, actor, now)
        return 0
    with owner_only(args.output) as out:
        count = await export_research(app.storage, pseudonym, args.format, out, args.with_free_text, actor, now)
    print(f"{count} rows written to {args.output}", file=sys.stderr)
    return 0
