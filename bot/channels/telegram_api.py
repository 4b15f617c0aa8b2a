"""The Bot API calls every participant's message costs, made as plain JSON: sendMessage, answerCallbackQuery and
getUpdates.

Why not through python-telegram-bot's `Bot`: its `send_message` builds a request object for each parameter, an
object for each button, and parses Telegram's answer into a `Message` with its chat and sender, of which this bot
reads one number. Against the fake Bot API (benchmarks/telegram.py's server, the same aiohttp request under both)
that machinery cost about 0.35 ms of CPU per message, a fifth of everything the bot spent on an update with the limits
off, and `Update.de_json` another 80 µs per update read. These three calls are the hot path; they keep PTB's
errors (telegram_http.py `api_result`) and its pacing rules (a request with a chat draws on the bot's one budget,
most urgent first: bot/channels/pacing.py), so every caller handles them as before. Everything else (getMe, menus,
the webhook's registration, coach alerts) stays on PTB's `Bot`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.channels.pacing import PriorityPacer, paced
from bot.channels.telegram_http import AiohttpRequest
from storage.records import Priority

LONG_POLL_SLACK_S = 5.0  # a long poll's read may take this much longer than the poll itself


class BotApi:
    """The calls above on PTB's aiohttp requests (`request` for messages, `updates_request` for the long poll), at
    `base_url` (PTB's `Bot.base_url`: the API's address and the token)."""

    def __init__(self, request: AiohttpRequest, updates_request: AiohttpRequest, base_url: str,
                 pacer: PriorityPacer) -> None:
        self._request = request
        self._updates_request = updates_request
        self._base_url = base_url
        self._pacer = pacer

    async def send_message(self, chat_id: int, text: str, keyboard: Mapping[str, Any] | None = None,
                           priority: Priority = Priority.REPLY) -> int:
        """Send a text (with an inline keyboard, `InlineKeyboardMarkup` as JSON) on the budget at `priority`; its
        message id."""
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if keyboard is not None:
            payload["reply_markup"] = keyboard
        url = f"{self._base_url}/sendMessage"
        result = await paced(self._pacer, lambda: self._request.post_json(url, payload), priority)
        return int(result["message_id"])

    async def answer_callback_query(self, query_id: str, text: str | None = None) -> None:
        """Stop a button's spinner, with a short note when there is one (not counted by Telegram: no chat)."""
        payload: dict[str, Any] = {"callback_query_id": query_id}
        if text:
            payload["text"] = text
        url = f"{self._base_url}/answerCallbackQuery"
        await paced(self._pacer, lambda: self._request.post_json(url, payload), None)

    async def get_updates(self, offset: int, timeout: float, allowed: Sequence[str]) -> list[Any]:
        """The updates from `offset` on (which confirms those before it), waiting up to `timeout` seconds for one."""
        payload = {"offset": offset, "timeout": int(timeout), "allowed_updates": list(allowed)}  # whole seconds
        result = await self._updates_request.post_json(f"{self._base_url}/getUpdates", payload,
                                                       read_timeout=timeout + LONG_POLL_SLACK_S)
        return result if isinstance(result, list) else []
