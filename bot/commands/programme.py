"""`programme preview` (every message a participant of one programme would get, with date, time and channel),
`programme simulate` (a scratch participant driven through time: bot/commands/simulate.py) and `programme tick`
(handle the scheduled events due now, once): the programmes over time, flows/programmes/*.yaml."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from bot import config
from bot.commands.common import Commands, handled_by
from bot.commands.simulate import add_arguments as add_simulate_arguments


def add_parser(commands: Commands) -> None:
    programme = commands.add_parser("programme", help="the programmes over time (flows/programmes/*.yaml)")
    programme_commands = programme.add_subparsers(dest="programme_command", required=True, metavar="ACTION")
    preview = programme_commands.add_parser(
        "preview", help="print every message a participant would get, with date, time and channel")
    preview.add_argument("--start", type=date.fromisoformat, metavar="YYYY-MM-DD", default=None,
                         help="the participant's start date (default: next Monday)")
    preview.add_argument("--lang", choices=["da", "en"], default="da")
    preview.add_argument("--channel", choices=["sms", "telegram"], default="sms")
    preview.add_argument("--programme", metavar="ID", help="which programme, by its file's id (default: the "
                         "deployment's default programme)")
    handled_by(preview, _preview)
    simulate = programme_commands.add_parser(
        "simulate", help="try the programme as a participant: answer, move the clock, on a scratch database",
        description="A simulated participant on a scratch database that is thrown away afterwards: nothing is sent, "
                    "nobody is alerted. At a terminal it is interactive (answer, press Enter for the next message, "
                    ":help); --days N runs to day N and prints the whole chat.")
    add_simulate_arguments(simulate)
    handled_by(simulate, _simulate)
    tick = programme_commands.add_parser(
        "tick", help="handle every scheduled event due now, once (`run` does this every 30 s by itself)")
    config.add_db_argument(tick)
    handled_by(tick, _tick)


async def _preview(args: argparse.Namespace) -> int:
    from bot.preview import next_monday, print_timeline, timeline

    start = args.start or next_monday(datetime.now(UTC).date())
    print_timeline(await timeline(start, args.lang, args.channel, config.flows_dir(), programme_id=args.programme),
                   sys.stdout)
    return 0


async def _simulate(args: argparse.Namespace) -> int:
    from bot.commands.simulate import simulate

    return await simulate(args)


async def _tick(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.scheduler import ProgrammeScheduler, address_channel, lease_from_environment

    async with open_app(args.db) as app:
        scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, address_channel(app.storage),
                                       lease=lease_from_environment())
        report = await scheduler.tick()
        await app.loop.settle()
    print(f"{report.handled} scheduled events handled, {report.duplicates} already handled, {report.failed} failed, "
          f"{report.waiting} waiting behind a failed one, {report.timers} questionnaires expired", file=sys.stderr)
    return 1 if report.failed else 0
