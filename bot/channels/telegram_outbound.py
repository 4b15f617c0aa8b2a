"""Telegram outbound: outbox rows become messages, with inline keyboards for choice questions.

Every request counts: Telegram takes about 30 requests a second from a bot, so at full load each request spent
on something other than the next question is a participant waiting. Under that limit this channel spends one
request per answered question, and one per reply in general:

- **Old keyboards stay; a press on one changes nothing.** A question's buttons carry the question's identity and
  the answer in their callback data ("3:q7:2": run 3, step q7, answer 2), and a press is checked, under the
  participant's lock, against the question they are on now (flows/asking.py, checked by bot/conversation.py): a
  press on any other question is answered "Det spørgsmål har du allerede svaret på." and records nothing, so
  it can never be taken as the answer to the next one. Removing the previous question's buttons as well
  (editMessageReplyMarkup) cost a second request for every answer, halving what the bot could serve and making
  every next question wait for it at full load; it also could never be complete (a restart, a failed edit, a
  second device). Editing the question message in place into the next question was the other one-request
  design, and was rejected for the phone in the hand: a typed answer comes below the question, so the next
  question would appear above it, without a notification, and the chat would lose the questions behind it.
  What stays clear on a small screen: the current question is always the newest message, numbered "(2/10)",
  with its buttons at the bottom of the chat where Telegram keeps the view.
- **A reply is one message.** The rows of a person's reply that are ready together (the welcome and the terms;
  "thanks", the questionnaire's introduction and its first question) are joined into one message
  (`deliver_joined`, offered by the dispatcher: the person's next rows of the same priority). Only replies
  (`Priority.REPLY`) are joined, a question always ends a message (its buttons go under it), and a message stays
  within Telegram's 4096 characters. One request, one notification, and the whole reply at once instead of one
  part a second (the per-chat pace below). Scheduled messages (reminders, a measurement's opening) keep one
  message each; crisis replies are never joined (they go on their own, first).

Sending: the one dispatcher (bot/dispatcher.py) hands this channel one row (or one joinable run of rows) at a
time, most urgent first, one participant's rows strictly in order. Every request with a chat (messages, coach
alerts) draws on one budget of ~30 requests/s (`PriorityRateLimiter`, bot/channels/pacing.py), most urgent first;
a chat gets at most one message per `per_chat_interval` (a chat sent to too recently waits, `NotYet`), except a
crisis reply, which is one short burst Telegram allows. 429 RetryAfter defers the row for the time Telegram
asks; 403 Forbidden ("bot was blocked by the user") marks the address unreachable and gives the row up; a 400
gives it up; network trouble is retried with back-off, as on SMS.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")  # see bot/channels/telegram.py

from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.channels.base import Delivery, Failed, NotYet, Sent, as_plain_text
from bot.channels.pacing import retry_wait
from bot.channels.telegram_api import BotApi
from bot.clock import Clock
from flows.asking import PROGRAMME_BUTTONS as PROGRAMME_KEY
from flows.asking import QuestionKey, short_name
from storage.ports import Storage
from storage.records import AddressStatus, OutboxRow, Priority

log = logging.getLogger(__name__)
CHANNEL = "telegram"
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
TEXT_LIMIT = 4096  # a message's text, in UTF-16 code units (Telegram's limit)
JOINT = "\n\n"  # between the parts of a joined reply
PROGRAMME_BUTTONS = short_name(PROGRAMME_KEY)  # the programme's buttons carry a keyword: valid whatever is asked

Unreachable = Callable[[int], Awaitable[None]]  # told the participant id when their chat refuses messages


def masked_chat(chat_id: int | str) -> str:
    """A chat id for logs: enough to tell chats apart in one incident, not enough to find the person."""
    return "***" + str(chat_id)[-3:]


def question_key(run_seq: int, step_id: str) -> str:
    """A question's name in callback data: flows/asking.py's `short_name`, the name the loop compares a press with
    (the engine says what is being asked; this channel never works it out)."""
    return short_name(QuestionKey(run_seq, step_id))


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


def keyboard(payload: Mapping[str, Any]) -> dict[str, list[list[dict[str, str]]]] | None:
    """One button per choice of the message's question (the Bot API's `InlineKeyboardMarkup`, as JSON); None for
    messages that ask nothing to choose."""
    prompt = payload.get("prompt")
    if not prompt or not prompt.get("choices"):
        return None
    key = question_key(int(prompt["run_seq"]), str(prompt["step_id"]))
    buttons = []
    for choice in prompt["choices"]:
        data = f"{key}:{choice['answer']}"
        if len(data.encode()) > CALLBACK_DATA_LIMIT:
            return None  # an answer too long for a button: the choices are listed in the text anyway
        buttons.append({"text": str(choice["label"]), "callback_data": data})
    per_row = _per_row(len(buttons), max(len(b["text"]) for b in buttons))
    return {"inline_keyboard": [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]}


def _text_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _asks(payload: Mapping[str, Any]) -> bool:
    prompt = payload.get("prompt")
    return bool(prompt and prompt.get("choices"))


def joinable(rows: Sequence[OutboxRow]) -> int:
    """How many of a person's next rows (in sending order) go out as one message: a reply's parts, up to and
    including its question, within Telegram's text limit. At least the first."""
    if rows[0].priority is not Priority.REPLY:
        return 1
    count, length = 0, -len(JOINT)
    for row in rows:
        length += len(JOINT) + _text_length(as_plain_text(row.payload))
        if count and (row.priority is not Priority.REPLY or length > TEXT_LIMIT):
            break
        count += 1
        if _asks(row.payload):  # a question's buttons go under it: nothing after it in the same message
            break
    return count


class TelegramOutbound:
    def __init__(self, api: BotApi, storage: Storage, clock: Clock, per_chat_interval: float = 1.0,
                 on_unreachable: Unreachable | None = None) -> None:
        self.api = api
        self.storage = storage
        self.clock = clock
        self.per_chat_interval = per_chat_interval
        self.on_unreachable = on_unreachable
        self.name = CHANNEL
        self._last_send: dict[int, float] = {}  # chat -> monotonic time of the last message

    async def deliver(self, row: OutboxRow) -> Delivery:
        """Send one outbox row (the dispatcher decides which, and what becomes of it)."""
        return (await self.deliver_joined([row]))[0]

    async def deliver_joined(self, rows: Sequence[OutboxRow]) -> Sequence[Delivery]:
        """Send `rows[0]` with as many of the person's next rows as join it (`joinable`) in one message; one outcome
        for each row sent, or the one failure of the first."""
        rows = rows[:joinable(rows)]
        first = rows[0]
        now = self.clock.now()
        address = next((a for a in await self.storage.addresses(first.participant_id) if a.channel == CHANNEL), None)
        if address is None or address.status is not AddressStatus.ACTIVE or not address.address.lstrip("-").isdigit():
            return (Failed("no active Telegram address", final=True),)
        chat_id = int(address.address)
        wait = self._last_send.get(chat_id, float("-inf")) + self.per_chat_interval - time.monotonic()
        if wait > 0 and first.priority is not Priority.URGENT:
            return (NotYet(wait),)
        text = JOINT.join(as_plain_text(row.payload) for row in rows)
        try:
            message_id = await self.api.send_message(chat_id, text, keyboard(rows[-1].payload), first.priority)
        except RetryAfter as exc:
            return (Failed("429 retry after", wait=retry_wait(exc)),)
        except Forbidden as exc:
            log.warning("Telegram chat %s refuses our messages (%s): participant %s marked unreachable",
                        masked_chat(chat_id), exc.message, first.participant_id)
            await self.storage.set_address(first.participant_id, CHANNEL, address.address, AddressStatus.UNREACHABLE,
                                           now)
            if self.on_unreachable is not None:
                await self.on_unreachable(first.participant_id)
            return (Failed("403 forbidden", final=True),)
        except BadRequest as exc:  # a message Telegram will never take (too long, chat not found, ...)
            return (Failed(f"400 {exc.message}"[:200], final=True),)
        except Exception as exc:  # network trouble, Telegram's own errors: try again later
            return (Failed(type(exc).__name__),)
        self._last_send[chat_id] = time.monotonic()
        # Telegram's message id is unique per chat only; the outbox id makes it unique without storing the chat id
        return tuple(Sent(f"telegram:{row.id}:{message_id}") for row in rows)
