"""Talking to the bot from Python, for tests that check what a transcript cannot show (the state, storage, restarts).

A conversation on its own belongs in a data file, tests/transcripts/*.txt (tests/transcripts/README.md). Here:

    await play(chat, '''
        > (start pss10)
        < Nu kommer 10 spørgsmål
        > fem
        < Undskyld, jeg forstod ikke helt dit svar.
        < 0 = Aldrig, 1 = Næsten aldrig
    ''')

`> text` is what the participant sends (`> (start FLOW)` and `> (resume)` are the non-message inputs);
each `< fragment` must appear, in order, in what the bot sent in reply to the latest `>` line. The bot is driven
through tests/transcript_runner.py's `handle`, the one place that calls the conversation loop.
"""

from __future__ import annotations

import textwrap
import uuid

from bot.app import App
from bot.dispatcher import deliver_pending
from flows.inputs import Input, Resume, StartFlow, Text
from storage.records import InboundRecord, Participant
from tests.transcript_runner import CapturingChannel, handle


class Chat:
    def __init__(self, app: App, participant: Participant) -> None:
        self.app = app
        self.participant = participant
        self.channel = CapturingChannel()
        self._session = uuid.uuid4().hex[:8]  # message ids stay unique across sessions on one database
        self._count = 0

    @classmethod
    async def open(cls, app: App, ref: str = "p1", lang: str = "da") -> Chat:
        participant = await app.storage.get_or_create_participant(ref, lang, app.clock.now())
        return cls(app, participant)

    async def feed(self, inp: Input, inbound: InboundRecord | None = None) -> str:
        before = len(self.channel.sent)
        await handle(self.app, self.participant, inp, "console", inbound)
        await deliver_pending(self.app.storage, self.channel, self.app.clock)
        await self.app.loop.settle()  # let coach alerts finish, so a test can look at them
        return "\n\n".join(self.channel.sent[before:])

    async def say(self, text: str) -> str:
        self._count += 1
        inbound = InboundRecord("console", f"{self._session}:{self._count}", self.app.clock.now())
        return await self.feed(Text(text), inbound)

    async def start(self, flow_id: str) -> str:
        return await self.feed(StartFlow(flow_id))


async def play(chat: Chat, script: str) -> None:
    reply, position, sent = "", 0, ""
    for raw in textwrap.dedent(script).strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            sent = line[1:].strip()
            if sent.startswith("(start ") and sent.endswith(")"):
                reply = await chat.start(sent[len("(start "):-1])
            elif sent == "(resume)":
                reply = await chat.feed(Resume())
            else:
                reply = await chat.say(sent)
            position = 0
        elif line.startswith("<"):
            fragment = line[1:].strip()
            found = reply.find(fragment, position)
            assert found >= 0, f"after {sent!r} the bot did not say {fragment!r}; it said:\n{reply}"
            position = found + len(fragment)
        else:
            raise ValueError(f"a transcript line starts with > or <: {line!r}")
