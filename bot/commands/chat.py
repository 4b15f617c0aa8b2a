"""`chat`: talk to the bot in this terminal as a participant (console channel, no tokens); also what `run` starts
when no channel is configured."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from typing import Any

from bot import config
from bot.commands.common import Commands, handled_by


def add_parser(commands: Commands) -> None:
    chat = commands.add_parser("chat", help="chat with the bot in this terminal as a participant")
    chat.add_argument("--participant", required=True, metavar="ID", type=_participant_ref,
                      help="pseudonymous participant id")
    chat.add_argument("--lang", choices=["da", "en"], help="the participant's language (default da)")
    chat.add_argument("--start", metavar="FLOW", help="start this flow at once (e.g. pss10, who5)")
    config.add_db_argument(chat)
    handled_by(chat, _handle)


def _participant_ref(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or not value.isprintable():
        raise argparse.ArgumentTypeError("a participant id is 1 to 64 printable characters, e.g. p-0042")
    return value


def _handle(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    return chat(args.db, args.participant, args.lang, args.start)


async def chat(db: str, ref: str, lang: str | None = None, start: str | None = None) -> int:
    """Hold the conversation of participant `ref` on standard input and output until input ends."""
    from bot.app import open_app
    from bot.channels.console import ConsoleChannel, ConsoleSession
    from flows import phrases
    from flows.inputs import Resume, SetLanguage, StartFlow

    interactive = sys.stdin.isatty()
    async with open_app(db) as app:
        for problem in app.registry.problems:
            print(f"flow problem: {problem}", file=sys.stderr)
        now = app.clock.now()
        participant = await app.storage.get_or_create_participant(ref, lang or "da", now)
        session = ConsoleSession(app.loop, participant, ConsoleChannel(sys.stdout, interactive), app.clock)
        await session.flush()  # anything committed but not shown before a crash
        if lang and lang != participant.lang:
            await session.feed(SetLanguage(lang))
        if interactive:
            print(f"({app.loop.catalogs.gettext(participant.lang, phrases.CONSOLE_HINT)})\n", file=sys.stderr)
        state = await app.loop.state_of(participant)
        if start:
            if state.run is not None:
                print(f"note: participant {participant.ref}'s unfinished {state.run.flow_id} run is ended (abandoned) "
                      f"to start {start}; preview on another database (--db) to avoid this", file=sys.stderr)
            await session.feed(StartFlow(start))
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
