"""The console channel: the embedded default. A person chats in the terminal; scripts pipe lines in.

Interactive (a terminal): a "> " prompt and each bot message after "bot: ". Scripted (stdin not a
terminal): one participant message per input line, each bot message printed on stdout followed by an empty
line, nothing else on stdout, so transcripts are easy to compare.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import textwrap
import uuid
from typing import TextIO

from bot.channels.base import as_plain_text
from bot.clock import Clock
from bot.conversation import ConversationLoop
from bot.dispatcher import deliver_pending
from bot.faults import crash_point
from bot.inbound import Inbound
from flows import phrases
from flows.inputs import Input, Text
from storage.records import AddressStatus, Identity, OutboxRow, Participant

CHANNEL = "console"
log = logging.getLogger(__name__)


class ConsoleChannel:
    name = CHANNEL

    def __init__(self, out: TextIO, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive

    async def send(self, message: OutboxRow) -> None:
        self.write(as_plain_text(message.payload))

    def write(self, text: str) -> None:
        if self.interactive:
            width = max(40, shutil.get_terminal_size().columns - 6)
            lines = [wrapped for line in text.splitlines() for wrapped in textwrap.wrap(line, width) or [""]]
            self.out.write("bot: " + "\n     ".join(lines) + "\n\n")
        else:
            self.out.write(text + "\n\n")
        self.out.flush()


class ConsoleSession:
    """One sitting at the terminal: every line becomes an inbound message, committed before it is answered."""

    def __init__(self, loop: ConversationLoop, participant: Participant, channel: ConsoleChannel,
                 clock: Clock) -> None:
        self.loop = loop
        self.participant = participant
        self.channel = channel
        self.clock = clock
        self._session = uuid.uuid4().hex[:12]
        self._count = 0

    async def feed(self, inp: Input) -> None:
        """Apply a non-message input (start a flow, resume) and show the replies."""
        await self.loop.handle(self.participant, inp, CHANNEL)
        await self.flush()

    async def say(self, text: str) -> None:
        """The person typed `text`. If it cannot be saved, they are told so, never shown a traceback."""
        self._count += 1
        inbound = Inbound(CHANNEL, CHANNEL, (Text(text),), f"{self._session}:{self._count}", terms_first=False)
        try:
            await self.loop.receive(inbound, Identity(self.participant, AddressStatus.ACTIVE))
        except Exception:
            log.exception("console message %s could not be processed", inbound.provider_id)
            lang = self.participant.lang
            level = self.loop.risk_in(text)
            if level is not None:  # not saved, so no coach knows: at least the person gets the contacts
                log.critical("a risk signal from participant %s could not be stored: tell a coach now",
                             self.participant.ref)
                lines = [self.loop.catalogs.gettext(lang, phrases.SAFETY_HEARD),
                         *self.loop.deployment.contact_lines(level, lang, self.clock.now())]
                self.channel.write("\n".join(lines))
            self.channel.write(self.loop.catalogs.gettext(lang, phrases.NOT_SAVED))
            return
        crash_point("after-commit")  # committed, nothing shown yet: the worst moment for a crash
        await self.flush()

    async def flush(self) -> None:
        await deliver_pending(self.loop.storage, self.channel, self.clock)

    async def run(self, stdin: TextIO) -> None:
        """Read lines until end of input (Ctrl-D) or Ctrl-C."""
        while True:
            try:
                if self.channel.interactive:
                    line: str | None = await asyncio.to_thread(_prompt)
                else:
                    raw = await asyncio.to_thread(stdin.readline)
                    line = raw.rstrip("\r\n") if raw else None
            except (EOFError, KeyboardInterrupt):
                line = None
            if line is None:
                return
            await self.say(line)


def _prompt() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None
