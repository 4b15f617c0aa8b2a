"""The console channel never shows a person a traceback, even when the database fails."""

from __future__ import annotations

import io

from bot.app import App
from bot.channels.console import ConsoleChannel, ConsoleSession
from flows.inputs import StartFlow
from storage.records import StepRecord


async def test_a_failing_database_gets_a_kind_reply_not_a_traceback(app: App, monkeypatch) -> None:
    participant = await app.storage.get_or_create_participant("hal", "da", app.clock.now())
    out = io.StringIO()
    session = ConsoleSession(app.loop, participant, ConsoleChannel(out, interactive=False), app.clock)
    await session.feed(StartFlow("pss10"))

    async def broken_commit(step: StepRecord) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(app.storage, "commit_step", broken_commit)
    await session.say("2")
    assert out.getvalue().endswith("Undskyld, din besked kunne ikke gemmes lige nu. Send den gerne igen om lidt.\n\n")
    assert await app.storage.export_answers() == []
