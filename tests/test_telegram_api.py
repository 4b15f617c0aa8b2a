"""The Bot API calls every message costs, as plain JSON (bot/channels/telegram_api.py) and the poller
(bot/channels/telegram_poll.py): Telegram's answers read as python-telegram-bot reads them, and a poller that keeps
going through Telegram's failures and confirms its last updates only once they are handled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from telegram.error import RetryAfter, TelegramError
from telegram.request import BaseRequest, RequestData

from bot.channels import telegram as telegram_channel
from bot.channels import telegram_poll
from bot.channels.telegram_api import BotApi
from bot.channels.telegram_http import api_result
from bot.channels.telegram_updates import TelegramUpdate, read_update
from bot.clock import FakeClock
from bot.rendering import Catalogs
from flows import phrases
from tests.test_telegram import CHAT, STRANGER, USER, Tg, running, until


class Canned(BaseRequest):
    """PTB's own reading of one canned answer (`BaseRequest.post`), to hold `api_result` against."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        return self.status, self.body


def answer(ok: bool, **fields: Any) -> bytes:
    return json.dumps({"ok": ok, **fields}).encode()


ANSWERS = [
    (200, answer(True, result={"message_id": 7})),
    (200, answer(True, result=True)),
    (400, answer(False, error_code=400, description="Bad Request: message text is empty")),
    (400, answer(False, error_code=400, description="Bad Request: group migrated",
                 parameters={"migrate_to_chat_id": -1001})),
    (403, answer(False, error_code=403, description="Forbidden: bot was blocked by the user")),
    (401, answer(False, error_code=401, description="Unauthorized")),
    (404, answer(False, error_code=404, description="Not Found")),
    (409, answer(False, error_code=409, description="Conflict: terminated by other getUpdates request")),
    (429, answer(False, error_code=429, description="Too Many Requests: retry after 7",
                 parameters={"retry_after": 7})),
    (500, answer(False, error_code=500, description="Internal Server Error")),
    (502, b"<html>Bad Gateway</html>"),
    (500, answer(False, error_code=500)),  # no description: the status's phrase
    (400, answer(False, error_code=400, description="Bad Request: odd", parameters={"shiny": 1})),
    (400, "Bad Request: ø".encode("latin-1")),  # not UTF-8
    (599, b""),  # no phrase for the status
]


@pytest.mark.parametrize(("status", "body"), ANSWERS)
async def test_an_answer_is_read_as_python_telegram_bot_reads_it(status: int, body: bytes) -> None:
    try:
        theirs: Any = await Canned(status, body).post("https://api.telegram.org/bot1:x/sendMessage")
    except TelegramError as exc:
        theirs = exc
    try:
        ours: Any = api_result(status, body)
    except TelegramError as exc:
        ours = exc
    assert type(ours) is type(theirs)
    if isinstance(theirs, TelegramError):  # the same words (PTB also quotes a body it could not parse)
        assert theirs.message.split(". Parsing the server response")[0] == ours.message
        if isinstance(theirs, RetryAfter):
            assert isinstance(ours, RetryAfter) and ours.retry_after == theirs.retry_after == timedelta(seconds=7)
    else:
        assert ours == theirs


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Deltager"}


def message(update_id: int, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "chat": chat, **fields}}


PRIVATE = {"id": 9, "type": "private"}


def test_an_update_is_read_from_its_json() -> None:
    read = read_update(message(5, PRIVATE, text="2", **{"from": user(9)}))
    assert read is not None and (read.chat_id, read.private, read.text, read.sender_id) == (9, True, "2", 9)
    press = {"update_id": 6, "callback_query": {"id": "q1", "data": "3:q7:2", "from": user(9), "chat_instance": "c",
                                                "message": {"message_id": 3, "date": 0, "chat": PRIVATE}}}
    pressed = read_update(press)
    assert pressed is not None and (pressed.query_id, pressed.data, pressed.chat_id) == ("q1", "3:q7:2", 9)
    inline = {"update_id": 7, "callback_query": {"id": "q2", "data": "x", "from": user(8), "chat_instance": "c"}}
    pressed_inline = read_update(inline)
    assert pressed_inline is not None and pressed_inline.chat_id == 8  # no message: the presser's own chat
    in_group = read_update(message(8, {"id": -5, "type": "group"}, caption="hej"))
    assert in_group is not None and (in_group.private, in_group.text) == (False, "hej")
    assert read_update({"update_id": 9, "edited_message": {}}) is not None  # not ours to take: confirmed, ignored
    no_instance = {"update_id": 9, "callback_query": {"id": "q", "from": user(9), "data": "x"}}
    for forged in ({"update_id": True}, message(9, {"id": "9", "type": "private"}), message(9, PRIVATE, text=42),
                   {"update_id": 9, "message": {"chat": PRIVATE, "text": "no id, no date"}},
                   message(9, PRIVATE, text="hej", **{"from": {"id": 9}}), no_instance, [], "x"):
        assert read_update(forged) is None


async def test_the_poller_keeps_going_through_telegram_s_failures(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock) as tg:
        tg.fake.fail_next("getUpdates", 502, "Bad Gateway")
        tg.fake.rate_limit("getUpdates", retry_after=1)
        tg.fake.fail_next("getUpdates", 401, "Unauthorized")  # a token refused for a while: not the end of polling
        tg.fake.user_sends_text(CHAT, USER, "hej")
        [explained] = await tg.fake.wait_sent(CHAT, timeout=20)
        assert Catalogs().gettext("da", phrases.TELEGRAM_UNKNOWN_USER) in explained.text  # an unknown chat: told why
        failed = [c.status for c in tg.fake.calls_of("getUpdates") if c.status != 200]
        assert failed == [502, 429, 401]


async def test_the_poller_skips_what_it_cannot_read_and_survives_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_poll, "FIRST_WAIT_S", 0.01)
    asked: list[int] = []

    class Api:
        async def get_updates(self, offset: int, timeout: float, allowed: Sequence[str]) -> list[Any]:
            asked.append(offset)
            if len(asked) == 1:
                raise ValueError("a bug in reading the answer")
            if len(asked) == 2:
                return [message(3, PRIVATE, text="hej"), "junk", message(4, PRIVATE, text=42)]
            await asyncio.sleep(3600)
            return []

    handed: list[TelegramUpdate] = []

    async def hand_on(update: TelegramUpdate) -> None:
        handed.append(update)

    poller = telegram_poll.Poller(cast(BotApi, Api()), hand_on, timedelta(seconds=1), ("message",))
    polling = asyncio.create_task(poller.run())
    await until(lambda: len(asked) == 3)
    polling.cancel()
    assert asked == [0, 0, 5] and [u.text for u in handed] == ["hej"]  # update 4 skipped, but confirmed


@asynccontextmanager
async def one_in_hand(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
                      seconds: float) -> AsyncIterator[tuple[Tg, list[tuple[int, float]]]]:
    """A linked Telegram bot with room for one polled update in hand, each taking `seconds` longer (still in hand when
    the bot is told to stop), and the list that gets (update id, when) once `process` returns."""
    monkeypatch.setattr(telegram_channel, "POLLED_IN_HAND", 1)
    async with running(tmp_path, clock) as tg:
        await tg.linked()
        process, handled = tg.channel.process, []

        async def slowly(update: TelegramUpdate) -> None:
            await asyncio.sleep(seconds)
            await process(update)
            handled.append((update.update_id, time.monotonic()))

        tg.channel.process = slowly  # type: ignore[method-assign]
        yield tg, handled


async def test_an_update_not_handed_on_before_a_stop_comes_again(tmp_path: Path, clock: FakeClock,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async with one_in_hand(tmp_path, clock, monkeypatch, 0.3) as (tg, handled):
        channel = tg.channel
        first = tg.fake.user_sends_text(CHAT, USER, "HJÆLP")["update_id"]
        second = tg.fake.user_sends_text(STRANGER, STRANGER, "hej")["update_id"]  # the same batch
        await until(lambda: channel.poller.offset > first)
        await channel.stop()
        [(done, done_at)] = handled
        confirm = tg.fake.calls_of("getUpdates")[-1]
        assert done == first and confirm.params["offset"] == first + 1 and confirm.params["timeout"] == 0
        assert confirm.at > done_at  # the last batch confirmed only once its update in hand was done
        await channel.start()  # the one not handed on comes again
        await tg.fake.wait_sent(STRANGER)
        await until(lambda: len(handled) >= 2)  # recorded once `process` returns, which may be after the reply went
        assert [update_id for update_id, _ in handled] == [first, second]


async def test_a_stop_hands_nothing_on_while_it_waits_for_the_dispatcher(tmp_path: Path, clock: FakeClock,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async with one_in_hand(tmp_path, clock, monkeypatch, 0.2) as (tg, handled):
        channel = tg.channel
        sending = channel._dispatcher
        assert sending is not None

        async def slow_to_stop() -> None:  # a dispatcher that takes until the update in hand is done to stop
            try:
                await sending
            except asyncio.CancelledError:
                await until(lambda: handled)
                await asyncio.sleep(0.05)  # and a little more: room for the next update, had the poller run on
                raise

        channel._dispatcher = asyncio.ensure_future(slow_to_stop())
        first = tg.fake.user_sends_text(CHAT, USER, "hej")["update_id"]
        second = tg.fake.user_sends_text(STRANGER, STRANGER, "hej")["update_id"]  # waits for room
        await until(lambda: channel.poller.offset > first)
        await channel.stop()
        assert [update_id for update_id, _ in handled] == [first]  # not started by the stop's own wait: comes again
        confirm = tg.fake.calls_of("getUpdates")[-1]
        assert confirm.params["offset"] == first + 1 and confirm.params["timeout"] == 0
        await channel.start()
        await until(lambda: len(handled) >= 2)
        assert [update_id for update_id, _ in handled] == [first, second]


async def test_the_coach_alert_of_an_update_in_hand_at_a_stop_goes_before_the_bot_shuts_down(
        tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The update in hand at a stop is drained; the alert its step raises is sent in the background, and the stop
    waits for it while the bot can still send (it went at the next start only, through the escalation watcher)."""
    async with one_in_hand(tmp_path, clock, monkeypatch, 0.2) as (tg, handled):
        alerted: list[tuple[int, ...]] = []

        async def slow_coach_channel(escalation_ids: tuple[int, ...]) -> None:
            await asyncio.sleep(0.2)
            alerted.append(escalation_ids)

        tg.app.loop.escalation_listeners.append(slow_coach_channel)
        first = tg.fake.user_sends_text(CHAT, USER, "jeg vil ikke leve mere")["update_id"]
        await until(lambda: tg.channel.poller.offset > first)
        await tg.channel.stop()
        assert [update_id for update_id, _ in handled] == [first]
        assert len(alerted) == 1 and alerted[0]  # told before the stop returned
