"""The one ASGI app for webhooks (Twilio's SMS and status callbacks, Telegram's updates) and the health checks.

Every webhook is refused before anything is parsed when it is too large or of the wrong type, and before
anything is stored when its signature does not match: refusals are logged without the body. An inbound
message is committed before the 200 goes back, so a failure answers 5xx and the provider retries.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.sms import SmsChannel
from storage.ports import Storage

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # an SMS webhook is a few hundred bytes
BODY_SECONDS = 10.0  # a webhook's body arrives in milliseconds; a client dripping it holds a connection
FORM = "application/x-www-form-urlencoded"
TWIML = "application/xml"
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")  # an SMS or MMS
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
INBOUND_FIELDS = ("MessageSid", "AccountSid", "From", "To", "Body", "NumMedia")  # Twilio sends them all, always
STATUS_FIELDS = ("MessageSid", "AccountSid", "MessageStatus")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused when declared or found too large, when it does not arrive within BODY_SECONDS, or when
    the client hangs up half-way (logged as a refusal, never a traceback)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, "too large")
    body = b""
    try:
        async with asyncio.timeout(BODY_SECONDS):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise Refused(413, "too large")
    except TimeoutError:
        raise Refused(408, "the body did not arrive in time") from None
    except ClientDisconnect:
        raise Refused(400, "the client hung up before the body was complete") from None
    return body


def check_twilio_form(form: Mapping[str, str], required: tuple[str, ...], account_sid: str) -> None:
    """Refuse a signed form whose shape Twilio never sends. Twilio's signature joins names and values without a
    separator, so a captured `MessageSid=SM…&NumMedia=0` re-signs as `MessageSid=SM…NumMedia0` with no `NumMedia`: a
    new dedupe key for an old message. Every field Twilio always sends must be there, the ids must look like ids,
    and the account must be ours."""
    missing = [name for name in required if name not in form]
    if missing:
        raise Refused(400, f"missing {', '.join(missing)}")
    if not MESSAGE_SID.fullmatch(form["MessageSid"]) or not ACCOUNT_SID.fullmatch(form["AccountSid"]):
        raise Refused(400, "not Twilio's ids")
    media = form.get("NumMedia", "0")
    if not (media.isascii() and media.isdigit()):
        raise Refused(400, "NumMedia is not a number")
    if account_sid and not hmac.compare_digest(form["AccountSid"], account_sid):
        raise Refused(403, "another Twilio account")


async def read_twilio_form(request: Request, auth_token: str, required: tuple[str, ...] = INBOUND_FIELDS,
                           account_sid: str = "") -> dict[str, str]:
    """The form of a genuine Twilio request, or Refused: size, type, encoding, the signature, then its shape."""
    from twilio.request_validator import RequestValidator

    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        raise Refused(415, "not a form")
    body = await read_body(request)
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "not a readable form") from exc
    # Twilio signs the URL it was given (PUBLIC_BASE_URL), which behind a proxy is not the one we see
    public_base_url = str(request.app.state.public_base_url)
    url = public_base_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not RequestValidator(auth_token).validate(url, form, signature):
        raise Refused(403, "bad signature")
    check_twilio_form(form, required, account_sid)
    return form


def twiml(reply: str | None) -> Response:
    inner = "" if reply is None else f"<Message>{escape(reply)}</Message>"
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>', media_type=TWIML)


Handler = Callable[[Request], Awaitable[Response]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def _guarded(name: str, handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            log.warning("%s webhook refused (%s) from %s", name, refused.reason,
                        request.client.host if request.client else "?")
            return Response(status_code=refused.status)
        except Exception:
            log.exception("%s webhook failed; answering 500 so the provider retries", name)
            return Response(status_code=500)
    return guarded


def create_web_app(storage: Storage, sms: SmsChannel | None = None, twilio_auth_token: str = "",
                   public_base_url: str = "", extra_routes: Mapping[str, Handler] | None = None,
                   lifespan: Lifespan | None = None, twilio_account_sid: str = "") -> Starlette:
    """The webhooks and health checks. `twilio_account_sid`: requests of any other account are refused."""
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        try:
            await storage.audit_entries(limit=1)
        except Exception:
            log.exception("readiness check: the database is not reachable")
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    routes = [Route("/health", health), Route("/ready", ready)]
    if sms is not None:
        channel = sms

        async def sms_inbound(request: Request) -> Response:
            form = await read_twilio_form(request, twilio_auth_token, INBOUND_FIELDS, twilio_account_sid)
            return twiml(await channel.receive(form))

        async def sms_status(request: Request) -> Response:
            form = await read_twilio_form(request, twilio_auth_token, STATUS_FIELDS, twilio_account_sid)
            await channel.status(form)
            return Response(status_code=204)

        routes += [Route("/twilio/sms", _guarded("SMS", sms_inbound), methods=["POST"]),
                   Route("/twilio/status", _guarded("SMS status", sms_status), methods=["POST"])]
    for path, handler in (extra_routes or {}).items():
        routes.append(Route(path, _guarded(path, handler), methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.public_base_url = public_base_url
    return app
