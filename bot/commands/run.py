"""`run`: run the bot, with every configured channel (Telegram, SMS) and its webhooks (`bot.server`); `--check`
prints the effective configuration; with no channel configured it starts the console chat instead."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot import config
from bot.commands import chat
from bot.commands.common import Commands, handled_by
from bot.settings import describe, settings


def add_parser(commands: Commands) -> None:
    run = commands.add_parser("run", help="run the bot: every configured channel (Telegram, SMS) and its webhooks, "
                                          "or the console when none is configured")
    run.add_argument("--port", type=int, default=settings().port, help="default: $PORT or 8080")
    run.add_argument("--host", default=settings().host, help="default: $HOST or 127.0.0.1")
    run.add_argument("--check", action="store_true",
                     help="print the effective configuration (secrets hidden) and exit")
    config.add_db_argument(run)
    handled_by(run, _handle)


def _handle(args: argparse.Namespace) -> int:
    if args.check:
        print("\n".join(describe(settings())))
        return 0
    if not (settings().sms_configured or settings().telegram_configured):
        print("No channel is configured (TWILIO_*, TELEGRAM_BOT_TOKEN); starting the console chat instead.",
              file=sys.stderr)
        return asyncio.run(chat.chat(args.db, "demo"))  # Ctrl-C there: 130, as for `chat`
    from bot.server import run_server  # the web server and channels: only loaded for this command

    try:
        return asyncio.run(run_server(args.db, args.host, args.port))
    except KeyboardInterrupt:  # Ctrl-C or SIGINT: the normal way to stop, after a clean shutdown
        return 0
