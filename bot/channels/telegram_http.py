"""python-telegram-bot's HTTP requests made with aiohttp instead of httpx (PTB's `BaseRequest`, its documented seam for
another HTTP library), and the Bot API calls of every message as plain JSON (`post_json`).

Why: sending a message through PTB's default `HTTPXRequest` cost about 1.6 ms of CPU against the fake Bot API, and
0.55 ms through this class (benchmarks/telegram.py; the same PTB `Bot` above both). At Telegram's 30 requests/s that
is nothing, but it was a third of all the CPU the bot spent per update with the limits off, and a bot whose
Telegram requests cost less has more left for the crisis path when many people write at once. aiohttp is already
installed with twilio's async client.

Errors become PTB's own, as `HTTPXRequest` does it: a timeout is `TimedOut`, any other failure to talk to the
server `NetworkError`; the status and body go back to PTB, which turns Telegram's answers (429, 400, ...) into its
errors. PTB's pool timeout has no aiohttp twin: a request waits for a free connection within its total time.

`post_json` is the same request without PTB's objects on either side (bot/channels/telegram_api.py says why): a dict
goes out as a JSON body, and Telegram's answer comes back as its `result`, or as the error PTB raises for it
(`api_result`, PTB's own reading of an answer, `BaseRequest._request_wrapper`, restated: PTB keeps it private).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")  # a RetryAfter made here: see bot/channels/telegram.py

import aiohttp
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

DEFAULT_TIMEOUT = 5.0  # seconds to connect, write or read, as PTB's own default request
JSON_BODY = {"Content-Type": "application/json"}
_ERRORS: dict[int, type[TelegramError]] = {403: Forbidden, 401: InvalidToken, 404: InvalidToken, 400: BadRequest,
                                           409: Conflict}  # by HTTP status; any other: NetworkError


def api_result(status: int, body: bytes) -> Any:
    """The `result` of a Bot API answer, or the error python-telegram-bot raises for the same answer: 429 and its
    `retry_after` RetryAfter, 403 Forbidden, 400 BadRequest, 401/404 InvalidToken, 409 Conflict, else NetworkError."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        data = None
    if HTTPStatus.OK <= status <= 299:
        if not isinstance(data, dict) or "result" not in data:
            raise TelegramError("Invalid server response")
        return data["result"]
    answer = data if isinstance(data, dict) else {}
    try:
        message = str(answer.get("description") or f"{HTTPStatus(status).phrase} ({status})")
    except ValueError:
        message = f"Unknown HTTPError ({status})"
    parameters = answer.get("parameters")
    if isinstance(parameters, dict) and parameters:
        if parameters.get("migrate_to_chat_id"):
            raise ChatMigrated(parameters["migrate_to_chat_id"])
        if parameters.get("retry_after"):
            raise RetryAfter(parameters["retry_after"])
        message += f". The server response contained unknown parameters: {parameters}"
    raise _ERRORS.get(status, NetworkError)(message)


def _client_timeout(read: float | None, write: float | None, connect: float | None) -> aiohttp.ClientTimeout:
    """aiohttp has no write timeout: a socket read waits as long as the longer of the two (None: no limit)."""
    return aiohttp.ClientTimeout(total=None, connect=connect,
                                 sock_read=read if read is None or write is None else max(read, write))


def _seconds(value: Any, default: float | None) -> float | None:
    """PTB passes `BaseRequest.DEFAULT_NONE` for "the request's own default", None for "no limit"."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a pool of `connections` (PTB: 256 for the bot's requests, 1 for getUpdates)."""

    __slots__ = ("_connect_timeout", "_connections", "_read_timeout", "_session", "_timeout")

    def __init__(self, connections: int = 256, read_timeout: float | None = DEFAULT_TIMEOUT,
                 connect_timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._timeout = _client_timeout(read_timeout, DEFAULT_TIMEOUT, connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        timeout = _client_timeout(_seconds(read_timeout, self._read_timeout), _seconds(write_timeout, DEFAULT_TIMEOUT),
                                  _seconds(connect_timeout, self._connect_timeout))
        data: Any = None
        if request_data is not None:
            data = request_data.json_parameters
            if request_data.multipart_data:
                form = aiohttp.FormData()
                for name, value in data.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
        return await self._request(method, url, data, None, timeout)

    async def post_json(self, url: str, payload: Mapping[str, Any], read_timeout: float | None = None) -> Any:
        """One Bot API method with `payload` as its JSON body: the answer's `result`, or PTB's error for it. A long
        poll passes its `read_timeout`; otherwise the request's own."""
        timeout = self._timeout if read_timeout is None else _client_timeout(read_timeout, None,
                                                                             self._connect_timeout)
        return api_result(*await self._request("POST", url, json.dumps(payload), JSON_BODY, timeout))

    async def _request(self, method: str, url: str, data: Any, headers: Mapping[str, str] | None,
                       timeout: aiohttp.ClientTimeout) -> tuple[int, bytes]:
        try:
            if self._session is None or self._session.closed:
                raise RuntimeError("This AiohttpRequest is not initialized!")
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
        except Exception as err:  # as PTB's requests: whatever else goes wrong on the way is a NetworkError
            raise NetworkError(f"Unknown error in HTTP implementation: {err!r}") from err
