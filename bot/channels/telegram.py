"""Telegram: updates into the loop, the outbox out (see telegram_outbound.py).

The channel runs inside our event loop, next to the ASGI server, on python-telegram-bot's `Bot` for the calls made
now and then (getMe, the command menus, the webhook's registration, coach alerts) and on plain JSON for the calls
every message costs (bot/channels/telegram_api.py, telegram_updates.py: why):

- webhook mode (production, `webhook_url` and `webhook_secret` given): Telegram POSTs each update to
  `webhook()`, which checks the secret header, processes the update and only then answers 200, so an
  update is stored before Telegram forgets it; a failure answers 500 and Telegram retries.
- polling mode (development): a long-polling loop (telegram_poll.py) hands updates to the same `process()`. An
  update is confirmed by the next fetch, so a crash in between can lose one: development only.

Every update is deduplicated by its `update_id` through the inbox (a redelivery is processed once). A chat
is linked to a participant by `/start <code>` with the one-time code from enrolment; anyone else gets a
polite explanation and nothing about anyone. Button presses are checked against the question the person
is on now: a press on an old question gets "already answered" and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

# python-telegram-bot 22 still returns int time periods (RetryAfter.retry_after, ...) unless PTB_TIMEDELTA is
# set, and warns (PTBDeprecationWarning) every time one is made: under `-W error` building the RetryAfter of a 429
# would raise. Opting in to timedelta now is what PTB 23 will do anyway; PTB reads the variable when it needs it.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from starlette.requests import Request
from starlette.responses import Response
from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.channels.chat_order import ChatOrder
from bot.channels.pacing import PriorityPacer, PriorityRateLimiter, in_flight_for
from bot.channels.telegram_api import BotApi
from bot.channels.telegram_coach import TelegramCoachChannel, desk_command, is_coach_button, set_coach_menus
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_outbound import (
    CHANNEL,
    PROGRAMME_BUTTONS,
    TelegramOutbound,
    Unreachable,
    masked_chat,
    parse_callback,
)
from bot.channels.telegram_poll import Poller
from bot.channels.telegram_updates import TelegramUpdate, read_update
from bot.clock import Clock
from bot.conversation import ConversationLoop, Handled
from bot.dispatcher import Dispatcher
from bot.enroll import code_digest
from bot.heartbeats import Heartbeat
from bot.inbound import Inbound
from bot.rendering import Catalogs
from bot.safety_net import SafetyNet
from bot.web import Refused, read_body
from flows import phrases
from flows.inputs import Command, Input, Resume, Text
from storage.errors import AlreadyTaken, InvalidRecord
from storage.ports import Storage
from storage.records import AddressStatus, CommitStatus, Identity, Participant, Priority

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
__all__ = ["WEBHOOK_PATH", "TelegramChannel", "TelegramCoachChannel"]  # the coaches' channel: telegram_coach.py


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 256 * 1024  # a text message is at most 4096 characters; updates are a few KB
ALLOWED_UPDATES = ("message", "callback_query")
POLLED_IN_HAND = 256  # polled updates being handled at once (bot/channels/chat_order.py); the poller waits beyond
REQUESTS_PER_SECOND = 30.0  # Telegram's limit for a bot's messages (python-telegram-bot's AIORateLimiter default)
LINK_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what a deep link's start parameter may hold
# The command menu: Telegram command -> the keyword it stands for (flows/parsing.py), with its description.
COMMANDS = {
    "help": ("HJÆLP", phrases.TELEGRAM_COMMAND_HELP),
    "pause": ("PAUSE", phrases.TELEGRAM_COMMAND_PAUSE),
    "continue": ("FORTSÆT", phrases.TELEGRAM_COMMAND_CONTINUE),
    "stop": ("STOP", phrases.TELEGRAM_COMMAND_STOP),
    "language": ("SPROG", phrases.TELEGRAM_COMMAND_LANGUAGE),
}
MENU_LANGUAGES = ("da", "en")  # the menu without a language code (other clients) is the first: Danish
COACH_REPLY_CHARS = 4000
# a chat id -> its coach's desk (text -> the desk's reply), or None for a chat that is no coach's
CoachDeskHook = Callable[[int], Callable[[str], Awaitable[str | None]] | None]


def split_command(text: str) -> tuple[str | None, str]:
    """("start", "CODE") for "/start CODE" or "/start@our_bot CODE"; (None, text) for anything else."""
    if not text.startswith("/"):
        return None, text
    head, _, rest = text.strip().partition(" ")
    return head[1:].split("@", 1)[0].lower(), rest.strip()


class TelegramChannel:
    name = CHANNEL

    def __init__(self, storage: Storage, loop: ConversationLoop, catalogs: Catalogs, clock: Clock, token: str, *,
                 base_url: str | None = None, webhook_url: str | None = None, webhook_secret: str | None = None,
                 per_chat_interval: float = 1.0, poll_timeout: timedelta = timedelta(seconds=10),
                 on_unreachable: Unreachable | None = None, coach_desk: CoachDeskHook | None = None,
                 safety: SafetyNet | None = None, requests_per_second: float = REQUESTS_PER_SECOND) -> None:
        if webhook_url and not webhook_secret:
            raise ValueError("a Telegram webhook needs a secret token (TELEGRAM_WEBHOOK_SECRET)")
        self.storage = storage
        self.safety = safety or SafetyNet(storage, loop, loop.deployment, clock, None)  # see bot/safety_net.py
        self.loop = loop
        self.catalogs = catalogs
        self.clock = clock
        self.coach_desk = coach_desk
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or ""
        self.pacer = PriorityPacer(requests_per_second)  # the bot's one budget, most urgent first
        request, updates_request = AiohttpRequest(), AiohttpRequest(connections=1)
        self.bot: ExtBot[str] = ExtBot(token, base_url=base_url or "https://api.telegram.org/bot", request=request,
                                       get_updates_request=updates_request,
                                       rate_limiter=PriorityRateLimiter(self.pacer))
        self.api = BotApi(request, updates_request, self.bot.base_url, self.pacer)  # a message's calls: plain JSON
        self.heartbeat = Heartbeat(storage, clock, CHANNEL)  # the last update seen (the channel health page)
        self.outbound = TelegramOutbound(self.api, storage, clock, per_chat_interval, on_unreachable)
        self.dispatcher = Dispatcher(storage, clock, self.outbound, loop.deployment.delivery,
                                     concurrency=in_flight_for(requests_per_second, POLLED_IN_HAND))
        loop.outbox_listeners.append(self.dispatcher.wake_for)
        self._dispatcher: asyncio.Task[None] | None = None
        self._polled = ChatOrder(POLLED_IN_HAND)  # each chat's updates in order, different chats' at once
        self.poller = Poller(self.api, self._on_polled, poll_timeout, ALLOWED_UPDATES)
        self._polling: asyncio.Task[None] | None = None

    @property
    def wakeup(self) -> asyncio.Event:
        """Set it when something may have become ready to send (the dispatcher's)."""
        return self.dispatcher.wakeup

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), publish the command menus, register the webhook or start polling, start sending."""
        await self.bot.initialize()
        await self._set_commands()
        if self.webhook_url:
            await self.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                       allowed_updates=ALLOWED_UPDATES)
        else:  # getUpdates is refused while a webhook is set
            await self.bot.delete_webhook()
            self._polling = asyncio.create_task(self.poller.run())
        self._dispatcher = asyncio.create_task(self.run())
        log.info("Telegram channel started (%s mode) as @%s", self.mode, self.bot.username)

    async def stop(self) -> None:
        """Stop sending and receiving. The webhook stays registered: Telegram keeps updates until we are back.

        Each stage gets STOP_SECONDS: a shutdown that hangs (seen rarely, in the library's stop while an update was
        in hand) would hold a deploy or a restart; what was not done is committed already or comes again.

        Receiving stops first: while the later stages run, no update is handed on (one waiting for room would
        otherwise start as the one in hand finishes). The coach alerts of the updates drained are waited for (else
        they went only at the next start, by the escalation watcher). Then sending: the sends in flight end and are
        recorded before the dispatcher stops (`Dispatcher.finish`); what has not started goes at the next start."""
        if self._polling is not None:
            self._polling.cancel()
            await _bounded(self._polling, "the poller")
            self._polling = None
            if await _bounded(asyncio.ensure_future(self._polled.drain()), "the polled updates in hand"):
                await _bounded(asyncio.ensure_future(self.poller.confirm()), "confirming the last updates")
        self._polled.cancel()
        # the coach alerts those updates raised go in the background; while the bot can still send them
        await _bounded(asyncio.ensure_future(self.loop.settle()), "the coach alerts of the last updates")
        if self._dispatcher is not None:
            await self.dispatcher.finish(STOP_SECONDS)
            self._dispatcher.cancel()
            await _bounded(self._dispatcher, "the dispatcher")
            self._dispatcher = None
        await _bounded(asyncio.ensure_future(self.bot.shutdown()), "the shutdown")

    async def _set_commands(self) -> None:
        try:
            for lang in (None, *MENU_LANGUAGES):
                text = lang or MENU_LANGUAGES[0]
                menu = [BotCommand(name, self.catalogs.gettext(text, about)) for name, (_, about) in COMMANDS.items()]
                await self.bot.set_my_commands(menu, language_code=lang)
            if self.coach_desk is not None:  # coaches' chats are desks: their own menu
                await set_coach_menus(self.bot, self.loop.deployment.coaches.values(), self.catalogs)
        except TelegramError as exc:  # a missing menu is no reason not to run
            log.warning("could not set the Telegram command menus: %s", exc.message)

    async def run(self, poll: timedelta = timedelta(seconds=1)) -> None:
        """The dispatcher task of this channel."""
        await self.dispatcher.run(poll)

    async def deliver_pending(self) -> int:
        """Send what may go now and wait for it (tests); `run` does this all the time."""
        return await self.dispatcher.deliver_pending()

    # -- receiving -----------------------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        """POST /telegram/webhook: refuse without the right secret (403), oversized (413) or unreadable (400);
        answer 200 only after the update is stored."""
        secret = request.headers.get(SECRET_HEADER, "").encode()
        if not self.webhook_secret or not hmac.compare_digest(secret, self.webhook_secret.encode()):
            log.warning("Telegram webhook refused: wrong or missing secret token")
            return Response(status_code=403)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            log.warning("Telegram webhook refused: not JSON")
            return Response(status_code=415)
        try:
            body = await read_body(request, MAX_UPDATE_BYTES)
        except Refused as refused:
            log.warning("Telegram webhook refused: %s", refused.reason)
            return Response(status_code=refused.status)
        update = _read_json_update(body)
        if update is None:
            log.warning("Telegram webhook refused: not a readable update")
            return Response(status_code=400)
        try:
            await self.process(update)
        except Exception:  # not stored: Telegram delivers it again
            log.exception("Telegram update %s could not be processed; answering 500 so it is retried",
                          update.update_id)
            return Response(status_code=500)
        return Response(status_code=200)

    async def _on_polled(self, update: TelegramUpdate) -> None:
        """The poller hands updates over one at a time: each goes behind its chat's earlier ones and this returns, so
        the next people's updates are handled meanwhile (their steps share a commit)."""
        await self._polled.submit(update.order_key, lambda: self.process(update))

    async def process(self, update: TelegramUpdate) -> None:
        """Handle one update (from the webhook or the poller); a redelivered update_id changes nothing."""
        await self._process(update)
        await self.heartbeat.beat()  # the webhook or the poller works (one that failed comes again)

    async def _process(self, update: TelegramUpdate) -> None:
        update_id = str(update.update_id)
        if update.query_id is not None:
            await self._on_button(update, update_id)
        elif update.private and update.chat_id is not None:
            chat_id, text = update.chat_id, update.text
            reply = await self.safety.guarded(CHANNEL, str(chat_id), update_id, text,
                                              lambda: self._on_message(chat_id, text, update_id))
            if reply is not None:  # not stored: the crisis contacts straight back, past the outbox
                await self.api.send_message(chat_id, reply, priority=Priority.URGENT)

    async def _on_message(self, chat_id: int, text: str, update_id: str) -> None:
        """A message in a private chat. Returns nothing: its replies go through the outbox."""
        desk = self.coach_desk(chat_id) if self.coach_desk is not None else None
        if desk is not None:
            await self._at_coach_desk(chat_id, text, update_id, desk)
            return
        command, argument = split_command(text)
        if command == "start":
            await self._start(chat_id, argument, update_id)
            return
        identity = await self.loop.identify(CHANNEL, str(chat_id))
        if identity is None and self.safety.level(text) is not None:  # crisis contacts and a duty coach
            await self.safety.from_stranger(CHANNEL, str(chat_id), update_id, text)
            return
        if identity is None:
            log.info("Telegram message from an unknown chat %s; explained, nothing else", masked_chat(chat_id))
            await self._explain(chat_id, phrases.TELEGRAM_UNKNOWN_USER, update_id)
            return
        keyword = COMMANDS[command][0] if command in COMMANDS else None
        said = Text(f"{keyword} {argument}".strip() if keyword else text)
        await self._receive(chat_id, self._inbound(chat_id, said, update_id), identity)

    async def _start(self, chat_id: int, code: str, update_id: str) -> None:
        """/start: a linked chat carries on where it was; otherwise the code links it, once."""
        notice = None
        identity = await self.loop.identify(CHANNEL, str(chat_id))
        if identity is None:
            participant = await self._redeem(chat_id, code)
            if participant is None:
                log.info("Telegram /start from chat %s without a valid code", masked_chat(chat_id))
                await self._explain(chat_id, phrases.TELEGRAM_CODE_INVALID if code else phrases.TELEGRAM_UNKNOWN_USER,
                                    update_id)
                return
            log.info("participant %s linked to Telegram chat %s", participant.ref, masked_chat(chat_id))
            notice = phrases.TELEGRAM_WELCOME
            identity = Identity(participant, AddressStatus.ACTIVE)
        await self._receive(chat_id, self._inbound(chat_id, Resume(), update_id, notice=notice), identity)

    async def _redeem(self, chat_id: int, code: str) -> Participant | None:
        if not LINK_CODE.fullmatch(code):
            return None
        try:
            return await self.storage.redeem_link_code(code_digest(code), CHANNEL, str(chat_id), self.clock.now())
        except (AlreadyTaken, InvalidRecord):  # the chat was linked to someone else meanwhile
            return None

    async def _on_button(self, query: TelegramUpdate, update_id: str) -> None:
        chat_id = query.chat_id
        if chat_id is None or query.sender_id != chat_id:  # only the person in their own private chat answers
            await self._answer(query)
            return
        if is_coach_button(query.data):  # an alert's OK or Vis: the typed command, only in a coach's chat
            await self._coach_pressed(query, chat_id, update_id)
            return
        identity = await self.loop.identify(CHANNEL, str(chat_id))
        if identity is None:
            await self._answer(query)
            await self._explain(chat_id, phrases.TELEGRAM_UNKNOWN_USER, update_id)
            return
        pressed = parse_callback(query.data)
        if pressed is None:  # data we did not make: like a press on an old question
            handled: Handled | None = None
        elif pressed[0] == PROGRAMME_BUTTONS:  # FÆRDIG 3, TRE: a keyword, valid whatever is being asked
            handled = await self._receive(chat_id, self._inbound(chat_id, Command(pressed[1]), update_id), identity)
        else:  # an answer: taken only while its question is the one asked (checked under the loop's lock)
            inbound = replace(self._inbound(chat_id, Text(pressed[1]), update_id), answers_question=pressed[0])
            handled = await self._receive(chat_id, inbound, identity)
        if handled is None or handled.stale:
            lang = (await self.loop.state_of(identity.participant)).lang
            await self._answer(query, self.catalogs.gettext(lang, phrases.TELEGRAM_OLD_QUESTION))
        else:
            await self._answer(query)

    @staticmethod
    def _inbound(chat_id: int, said: Input, update_id: str, notice: str | None = None) -> Inbound:
        """Anything a linked chat sends: a chat marked unreachable (they had blocked the bot) is reachable again,
        committed with the step."""
        return Inbound(CHANNEL, str(chat_id), (said,), update_id, notice=notice, address_status=AddressStatus.ACTIVE)

    async def _receive(self, chat_id: int, inbound: Inbound, identity: Identity) -> Handled:
        handled = await self.loop.receive(inbound, identity)
        if identity.status is not AddressStatus.ACTIVE and handled.status is CommitStatus.COMMITTED:
            log.info("Telegram chat %s of participant %s is reachable again", masked_chat(chat_id),
                     identity.participant.ref)
        return handled

    async def _answer(self, query: TelegramUpdate, text: str | None = None) -> None:
        """Stop the button's spinner (always), with a short note when there is one. Best effort."""
        try:
            await self.api.answer_callback_query(query.query_id or "", text)
        except TelegramError as exc:  # e.g. a redelivered press whose query was answered already
            log.info("could not answer a Telegram button press: %s", exc.message)

    async def _coach_pressed(self, query: TelegramUpdate, chat_id: int, update_id: str) -> None:
        desk = self.coach_desk(chat_id) if self.coach_desk is not None else None
        command = desk_command(query.data)
        if desk is not None and command is not None:
            await self._at_coach_desk(chat_id, command, update_id, desk)
        else:
            log.warning("a coach's alert button was pressed in chat %s, which is no coach's desk; ignored",
                        masked_chat(chat_id))
        await self._answer(query)

    async def _at_coach_desk(self, chat_id: int, text: str, update_id: str,
                             desk: Callable[[str], Awaitable[str | None]]) -> None:
        """A coach's configured chat is their desk: commands answered at once (not participant data, so not
        through the outbox), in parts under Telegram's 4096-character limit. A redelivered update is acted on once
        (a NOTE is stored once); one that fails is forgotten, so Telegram's redelivery is acted on."""
        if not await self.storage.first_sighting(CHANNEL, update_id, self.clock.now()):
            log.info("a redelivered update in coach chat %s: already handled", masked_chat(chat_id))
            return
        try:
            command, argument = split_command(text)  # "/vis 12" or "/vis@our_bot 12" from the menu: "vis 12"
            reply = await desk(f"{command} {argument}".strip() if command else text) or ""
        except Exception:
            await self.storage.forget_sighting(CHANNEL, update_id)
            raise
        for start in range(0, len(reply), COACH_REPLY_CHARS):
            try:
                await self.api.send_message(chat_id, reply[start:start + COACH_REPLY_CHARS])
            except TelegramError as exc:
                log.warning("could not answer coach chat %s: %s", masked_chat(chat_id), exc.message)
                return

    async def _explain(self, chat_id: int, phrase: str, update_id: str) -> None:
        """Tell a chat we cannot link why, in Danish and English, once per update (a redelivery is not explained
        again); only the update's id is kept, and nothing about anyone is said."""
        if not await self.storage.first_sighting(CHANNEL, update_id, self.clock.now()):
            return
        text = "\n\n".join(self.catalogs.gettext(lang, phrase) for lang in self.catalogs.languages)
        try:
            await self.api.send_message(chat_id, text)
        except TelegramError as exc:
            log.info("could not answer unknown Telegram chat %s: %s", masked_chat(chat_id), exc.message)


STOP_SECONDS = 10.0


def _read_json_update(body: bytes) -> TelegramUpdate | None:
    """The update in a webhook's body, or None for anything we cannot read: not JSON, nested too deep, or a field
    we use of the wrong type (`"text": 42`). A 400 tells Telegram not to send it again; a 500 would."""
    try:
        return read_update(json.loads(body))
    except (ValueError, RecursionError):
        return None


async def _bounded(task: asyncio.Future[Any], what: str) -> bool:
    """Wait for one stage of `stop` at most STOP_SECONDS, then go on without it (logged). Whether it finished."""
    done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
    if not done:
        log.warning("stopping Telegram: %s did not finish within %.0f s; going on without it", what, STOP_SECONDS)
        return False
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
    return True
