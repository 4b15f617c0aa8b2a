"""The fake Bot API speaks well enough for the real python-telegram-bot: every test drives PTB itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

from tests.fakes.telegram import FakeTelegram, serve

CHAT = USER = 4242


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns about int time periods when RetryAfter is built, unless the timedelta behaviour is opted in."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(long_poll_cap=2.0) as running:
        yield running


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as opened:
        yield opened


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(text, callback_data=f"q1:{i}") for i, text in enumerate(labels)]
    return InlineKeyboardMarkup([row])


async def test_get_me_returns_the_bot_user(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (7000001, "stress_test_bot", True)
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]  # Bot.initialize() asks too


async def test_send_edit_and_inspect_keyboards(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Hvor ofte?", reply_markup=keyboard("Aldrig", "Ofte"))
    assert sent.chat.id == CHAT and sent.text == "Hvor ofte?"
    assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][1].callback_data == "q1:1"
    [msg] = fake.sent_to(CHAT)
    assert msg.buttons == [[("Aldrig", "q1:0"), ("Ofte", "q1:1")]] and msg.data_for("Ofte") == "q1:1"

    edited = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
    assert not isinstance(edited, bool) and edited.reply_markup is None
    assert fake.sent_to(CHAT)[0].buttons == [] and fake.sent_to(CHAT)[0].edits == 1
    await bot.edit_message_text("Hvor ofte? ✓ Ofte", chat_id=CHAT, message_id=sent.message_id)
    assert [m.text for m in fake.sent_to(CHAT)] == ["Hvor ofte? ✓ Ofte"]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Hvor ofte? ✓ Ofte", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="æ" * 33)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(CHAT, "Hej", reply_markup=too_long)


async def test_get_updates_returns_text_and_button_press_and_honours_offset(fake: FakeTelegram, bot: Bot) -> None:
    question = await bot.send_message(CHAT, "Hvor ofte?", reply_markup=keyboard("Aldrig", "Ofte"))
    fake.user_sends_command(CHAT, USER, "/start ABC123")
    press = fake.user_presses_button(CHAT, USER, question.message_id, "q1:0")

    start, pressed = await bot.get_updates(timeout=5)
    assert start.message is not None and start.message.text == "/start ABC123"
    assert start.message.from_user is not None and start.message.from_user.id == USER
    assert filters.COMMAND.check_update(start)
    query = pressed.callback_query
    assert query is not None and query.data == "q1:0" and pressed.update_id == press["update_id"] > start.update_id
    assert query.message is not None and query.message.message_id == question.message_id

    assert await query.answer("Tak") is True
    assert fake.callback_answers == [{"callback_query_id": query.id, "text": "Tak"}]
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()
    assert await bot.get_updates(offset=pressed.update_id + 1, timeout=0) == ()
    with pytest.raises(ValueError, match="shows no button"):
        fake.user_presses_button(CHAT, USER, question.message_id, "q9:9")


async def test_long_poll_waits_for_a_new_update_and_redelivery_keeps_update_id(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    update = fake.user_sends_text(CHAT, USER, "Hej")
    [got] = await asyncio.wait_for(poll, 1)
    assert got.update_id == update["update_id"]

    assert await bot.get_updates(offset=got.update_id + 1, timeout=0) == ()
    fake.redeliver(update)
    [again] = await bot.get_updates(offset=got.update_id + 1, timeout=0)
    assert again.update_id == got.update_id
    started = asyncio.get_running_loop().time()
    assert await bot.get_updates(offset=got.update_id + 1, timeout=1) == ()
    assert 0.9 < asyncio.get_running_loop().time() - started < 2


async def test_commands_per_language_and_scope(fake: FakeTelegram, bot: Bot) -> None:
    danish = [BotCommand("hjaelp", "Hjælp"), BotCommand("pause", "Hold pause")]
    assert await bot.set_my_commands(danish, language_code="da")
    assert await bot.set_my_commands([BotCommand("help", "Help")])
    assert fake.command_names("da") == ["hjaelp", "pause"] and fake.command_names() == ["help"]
    assert [c.command for c in await bot.get_my_commands(language_code="da")] == ["hjaelp", "pause"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("hjælp", "Hjælp")])  # Telegram allows only a-z, 0-9 and _


async def test_webhook_set_info_delete_and_delivery(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def receive(request: Request) -> Response:
        received.append((request.headers.get("x-telegram-bot-api-secret-token"), await request.json()))
        return Response(status_code=200)

    async with serve(Starlette(routes=[Route("/tg", receive, methods=["POST"])])) as receiver:
        assert await bot.set_webhook(f"{receiver}/tg", secret_token="s3cret", certificate=b"PEM")  # multipart
        assert fake.webhook["secret_token"] == "s3cret" and fake.webhook["certificate"]["content"] == b"PEM"
        update = fake.user_sends_text(CHAT, USER, "Hej")
        info = await bot.get_webhook_info()
        assert (info.url, info.has_custom_certificate, info.pending_update_count) == (f"{receiver}/tg", True, 1)
        with pytest.raises(Conflict):
            await bot.get_updates()

        assert (await fake.post_to_webhook(update)).status_code == 200
        assert (await fake.post_to_webhook(update, secret_token="wrong")).status_code == 200
        assert received == [("s3cret", update), ("wrong", update)]
        assert (await bot.get_webhook_info()).pending_update_count == 0

    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == "" and fake.webhook == {"url": ""}


async def test_429_raises_retry_after_with_the_servers_delay(fake: FakeTelegram, bot: Bot) -> None:
    fake.rate_limit("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "Hej")
    assert caught.value.retry_after == dt.timedelta(seconds=7)
    await bot.send_message(CHAT, "Hej")  # only the next call was limited
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 200]
    assert [m.text for m in fake.sent_to(CHAT)] == ["Hej"]


async def test_403_for_a_blocked_chat_raises_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.block(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "Hej")
    await bot.send_message(CHAT + 1, "Hej")  # other chats are unaffected
    fake.unblock(CHAT)
    await bot.send_message(CHAT, "Hej igen")
    assert [m.text for m in fake.sent_to(CHAT)] == ["Hej igen"]


async def test_wrong_token_and_json_bodies(fake: FakeTelegram) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as client:
        assert (await client.post("/bot1:wrong/getMe")).status_code == 401
        sent = await client.post(f"/bot{fake.token}/sendMessage", json={"chat_id": CHAT, "text": "123"})
    assert sent.json()["result"]["text"] == "123" and fake.sent_to(CHAT)[0].text == "123"


async def test_application_polls_and_answers_through_a_message_handler(fake: FakeTelegram) -> None:
    """The way the bot will run: Application with AIORateLimiter, polling, inside our own event loop."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"Du skrev: {update.message.text}")

    application = (
        Application.builder().token(fake.token).base_url(fake.base_url)
        .rate_limiter(AIORateLimiter(max_retries=1)).build()
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    fake.rate_limit("sendMessage", retry_after=1)  # the rate limiter waits it out and retries
    async with application:
        assert application.updater is not None
        await application.start()
        await application.updater.start_polling(timeout=dt.timedelta(seconds=5))
        fake.user_sends_text(CHAT, USER, "Hej bot")
        await fake.wait_sent(CHAT)
        await application.updater.stop()
        await application.stop()

    assert [m.text for m in fake.sent_to(CHAT)] == ["Du skrev: Hej bot"]
    first, second = fake.calls_of("sendMessage")
    assert (first.status, second.status) == (429, 200) and second.at - first.at >= 1.0
    assert fake.calls_of("deleteWebhook") and fake.calls_of("getUpdates")[-1].params["offset"] > 0
