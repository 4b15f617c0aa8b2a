"""A small fake of the Twilio Messages REST API on 127.0.0.1, for end-to-end tests with the real twilio SDK.

Nothing on this machine can reach Twilio, so the SDK is pointed at this fake through its documented seam: the
``http_client`` argument of ``twilio.rest.Client``. ``RedirectingAsyncHttpClient`` / ``RedirectingHttpClient`` are
the SDK's own aiohttp/requests clients with only the ``https://api.twilio.com`` prefix rewritten, so request
building, basic auth, form encoding, response parsing and ``TwilioRestException`` all run the real SDK code.
(``Client(edge=..., region=...)`` cannot help: it always keeps the ``.twilio.com`` suffix.)

Usage::

    async with FakeTwilio() as fake:
        http = RedirectingAsyncHttpClient(fake.url)
        client = Client(fake.account_sid, fake.auth_token, http_client=http)
        await client.messages.create_async(to="+4512345678", from_="+4598765432", body="Hej", status_callback=cb)
        fake.sent[-1]["num_segments"]            # 1
        fake.fail_next(status=429, code=20429)   # or fake.fail_recipient("+45...", code=21610)
        await fake.deliver_status(sid, "delivered")
        headers, form = fake.signed_inbound(url, From="+45...", To="+45...", Body="STOP")
        await http.close()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

TWILIO_API = "https://api.twilio.com"

# GSM 03.38 basic set (1 septet) and extension table (escape + char = 2 septets). Danish æøåÆØÅ are in the basic set.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
}


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def count_segments(text: str) -> int:
    """Segments as Twilio bills them: GSM-7 160 single / 153 concatenated, else UCS-2 70 / 67 (UTF-16 units).

    A 2-unit character (GSM-7 escape or UTF-16 surrogate pair) is never split across segments, as on handsets.
    """
    if is_gsm7(text):
        units = [2 if c in GSM7_EXTENDED else 1 for c in text]
        single, multi = 160, 153
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi = 70, 67
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for u in units:
        if used + u > multi:
            segments, used = segments + 1, 0
        used += u
    return segments


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _country(number: str) -> str:
    return "DK" if number.startswith("+45") else ""


def _rewrite(url: str, base_url: str) -> str:
    return base_url.rstrip("/") + url[len(TWILIO_API) :] if url.startswith(TWILIO_API) else url


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode("latin-1")).decode()


class RedirectingAsyncHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """The SDK's own aiohttp client, sending api.twilio.com requests to ``base_url`` instead. Close it when done.

    It also sends basic auth as a header: the stock client builds ``aiohttp.BasicAuth``, which aiohttp >= 3.14
    deprecates (twilio/twilio-python#931), and the DeprecationWarning would fail every test under ``-W error``.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            headers = {**(headers or {}), "Authorization": basic_auth(*auth)}
        url = _rewrite(url, self.base_url)
        return await super().request(method, url, params, data, headers, None, timeout, allow_redirects)


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own requests-based client, redirected like ``RedirectingAsyncHttpClient`` (for sync callers)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, _rewrite(url, self.base_url), *args, **kwargs)


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port inside the current loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise the startup error
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class _Fault:
    status: int
    code: int
    message: str


class FakeTwilio:
    """The Messages endpoint of Twilio's REST API, fault injection, signed status callbacks and inbound webhooks.

    ``sent`` holds accepted sends, ``rejected`` the ones answered with an injected error; both carry ``at``
    (``time.monotonic()`` on arrival) so tests can measure outbound pacing, retries included.
    """

    def __init__(self, account_sid: str = "AC" + "a1" * 16, auth_token: str = "f" * 32) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.url = ""
        self.sent: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.callbacks: list[httpx.Response] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # told of every accepted send (benchmarks)
        self._next_faults: list[_Fault] = []
        self._recipient_faults: dict[str, _Fault] = {}
        self._stack = contextlib.AsyncExitStack()
        self.app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create, methods=["POST"])])

    async def __aenter__(self) -> FakeTwilio:
        self.url = await self._stack.enter_async_context(serve(self.app))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    # -- fault injection -------------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 400, code: int = 21610, message: str | None = None) -> None:
        """The next ``n`` sends (to anyone) get this error, e.g. ``status=429, code=20429`` or ``500, 20500``."""
        fault = _Fault(status, code, message or ERROR_MESSAGES.get(code, "Error"))
        self._next_faults.extend([fault] * n)

    def fail_recipient(self, to: str, *, status: int = 400, code: int = 21610, message: str | None = None) -> None:
        """Every send to ``to`` gets this error until ``clear_faults()`` (the default is an opted-out number)."""
        self._recipient_faults[to] = _Fault(status, code, message or ERROR_MESSAGES.get(code, "Error"))

    def clear_faults(self) -> None:
        self._next_faults.clear()
        self._recipient_faults.clear()

    # -- REST endpoint ---------------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: int, message: str) -> JSONResponse:
        # Twilio's legacy error body; the SDK turns it into TwilioRestException(status, code=code).
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return JSONResponse({**body, "status": status}, status_code=status)

    async def _create(self, request: Request) -> JSONResponse:
        at = time.monotonic()
        expected = basic_auth(self.account_sid, self.auth_token)
        if not secrets.compare_digest(request.headers.get("authorization", "").encode(), expected.encode()):
            return self._error(401, 20003, ERROR_MESSAGES[20003])
        if request.path_params["sid"] != self.account_sid:
            return self._error(404, 20404, ERROR_MESSAGES[20404])
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        to, body = form.get("To", ""), form.get("Body", "")
        service_sid, from_ = form.get("MessagingServiceSid"), form.get("From")
        if not to.startswith("+"):
            return self._error(400, 21211, ERROR_MESSAGES[21211])
        if not body:
            return self._error(400, 21602, ERROR_MESSAGES[21602])
        if not (from_ or service_sid):
            return self._error(400, 21603, ERROR_MESSAGES[21603])
        record = {
            "to": to,
            "from": from_ or service_sid,
            "body": body,
            "num_segments": count_segments(body),
            "status_callback": form.get("StatusCallback"),
            "at": at,
        }
        fault = self._next_faults.pop(0) if self._next_faults else self._recipient_faults.get(to)
        if fault:
            self.rejected.append({**record, "http_status": fault.status, "code": fault.code})
            return self._error(fault.status, fault.code, fault.message)
        sid = new_sid("SM")
        self.sent.append({**record, "sid": sid})
        for listener in self.listeners:
            listener(self.sent[-1])
        now = formatdate(usegmt=True)
        # Like Twilio: via a Messaging Service without From, the message is "accepted" with no sender and
        # num_segments "0" until a sender is picked; count segments yourself (``sent`` has the real count).
        pooled = service_sid is not None and from_ is None
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": service_sid,
            "to": to,
            "from": from_,
            "body": body,
            "status": "accepted" if pooled else "queued",
            "direction": "outbound-api",
            "num_segments": "0" if pooled else str(record["num_segments"]),
            "num_media": "0",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            **dict.fromkeys(("date_sent", "error_code", "error_message", "price"), None),
            "price_unit": "USD",
            "uri": uri + ".json",
            "subresource_uris": {"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
        }
        return JSONResponse(message, status_code=201)

    # -- webhooks towards the app under test -----------------------------------------------------------------

    def sign(self, url: str, form: dict[str, str]) -> str:
        """X-Twilio-Signature as Twilio computes it (HMAC-SHA1 of URL + sorted params, keyed by the auth token)."""
        return str(self.validator.compute_signature(url, form))

    async def deliver_status(
        self, message_sid: str, status: str, error_code: int | None = None, *, post_to: str | None = None
    ) -> httpx.Response:
        """POST a signed status callback to the StatusCallback URL given when ``message_sid`` was sent.

        The signature is always for that URL; ``post_to`` sends it elsewhere (an app behind a proxy).
        """
        record = next(r for r in self.sent if r["sid"] == message_sid)
        if not (url := record["status_callback"]):
            raise ValueError(f"{message_sid} was sent without a StatusCallback")
        form = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": record["from"],
            "To": record["to"],
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        headers = {"X-Twilio-Signature": self.sign(url, form)}
        async with httpx.AsyncClient() as http:
            response = await http.post(post_to or url, data=form, headers=headers)
        self.callbacks.append(response)
        return response

    def signed_inbound(
        self, url: str, *, From: str, To: str, Body: str, MessageSid: str | None = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and form of Twilio's POST to an SMS webhook at public ``url``, signed with the auth token.

        Post ``form`` with ``httpx`` (``data=form, headers=headers``). For negative tests tamper after signing:
        ``{**form, "Body": "other"}`` or post to / validate against a URL other than ``url``.
        """
        sid = MessageSid or new_sid("SM")
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "From": From,
            "To": To,
            "Body": Body,
            "NumMedia": "0",
            "NumSegments": str(count_segments(Body)),
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
            "FromCountry": _country(From),
            "ToCountry": _country(To),
            **dict.fromkeys(("FromCity", "FromState", "FromZip", "ToCity", "ToState", "ToZip"), ""),
        }
        return {"X-Twilio-Signature": self.sign(url, form)}, form
