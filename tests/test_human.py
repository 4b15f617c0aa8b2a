"""Every word a participant writes reaches a human (issue 11, points 1, 2 and 7).

The conversations are transcripts, tests/transcripts/human_*.txt: words that are not an answer go to the coach's inbox
and are read there (audited), KONTAKT makes a task, slips and tries at an answer stay with the bot, the crisis block is
not repeated within the hour, a questionnaire goes on only when the person says so after the safety check. Here: what
a transcript cannot show (a broken engine; nothing they wrote is readable in the database's files)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from storage.records import Enrollment
from tests.conftest import app_without_consent
from tests.test_data_protection import traces
from tests.test_safety import CapturingCoachChannel
from tests.transcript import Chat

CALL_ME = "jeg har det rigtig skidt, kan I ringe til mig på 12345678"


@pytest.fixture
def coaches() -> CapturingCoachChannel:
    return CapturingCoachChannel()


@pytest.fixture
async def app(tmp_path: Path, clock: FakeClock, coaches: CapturingCoachChannel) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, clock, {"console": coaches}) as opened:
        yield opened


async def enrolled(app: App, ref: str = "p-anna", name: str = "Anna Jensen", coach: str = "coach",
                   lang: str = "da") -> Chat:
    participant = await app.storage.enroll(Enrollment(ref, name, lang, None, coach), app.clock.now())
    return Chat(app, participant)


async def test_if_the_engine_fails_the_words_still_reach_the_coach(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.conversation

    def broken(*args: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(bot.conversation, "advance", broken)
    chat = await enrolled(app)
    assert "Undskyld, der gik noget galt hos os." in await chat.say(CALL_ME)
    [message] = await app.storage.coach_messages()
    assert message.body == CALL_ME


# --- nothing they wrote is readable in the files ---


async def test_what_people_write_is_not_readable_in_the_database_files(app: App, tmp_path: Path) -> None:
    chat = await enrolled(app)
    await chat.start("checkin")
    await chat.say("7")
    await chat.say("2")
    await chat.say("En tung uge med meget gråd")  # a free-text answer
    await chat.say(CALL_ME)  # a message for the coach
    await chat.say("jeg tænker på selvmord hver nat")  # a risk message: escalated with its words
    await app.desk.handle("coach", "BESKEDER")
    found = traces(tmp_path / "bot.db", "tung uge med meget", "ringe til mig", "12345678", "selvmord hver nat",
                   "Anna Jensen")
    assert found == []
    assert re.search("tung uge", str(await app.storage.person_data(chat.participant.id)))  # and all of it is theirs
