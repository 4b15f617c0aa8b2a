"""Conversations through the real loop on a real SQLite file that check what a transcript cannot show.

The conversations themselves are data: tests/transcripts/*.txt, replayed by tests/test_transcripts_data.py.
"""

from __future__ import annotations

from bot.app import App
from flows.inputs import Text
from storage.records import InboundRecord
from tests.transcript import Chat


async def test_a_repeated_message_is_processed_once(app: App) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    inbound = InboundRecord("console", "retry-1", app.clock.now())
    first = await chat.feed(Text("2"), inbound)
    again = await chat.feed(Text("2"), inbound)
    assert "(2/10)" in first and again == ""
    assert len(await app.storage.export_answers()) == 1
