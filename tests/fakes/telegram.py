"""A small fake of the Telegram Bot API server on 127.0.0.1, for end-to-end tests with the real python-telegram-bot.

Nothing on this machine can reach api.telegram.org, so PTB is pointed at this fake through its documented seam,
``Bot(token, base_url=fake.base_url)`` / ``Application.builder().token(fake.token).base_url(fake.base_url)``. All
request building, (de)serialisation, long polling, rate limiting and error mapping (RetryAfter, Forbidden,
BadRequest) then run the real library code. The fake answers like the real server where tests depend on it (shapes,
``ok``/``error_code``/``description``/``parameters``, offsets, 409 while a webhook is set, "message is not
modified", callback data over 64 bytes) and keeps the state a test wants to assert on.

Usage::

    async with FakeTelegram() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot: ...
        update = fake.user_sends_command(chat_id, user_id, "/start CODE")   # queued for getUpdates
        msg = fake.sent_to(chat_id)[-1]                                     # text + keyboard, edits applied
        fake.user_presses_button(chat_id, user_id, msg.message_id, msg.data_for("Aldrig"))
        fake.rate_limit("sendMessage", retry_after=3)   # next call -> 429 -> telegram.error.RetryAfter
        fake.block(chat_id)                              # -> 403 -> telegram.error.Forbidden
        fake.fail_next("sendMessage", 502, "Bad Gateway", times=10**6); fake.clear_faults()   # an outage
        await fake.post_to_webhook(update)               # webhook mode: POST like Telegram, with the secret header

PTB (22.x) sends parameters form-encoded with every non-string value JSON-encoded, or multipart when uploading a
file; JSON bodies are accepted too. Note: under ``-W error`` set ``PTB_TIMEDELTA=1``, or constructing
``RetryAfter`` itself raises PTB's deprecation warning about int time periods.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import itertools
import json
import re
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

JSON = dict[str, Any]
# Parameters that are plain strings; everything else PTB sends JSON-encoded ("123", "true", '{"inline_keyboard":..}').
_TEXT_PARAMS = frozenset({"text", "caption", "url", "secret_token", "language_code", "callback_query_id", "parse_mode"})
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class _Server(uvicorn.Server):
    """uvicorn.Server that leaves SIGINT/SIGTERM to pytest instead of capturing them while the fake runs."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port in the current loop (no threads); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", timeout_graceful_shutdown=2)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise the startup error
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status = ``error_code``, plus ``description`` and ``parameters``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def response(self) -> JSONResponse:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return JSONResponse(body, status_code=self.status)


@dataclass
class Call:
    """One request as received: ``at`` is ``time.monotonic()`` on arrival, so tests can measure send pacing."""

    method: str
    params: JSON
    at: float
    status: int = 200


@dataclass
class BotMessage:
    """A message the bot sent, as the participant sees it now (edits applied)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: JSON | None = None  # only inline keyboards are part of a Message, as in the real API
    date: int = field(default_factory=lambda: int(time.time()))
    edits: int = 0
    edit_date: int | None = None

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """Inline keyboard rows as (label, callback_data); URL buttons have callback_data ""."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data", "")) for b in row] for row in rows]

    def data_for(self, label: str) -> str:
        """The callback_data of the button labelled ``label`` (KeyError if no such button is shown)."""
        for row in self.buttons:
            for text, data in row:
                if text == label:
                    return data
        raise KeyError(f"no button {label!r} on message {self.message_id}: {self.buttons}")

    def to_api(self, bot_user: JSON) -> JSON:
        chat: JSON = {"id": self.chat_id, "type": "private" if self.chat_id > 0 else "group"}
        msg: JSON = {"message_id": self.message_id, "date": self.date, "chat": chat, "from": bot_user,
                     "text": self.text}
        if self.edit_date:
            msg["edit_date"] = self.edit_date
        if self.reply_markup:
            msg["reply_markup"] = self.reply_markup
        return msg


class FakeTelegram:
    """The Bot API for one bot, with helpers to act as Telegram users and to inspect what the bot did.

    Everything runs in the test's event loop, so tests may read and change state directly between awaits.
    """

    def __init__(self, token: str = "7000001:fake-telegram-token", username: str = "stress_test_bot", *,
                 long_poll_cap: float = 5.0) -> None:
        self.token, self.url = token, ""
        self.long_poll_cap = long_poll_cap  # tests never wait the full getUpdates timeout; new updates wake it
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 7000001
        self.bot_user: JSON = {"id": bot_id, "is_bot": True, "first_name": "Stress Test", "username": username,
                               "can_join_groups": False, "can_read_all_group_messages": False,
                               "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.updates: list[JSON] = []  # every update a user produced, in order
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (language_code or "", scope) -> commands
        self.webhook: JSON = {"url": ""}
        self.callback_answers: list[JSON] = []
        self.blocked: set[int] = set()
        self.errors: list[BaseException] = []  # bugs in the fake itself; re-raised when the fake stops
        self.listeners: list[Callable[[BotMessage], None]] = []  # told of every message the bot sends (benchmarks)
        self._messages: dict[int, list[BotMessage]] = defaultdict(list)
        self._last_id: dict[int, int] = defaultdict(int)  # message ids are per chat in private chats
        self._pending: list[JSON] = []  # unconfirmed updates, for getUpdates
        self._redeliver: list[JSON] = []
        self._update_ids, self._query_ids = itertools.count(100_001), itertools.count(1)
        self._queries: dict[str, bool] = {}  # callback query id -> answered
        self._faults: dict[str, list[ApiError]] = defaultdict(list)
        self._wakeup, self._closing = asyncio.Event(), False
        self._stack = contextlib.AsyncExitStack()
        self._api: dict[str, Callable[[JSON], Awaitable[Any]]] = {
            "getme": self._get_me, "getupdates": self._get_updates, "sendmessage": self._send_message,
            "editmessagetext": self._edit_text, "editmessagereplymarkup": self._edit_markup,
            "deletemessage": self._delete_message, "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_commands, "getmycommands": self._get_commands,
            "deletemycommands": self._delete_commands, "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook, "getwebhookinfo": self._webhook_info,
        }

    @property
    def base_url(self) -> str:
        """What to pass as PTB's ``base_url`` (PTB appends the token)."""
        return f"{self.url}/bot"

    async def __aenter__(self) -> FakeTelegram:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        self.url = await self._stack.enter_async_context(serve(app))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._closing = True  # release long polls so uvicorn can shut down at once
        self._notify()
        await self._stack.aclose()
        if self.errors and exc is None:
            raise self.errors[0]

    # --- acting as Telegram users -------------------------------------------------------------------------------

    def user_sends_text(self, chat_id: int, user_id: int, text: str, *, first_name: str = "Deltager",
                        language_code: str = "da") -> JSON:
        """Queue a private-chat message update; a leading /command gets its bot_command entity like a client."""
        self._last_id[chat_id] += 1
        message: JSON = {"message_id": self._last_id[chat_id], "date": int(time.time()), "text": text,
                         "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                         "from": self._user(user_id, first_name, language_code)}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._queue({"message": message})

    def user_sends_command(self, chat_id: int, user_id: int, command: str, **user: str) -> JSON:
        """``/start CODE`` etc.: a text message starting with a bot_command entity."""
        if not command.startswith("/"):
            raise ValueError(f"commands start with '/': {command!r}")
        return self.user_sends_text(chat_id, user_id, command, **user)

    def user_presses_button(self, chat_id: int, user_id: int, message_id: int, callback_data: str, *,
                            stale_client: bool = False, first_name: str = "Deltager", language_code: str = "da",
                            ) -> JSON:
        """Queue a callback_query for a button on a bot message.

        A user can only press buttons that are shown, so by default the button must be on the message now;
        ``stale_client=True`` models a phone that still shows an older keyboard (the edit has not reached it).
        """
        msg = self._find(chat_id, message_id, "press a button on")
        if not stale_client and callback_data not in {data for row in msg.buttons for _, data in row}:
            raise ValueError(f"message {message_id} shows no button with data {callback_data!r}: {msg.buttons}")
        query_id = str(next(self._query_ids))
        self._queries[query_id] = False
        return self._queue({"callback_query": {
            "id": query_id, "from": self._user(user_id, first_name, language_code), "chat_instance": f"ci{chat_id}",
            "data": callback_data, "message": msg.to_api(self.bot_user)}})

    def redeliver(self, update: JSON) -> JSON:
        """Deliver the same update (same update_id) once more on the next getUpdates, even if already confirmed."""
        self._redeliver.append(update)
        self._notify()
        return update

    async def post_to_webhook(self, update: JSON, *, secret_token: str | None = None) -> httpx.Response:
        """POST ``update`` to the URL given to setWebhook, as Telegram does.

        The ``X-Telegram-Bot-Api-Secret-Token`` header carries the secret from setWebhook unless ``secret_token``
        overrides it ("" sends no header). A 2xx answer confirms the update (it leaves the pending queue).
        """
        if not self.webhook["url"]:
            raise RuntimeError("no webhook is set")
        secret = self.webhook.get("secret_token") if secret_token is None else secret_token
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with httpx.AsyncClient() as client:
            response = await client.post(self.webhook["url"], json=update, headers=headers, timeout=10)
        if response.is_success and update in self._pending:
            self._pending.remove(update)
        return response

    # --- fault injection ----------------------------------------------------------------------------------------

    def fail_next(self, method: str, status: int, description: str, *, parameters: JSON | None = None,
                  times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with this error instead of running."""
        self._faults[method.lower()].extend(ApiError(status, description, parameters) for _ in range(times))

    def rate_limit(self, method: str, retry_after: int, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get Telegram's 429 flood-control answer (PTB raises RetryAfter)."""
        self.fail_next(method, 429, f"Too Many Requests: retry after {retry_after}",
                       parameters={"retry_after": retry_after}, times=times)

    def clear_faults(self) -> None:
        """Drop every injected fault that has not fired yet (an outage ends)."""
        self._faults.clear()

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every call for this chat gets 403 (PTB raises Forbidden) until unblocked."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    # --- inspection ---------------------------------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in this chat, oldest first, as they look now."""
        return list(self._messages.get(chat_id, []))

    async def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 30.0) -> list[BotMessage]:
        """Wait until the bot has sent ``count`` messages to the chat (it answers updates asynchronously)."""
        deadline = time.monotonic() + timeout
        while len(self._messages.get(chat_id, [])) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} messages to chat {chat_id}, got {self.sent_to(chat_id)}")
            await asyncio.sleep(0.005)
        return self.sent_to(chat_id)

    def calls_of(self, method: str) -> list[Call]:
        """Calls of one method (case-insensitive, like the real API), e.g. to measure sendMessage pacing."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def command_names(self, language_code: str = "", scope: str = "default") -> list[str]:
        return [c["command"] for c in self.commands.get((language_code, scope), [])]

    # --- the HTTP side ------------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        call = Call(request.path_params["method"], await _read_params(request), time.monotonic())
        self.calls.append(call)
        try:
            if request.path_params["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._api.get(call.method.lower())
            if handler is None:
                raise ApiError(404, f"Not Found: method {call.method} is not implemented by the fake")
            if self._faults[call.method.lower()]:
                raise self._faults[call.method.lower()].pop(0)
            if call.params.get("chat_id") in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            result = await handler(call.params)
        except ApiError as error:
            call.status = error.status
            return error.response()
        except Exception as exc:
            self.errors.append(exc)
            call.status = 500
            return ApiError(500, f"Internal Server Error: fake failed: {exc!r}").response()
        return JSONResponse({"ok": True, "result": result})

    async def _get_me(self, p: JSON) -> JSON:
        return self.bot_user

    async def _get_updates(self, p: JSON) -> list[JSON]:
        """Long polling: drop confirmed updates (id < offset), answer at once if any wait, else wait for one."""
        if self.webhook["url"]:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset, limit = int(p.get("offset", 0)), int(p.get("limit", 100))
        deadline = time.monotonic() + min(float(p.get("timeout", 0)), self.long_poll_cap)
        while True:
            if offset < 0:
                self._pending = self._pending[offset:]
            elif offset:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            ready = (self._redeliver + self._pending)[:limit]
            remaining = deadline - time.monotonic()
            if ready or self._closing or remaining <= 0:
                self._redeliver.clear()
                return ready
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    async def _send_message(self, p: JSON) -> JSON:
        text = str(p.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        chat_id = p["chat_id"]
        self._last_id[chat_id] += 1
        msg = BotMessage(chat_id, self._last_id[chat_id], text, _inline_markup(p.get("reply_markup")))
        self._messages[chat_id].append(msg)
        for listener in self.listeners:
            listener(msg)
        return msg.to_api(self.bot_user)

    async def _edit_text(self, p: JSON) -> JSON:
        return self._edit(p, str(p.get("text", "")), _inline_markup(p.get("reply_markup")))

    async def _edit_markup(self, p: JSON) -> JSON:
        msg = self._find(p.get("chat_id"), p.get("message_id"))
        return self._edit(p, msg.text, _inline_markup(p.get("reply_markup")))

    def _edit(self, p: JSON, text: str, markup: JSON | None) -> JSON:
        """Edits replace text and keyboard (no reply_markup removes it); an edit that changes nothing is a 400."""
        msg = self._find(p.get("chat_id"), p.get("message_id"))
        if (text, markup) == (msg.text, msg.reply_markup):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        msg.text, msg.reply_markup, msg.edits, msg.edit_date = text, markup, msg.edits + 1, int(time.time())
        return msg.to_api(self.bot_user)

    async def _delete_message(self, p: JSON) -> bool:
        msg = self._find(p.get("chat_id"), p.get("message_id"), "delete")
        self._messages[msg.chat_id].remove(msg)
        return True

    async def _answer_callback_query(self, p: JSON) -> bool:
        query_id = str(p.get("callback_query_id"))
        if self._queries.get(query_id, True):  # unknown or already answered
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._queries[query_id] = True
        self.callback_answers.append(p)
        return True

    async def _set_commands(self, p: JSON) -> bool:
        for command in p.get("commands", []):
            if not (_COMMAND.fullmatch(command.get("command", "")) and 1 <= len(command.get("description", "")) <= 256):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[(p.get("language_code", ""), _scope_key(p.get("scope")))] = p.get("commands", [])
        return True

    async def _get_commands(self, p: JSON) -> list[JSON]:
        return self.commands.get((p.get("language_code", ""), _scope_key(p.get("scope"))), [])

    async def _delete_commands(self, p: JSON) -> bool:
        self.commands.pop((p.get("language_code", ""), _scope_key(p.get("scope"))), None)
        return True

    async def _set_webhook(self, p: JSON) -> bool:
        if "secret_token" in p and not _SECRET.fullmatch(p["secret_token"]):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {k: v for k, v in p.items() if k != "drop_pending_updates"} if p.get("url") else {"url": ""}
        return True

    async def _delete_webhook(self, p: JSON) -> bool:
        return await self._set_webhook({"url": "", "drop_pending_updates": p.get("drop_pending_updates", False)})

    async def _webhook_info(self, p: JSON) -> JSON:
        info = {"url": self.webhook["url"], "has_custom_certificate": "certificate" in self.webhook,
                "pending_update_count": len(self._pending)}
        return info | {k: self.webhook[k] for k in ("max_connections", "allowed_updates") if k in self.webhook}

    # --- helpers ------------------------------------------------------------------------------------------------

    def _find(self, chat_id: Any, message_id: Any, action: str = "edit") -> BotMessage:
        for msg in self._messages.get(chat_id, []):
            if msg.message_id == message_id:
                return msg
        raise ApiError(400, f"Bad Request: message to {action} not found")

    def _user(self, user_id: int, first_name: str, language_code: str) -> JSON:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def _queue(self, fields: JSON) -> JSON:
        update = {"update_id": next(self._update_ids), **fields}
        self.updates.append(update)
        self._pending.append(update)
        self._notify()
        return update

    def _notify(self) -> None:
        """Wake every waiting long poll (each waits on the event that was current when it started waiting)."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()


def _inline_markup(markup: JSON | None) -> JSON | None:
    """Keep inline keyboards (the only markup a Message carries), checking callback_data like Telegram does."""
    if not markup or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _scope_key(scope: JSON | None) -> str:
    """The key for a BotCommandScope: "default", "all_private_chats", "chat:42", "chat_member:42:7", ..."""
    scope = scope or {"type": "default"}
    return ":".join([scope["type"], *(str(scope[k]) for k in ("chat_id", "user_id") if k in scope)])


async def _read_params(request: Request) -> JSON:
    """Query string plus a form, multipart or JSON body; JSON-decode values PTB encoded (numbers, markup, ...)."""
    content_type, body = request.headers.get("content-type", ""), await request.body()
    raw: JSON = dict(request.query_params)
    if content_type.startswith("application/json"):
        return raw | (json.loads(body) if body else {})
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        for part in BytesParser(policy=email.policy.HTTP).parsebytes(head + body).iter_parts():
            name, filename = part.get_param("name", header="content-disposition"), part.get_filename()
            payload = part.get_payload(decode=True)
            assert isinstance(name, str) and isinstance(payload, bytes)
            raw[name] = {"filename": filename, "content": payload} if filename else payload.decode()
    else:
        raw |= dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {k: _decode(v) if isinstance(v, str) and k not in _TEXT_PARAMS else v for k, v in raw.items()}


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
