"""The same questionnaire, word for word, on the console, over SMS and on Telegram: the flows run unchanged
whatever the channel (SMS only swaps curly quotes for plain ones to stay in the GSM-7 alphabet)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from bot.app import open_app
from bot.clock import FakeClock
from bot.gsm import to_gsm
from flows.inputs import StartFlow
from tests.conftest import without_consent
from tests.test_sms import PHONE, Sms
from tests.test_sms import sms as sms
from tests.test_telegram import CHAT, USER, Tg, until
from tests.test_telegram import tg as tg
from tests.transcript import Chat

SCRIPT = ["2", "fem", "TILBAGE", "3", "Ret ofte", "SPROG", "2", "sprog dansk", *["1"] * 7]


async def console_transcript(tmp_path: Path, clock: FakeClock) -> list[list[str]]:
    async with open_app(str(tmp_path / "console.db"), clock, coach_channels={},
                        deployment_path=without_consent(tmp_path)) as app:
        chat = await Chat.open(app, "same")
        await chat.start("pss10")
        replies = []
        for text in SCRIPT:
            before = len(chat.channel.sent)
            await chat.say(text)
            replies.append(chat.channel.sent[before:])
        return replies


async def test_sms_says_exactly_what_the_console_says(tmp_path: Path, clock: FakeClock, sms: Sms) -> None:
    expected = await console_transcript(tmp_path, clock)
    participant = await sms.app.storage.participant_by_address("sms", PHONE)
    assert participant is not None
    await sms.app.loop.handle(participant, StartFlow("pss10"), "sms")
    await sms.replies()
    for text, replies in zip(SCRIPT, expected, strict=True):
        await sms.text(text)
        assert await sms.replies() == [to_gsm(r) for r in replies], text
    assert "Din score er" in expected[-1][-1]


async def test_telegram_says_exactly_what_the_console_says(tmp_path: Path, clock: FakeClock, tg: Tg) -> None:
    expected = await console_transcript(tmp_path, clock)
    participant = await tg.linked()
    await tg.start_flow(participant, "pss10")
    await tg.fake.wait_sent(CHAT, 3)  # the intro and the first question
    for text, replies in zip(SCRIPT, expected, strict=True):
        before = len(tg.fake.sent_to(CHAT))
        tg.fake.user_sends_text(CHAT, USER, text)
        said = "\n\n".join(replies)  # a reply's parts go as one message up to its question (one request)

        def telegram_said(before: int = before) -> str:
            return "\n\n".join(m.text for m in tg.fake.sent_to(CHAT)[before:])

        with contextlib.suppress(TimeoutError):
            await until(lambda said=said: telegram_said() == said, timeout=10)
        assert telegram_said() == said, text
