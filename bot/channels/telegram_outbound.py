"""Telegram outbound: outbox rows become messages, with inline keyboards for choice questions.

A question's buttons carry the question's identity and the answer in their callback data ("3:q7:2": run 3,
step q7, answer 2), so a press can be checked against the question the person is on now
(`current_question`). Each chat's keyboard is removed once its question is behind the person; the chats
with a keyboard are remembered in memory only, so after a restart an old keyboard may linger (a press on it
still gets the polite "already answered").

Sending: the one dispatcher (bot/dispatcher.py) hands this channel one row at a time, most urgent first, one
participant's rows strictly in order. Every request with a chat (messages, keyboard edits, coach alerts) draws on
one budget of ~30 requests/s (`PriorityRateLimiter`, bot/channels/pacing.py), most urgent first; a chat gets at
most one message per `per_chat_interval` (a chat sent to too recently waits, `NotYet`), except a crisis reply,
which is one short burst Telegram allows. 429 RetryAfter defers the row for the time Telegram asks; 403 Forbidden
("bot was blocked by the user") marks the address unreachable and gives the row up; a 400 gives it up; network
trouble is retried with back-off, as on SMS.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")  # see bot/channels/telegram.py

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.channels.base import Delivery, Failed, NotYet, Sent, as_plain_text
from bot.channels.pacing import by_priority
from bot.clock import Clock
from flows.companion import PROGRAMME_PROMPT
from flows.state import State
from storage.interface import AddressStatus, OutboxRow, Priority, Storage

log = logging.getLogger(__name__)
CHANNEL = "telegram"
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
# Questions asked outside any run (flows/engine.py) carry run_seq 0: the safety check's offer ("offer") and the
# programme's terms (the step id is the terms' version).
SAFETY_OFFER = (0, "offer")
PROGRAMME_BUTTONS = f"0:{PROGRAMME_PROMPT}"  # the programme's buttons (flows/companion.py) send a keyword

Unreachable = Callable[[int], Awaitable[None]]  # told the participant id when their chat refuses messages


def masked_chat(chat_id: int | str) -> str:
    """A chat id for logs: enough to tell chats apart in one incident, not enough to find the person."""
    return "***" + str(chat_id)[-3:]


def question_key(run_seq: int, step_id: str) -> str:
    """A question's name in callback data; a long step id is replaced by a short digest to stay in 64 bytes."""
    if len(step_id.encode()) > 24 or ":" in step_id:
        step_id = "#" + hashlib.sha256(step_id.encode()).hexdigest()[:12]
    return f"{run_seq}:{step_id}"


def current_question(state: State) -> str | None:
    """The key of the question the person is on now (buttons of any other question are stale); the engine
    takes a message as the answer to the terms first, then to the safety offer, then to the run's question."""
    if state.consent_needed is not None:
        return question_key(0, state.consent_needed)
    if state.offering_check:
        return question_key(*SAFETY_OFFER)
    if state.run is None:
        return None
    return question_key(state.run.seq, state.run.step_id)


def parse_callback(data: str) -> tuple[str, str] | None:
    """(question key, answer) from a button's callback data, or None for data we did not make."""
    seq, sep, rest = data.partition(":")
    step, sep2, answer = rest.partition(":")
    if not (sep and sep2 and seq.isdigit() and step and answer):
        return None
    return f"{seq}:{step}", answer


def _per_row(count: int, longest: int) -> int:
    if longest <= 3:  # numbers on a scale: 0-10 as two rows, 6 + 5
        rows = -(-count // 6)
        return -(-count // rows)
    if count <= 3 and longest <= 12:  # Ja | Nej side by side
        return count
    if count <= 5:  # a frequency scale: one answer a row, easy to hit with a thumb
        return 1
    return 3 if longest <= 8 else 2 if longest <= 16 else 1


def keyboard(payload: Mapping[str, Any]) -> InlineKeyboardMarkup | None:
    """One button per choice of the message's question; None for messages that ask nothing to choose."""
    prompt = payload.get("prompt")
    if not prompt or not prompt.get("choices"):
        return None
    key = question_key(int(prompt["run_seq"]), str(prompt["step_id"]))
    buttons = []
    for choice in prompt["choices"]:
        data = f"{key}:{choice['answer']}"
        if len(data.encode()) > CALLBACK_DATA_LIMIT:
            return None  # an answer too long for a button: the choices are listed in the text anyway
        buttons.append(InlineKeyboardButton(str(choice["label"]), callback_data=data))
    per_row = _per_row(len(buttons), max(len(b.text) for b in buttons))
    return InlineKeyboardMarkup([buttons[i:i + per_row] for i in range(0, len(buttons), per_row)])


class TelegramOutbound:
    def __init__(self, bot: ExtBot[Any], storage: Storage, clock: Clock, per_chat_interval: float = 1.0,
                 on_unreachable: Unreachable | None = None) -> None:
        self.bot = bot
        self.storage = storage
        self.clock = clock
        self.per_chat_interval = per_chat_interval
        self.on_unreachable = on_unreachable
        self.name = CHANNEL
        self._last_send: dict[int, float] = {}  # chat -> monotonic time of the last message
        self._keyboards: dict[int, tuple[int, str]] = {}  # chat -> (message id, question key) of its keyboard

    async def deliver(self, row: OutboxRow) -> Delivery:
        """Send one outbox row (the dispatcher decides which, and what becomes of it)."""
        now = self.clock.now()
        address = next((a for a in await self.storage.addresses(row.participant_id) if a.channel == CHANNEL), None)
        if address is None or address.status is not AddressStatus.ACTIVE or not address.address.lstrip("-").isdigit():
            return Failed("no active Telegram address", final=True)
        chat_id = int(address.address)
        wait = self._last_send.get(chat_id, float("-inf")) + self.per_chat_interval - time.monotonic()
        if wait > 0 and row.priority is not Priority.URGENT:
            return NotYet(wait)
        markup = keyboard(row.payload)
        try:
            message = await self.bot.send_message(chat_id, as_plain_text(row.payload), reply_markup=markup,
                                                  rate_limit_args=by_priority(row.priority))
        except RetryAfter as exc:
            wait_for = exc.retry_after if isinstance(exc.retry_after, timedelta) else timedelta(seconds=exc.retry_after)
            return Failed("429 retry after", wait=wait_for)
        except Forbidden as exc:
            log.warning("Telegram chat %s refuses our messages (%s): participant %s marked unreachable",
                        masked_chat(chat_id), exc.message, row.participant_id)
            await self.storage.set_address(row.participant_id, CHANNEL, address.address, AddressStatus.UNREACHABLE, now)
            if self.on_unreachable is not None:
                await self.on_unreachable(row.participant_id)
            return Failed("403 forbidden", final=True)
        except BadRequest as exc:  # a message Telegram will never take (too long, chat not found, ...)
            return Failed(f"400 {exc.message}"[:200], final=True)
        except Exception as exc:  # network trouble, Telegram's own errors: try again later
            return Failed(type(exc).__name__)
        self._last_send[chat_id] = time.monotonic()
        if markup is not None:
            previous = self._keyboards.get(chat_id)
            self._keyboards[chat_id] = (message.message_id, question_key(int(row.payload["prompt"]["run_seq"]),
                                                                         str(row.payload["prompt"]["step_id"])))
            if previous is not None:  # a question asked again, or the next one: one keyboard a chat
                await self.remove_keyboard(chat_id, previous[0])
        # Telegram's message id is unique per chat only; the outbox id makes it unique without storing the chat id
        return Sent(f"telegram:{row.id}:{message.message_id}")

    async def tidy_keyboard(self, chat_id: int, current: str | None) -> None:
        """Remove the chat's keyboard once the person is past its question (answered by typing, stopped, ...)."""
        shown = self._keyboards.get(chat_id)
        if shown is not None and shown[1] != current:
            await self.remove_keyboard(chat_id, shown[0])

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        """Take the buttons off a message. Best effort: the answer is stored whatever happens here."""
        if self._keyboards.get(chat_id, (None,))[0] == message_id:
            del self._keyboards[chat_id]
        try:
            await self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():  # already without buttons: nothing to do
                log.info("could not remove the buttons of a message in chat %s: %s", masked_chat(chat_id), exc.message)
        except TelegramError as exc:
            log.info("could not remove the buttons of a message in chat %s: %s", masked_chat(chat_id), exc.message)
