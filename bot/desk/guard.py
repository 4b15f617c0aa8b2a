"""`DeskGuard`: the one door every desk request passes, so no page can forget a check.

In order: the security headers on every response (a strict Content-Security-Policy: scripts only from the desk itself,
no inline script or style; no caching of pages with health data; no framing); the language (`?lang=en` once, then
a cookie); the session (none, idle or expired: to the log-in page, or an `HX-Redirect` there for htmx; a page's own
poll, `poll=1`, is not activity); CSRF on every POST (the session's token in the `X-CSRF-Token` header, as htmx sends
it, or the form's `csrf` field, also of a file upload, compared in constant time). A refused POST is answered 403,
logged without its body, and audited. A pure ASGI middleware (not Starlette's BaseHTTPMiddleware): it reads a form
body once and hands the same bytes on.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.desk.context import Desk
from bot.desk.sessions import COOKIE, Sessions
from bot.desk.templating import LANGUAGES

log = logging.getLogger(__name__)
PUBLIC = ("/login", "/static", "/health", "/oidc", "/passkey/login")  # open without a session, with what is below
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM = 64 * 1024  # a note or a reply is a few KB; the limit the participant's messages have is 2,000 characters
# An edited file pasted to be checked (bot/desk/views/admin_check.py): the risk word list alone is 86 KB, and a form
# encodes a Danish letter or a line break in up to 6 bytes.
LARGER_FORMS = {"/admin/check": 1536 * 1024}
LANG_COOKIE = "desk_lang"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
NO_STORE = (b"cache-control", b"no-store")


def is_public(path: str) -> bool:
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in PUBLIC)


def is_poll(request: Request) -> bool:
    """A GET a page makes by itself to stay current (`poll=1`: the alerts page), not someone at the desk."""
    return request.method == "GET" and request.query_params.get("poll") == "1"


def with_headers(send: Send, path: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.extend(HEADERS)
            if not path.startswith("/static/"):
                headers.append(NO_STORE)
            message = {**message, "headers": headers}
        await send(message)
    return sending


def replay(body: bytes) -> Receive:
    """A `receive` that gives the app the body the guard already read."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}
    return receive


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than `limit`."""
    body: bytes = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += bytes(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


class DeskGuard:
    def __init__(self, app: ASGIApp, desk: Desk, sessions: Sessions) -> None:
        self.app = app
        self.desk = desk
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = with_headers(send, path)
        request = Request(scope)
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        asked = request.query_params.get("lang")
        state["lang"] = asked if asked in LANGUAGES else request.cookies.get(LANG_COOKIE) \
            if request.cookies.get(LANG_COOKIE) in LANGUAGES else "da"
        if asked in LANGUAGES:
            send = with_lang_cookie(send, asked)
        if is_public(path):
            await self.app(scope, receive, send)
            return
        session = await self.sessions.load(request.cookies.get(COOKIE), activity=not is_poll(request))
        if session is None or session.coach_id not in self.desk.deployment.coaches:
            await to_login(request, path)(scope, receive, send)
            return
        state["session"] = session
        state["coach"] = self.desk.deployment.coaches[session.coach_id]
        if scope["method"] in UNSAFE:
            body = await read_body(receive, LARGER_FORMS.get(path, MAX_FORM))
            if body is None:
                log.warning("a desk request was refused: the body is too large")
                await PlainTextResponse("Too large", 413)(scope, receive, send)
                return
            if not await self._csrf_ok(request, body, session.csrf):
                log.warning("a desk POST was refused: no valid CSRF token")
                await self.desk.audit(request, "desk.csrf_refused", path)
                await PlainTextResponse("Forbidden: the form is out of date; reload the page", 403)(
                    scope, receive, send)
                return
            receive = replay(body)
        await self.app(scope, receive, send)

    async def _csrf_ok(self, request: Request, body: bytes, expected: str) -> bool:
        token = request.headers.get("x-csrf-token")
        content_type = request.headers.get("content-type", "")
        if token is None and content_type.startswith("application/x-www-form-urlencoded"):
            token = dict(parse_qsl(body.decode("utf-8", "replace"))).get("csrf")
        elif token is None and content_type.startswith("multipart/form-data"):  # a file upload (an enrolment CSV)
            try:
                async with Request(request.scope, replay(body)).form() as form:
                    field = form.get("csrf")
                    token = field if isinstance(field, str) else None
            except HTTPException:  # not a form Starlette can read: no token either
                token = None
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())


def with_lang_cookie(send: Send, lang: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            cookie = f"{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Strict; Secure".encode()
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)
    return sending


PAGE_OF_FRAGMENT = {"/alerts/list": "/alerts"}  # what a page asks for by itself -> the page


def to_login(request: Request, path: str) -> Response:
    """No live session: the log-in page, then back here (htmx follows `HX-Redirect` with a full page load)."""
    path = PAGE_OF_FRAGMENT.get(path, path)  # after the log-in, the page, not the poll's bare fragment
    target = "/login" if path in ("/", "/logout") else f"/login?next={quote(path)}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)

