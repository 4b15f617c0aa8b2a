"""python-telegram-bot's HTTP requests made with aiohttp instead of httpx (PTB's `BaseRequest`, its documented seam for
another HTTP library).

Why: sending a message through PTB's default `HTTPXRequest` cost about 1.6 ms of CPU against the fake Bot API, and
0.55 ms through this class (benchmarks/telegram.py; the same PTB `Bot` above both). At Telegram's 30 requests/s that
is nothing, but it was a third of all the CPU the bot spent per update with the limits off, and a bot whose
Telegram requests cost less has more left for the crisis path when many people write at once. aiohttp is already
installed with twilio's async client.

Errors become PTB's own, as `HTTPXRequest` does it: a timeout is `TimedOut`, any other failure to talk to the
server `NetworkError`; the status and body go back to PTB, which turns Telegram's answers (429, 400, ...) into its
errors. PTB's pool timeout has no aiohttp twin: a request waits for a free connection within its total time.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DEFAULT_TIMEOUT = 5.0  # seconds to connect, write or read, as PTB's own default request


def _seconds(value: Any, default: float | None) -> float | None:
    """PTB passes `BaseRequest.DEFAULT_NONE` for "the request's own default", None for "no limit"."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a pool of `connections` (PTB: 256 for the bot's requests, 1 for getUpdates)."""

    __slots__ = ("_connect_timeout", "_connections", "_read_timeout", "_session")

    def __init__(self, connections: int = 256, read_timeout: float | None = DEFAULT_TIMEOUT,
                 connect_timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
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
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = _seconds(read_timeout, self._read_timeout)
        write = _seconds(write_timeout, DEFAULT_TIMEOUT)
        connect = _seconds(connect_timeout, self._connect_timeout)
        timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read if read is None or write is None
                                        else max(read, write))
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
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
