"""Log-in and log-out: the identity provider (OIDC) first where there is one, passkeys, and the one-time code.

Every attempt is audited: a log-in as the coach; a failure as the coach when the attempt named a coach of the
deployment, else as `desk:unknown` (what someone typed in the coach id field is never stored: it may be a password
typed in the wrong box); someone the provider knows but the deployment does not as `oidc:unknown`, with a short hash
of the claim to see repeats, never the claim itself. Failures count towards the rate limit (bot/desk/login_codes.py).

After the provider the browser arrives from another site, so the session's `SameSite=Strict` cookie would not be
sent on a redirect straight on; the callback answers with a small page that moves on by itself (same-site).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.desk.context import Desk
from bot.desk.login_codes import LoginThrottle, check_code
from bot.desk.login_oidc import STATE_COOKIE, STATE_LIFETIME, OidcConfig, OidcFailure, OidcProvider
from bot.desk.login_passkeys import PasskeyFailure, Passkeys, RelyingParty
from bot.desk.sessions import Sessions, clear_cookie, set_cookie
from bot.settings import settings
from storage.records import AuditRecord

log = logging.getLogger(__name__)
MAX_FIELD = 200
MAX_JSON = 16 * 1024


def safe_next(target: str | None) -> str:
    """Only a path of this desk (no //host, no scheme): a log-in link cannot send the coach elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def base_url(desk: Desk, request: Request) -> str:
    return desk.config.public_url or f"{request.url.scheme}://{request.url.netloc}"


async def audit_attempt(desk: Desk, actor: str, action: str, detail: dict[str, Any]) -> None:
    """An attempt without a session (a failure, a refusal): refs only, never what was typed."""
    await desk.storage.record_audit(AuditRecord(actor, action, "desk", desk.clock.now(), {"via": "desk", **detail}))


def actor_of(desk: Desk, coach_id: str | None) -> str:
    return f"coach:{coach_id}" if coach_id and coach_id in desk.deployment.coaches else "desk:unknown"


async def open_session(desk: Desk, sessions: Sessions, request: Request, coach_id: str, how: str,
                       response: Response) -> Response:
    """Open the session, audit the log-in, and put the session's cookie on `response`."""
    token, session = await sessions.open(coach_id, how)
    request.state.session = session
    await desk.audit(request, "desk.login", "desk", {"how": how})
    set_cookie(response, token)
    return response


def coach_id_typed(desk: Desk, typed: str) -> str:
    """The deployment's coach id as someone typed it: a phone capitalises the first letter ("Coach"), and a refused
    log-in counts towards the lock-out."""
    typed = typed.strip()
    if typed in desk.deployment.coaches:
        return typed
    return next((known for known in desk.deployment.coaches if known.casefold() == typed.casefold()), typed)


def routes(desk: Desk, sessions: Sessions) -> list[Route]:
    throttle = LoginThrottle(desk.storage, desk.clock)
    oidc_config = OidcConfig.from_settings(settings())
    provider = None if oidc_config is None else OidcProvider(oidc_config, desk.storage, desk.clock)
    passkeys = Passkeys(desk.storage, desk.clock)

    def page(request: Request, problem: str | None, coach_id: str = "", target: str | None = None,
             status: int = 200) -> Response:
        target = safe_next(target if target is not None else request.query_params.get("next"))
        return desk.templates.render(request, "login.html", {
            "next": target, "problem": problem, "coach_id": coach_id,
            "provider": oidc_config.name if oidc_config else None}, status=status)

    async def login_page(request: Request) -> Response:
        return page(request, None)

    async def login(request: Request) -> Response:
        form = await request.form()
        coach_id = coach_id_typed(desk, str(form.get("coach_id", ""))[:MAX_FIELD])
        code = str(form.get("code", ""))[:MAX_FIELD]
        target = str(form.get("next", "/"))
        if await throttle.blocked(request, coach_id):
            await audit_attempt(desk, actor_of(desk, coach_id), "desk.login_failed", {"how": "totp",
                                                                                       "reason": "rate limit"})
            return page(request, "wait", coach_id, target, 429)
        if coach_id not in desk.deployment.coaches or not await check_code(desk.storage, coach_id, code,
                                                                             desk.clock.now()):
            await throttle.failed(request, coach_id)
            await audit_attempt(desk, actor_of(desk, coach_id), "desk.login_failed", {"how": "totp",
                                                                                       "reason": "wrong code"})
            return page(request, "wrong", coach_id, target, 401)
        return await open_session(desk, sessions, request, coach_id, "totp",
                                  RedirectResponse(safe_next(target), status_code=303))

    async def logout(request: Request) -> Response:
        await desk.audit(request, "desk.logout", "desk")
        await sessions.end(request.state.session)
        response = RedirectResponse("/login", status_code=303)
        clear_cookie(response)
        return response

    async def oidc_start(request: Request) -> Response:
        if provider is None:
            return Response(status_code=404)
        if await throttle.blocked(request):
            return page(request, "wait", status=429)
        try:
            browser, address = await provider.start(f"{base_url(desk, request)}/oidc/callback",
                                                    safe_next(request.query_params.get("next")))
        except OidcFailure as failure:
            log.error("the identity provider cannot be used: %s", failure)
            return page(request, "provider_down", status=503)
        response = RedirectResponse(address, status_code=303)
        response.set_cookie(STATE_COOKIE, browser, max_age=int(STATE_LIFETIME.total_seconds()), path="/oidc",
                            secure=True, httponly=True, samesite="lax")  # lax: the provider sends the browser back
        return response

    async def oidc_callback(request: Request) -> Response:
        if provider is None or oidc_config is None:
            return Response(status_code=404)
        pending = await provider.pending(request.cookies.get(STATE_COOKIE))
        params = request.query_params
        if pending is None or "error" in params or not params.get("code"):
            reason = "no log-in begun in this browser" if pending is None else f"provider: {params.get('error')}"
            await audit_attempt(desk, "desk:unknown", "desk.login_failed", {"how": "oidc", "reason": reason[:80]})
            return without_state(page(request, "provider_failed", status=401))
        try:
            claims = await provider.identity(pending, params.get("state", ""), params["code"],
                                             f"{base_url(desk, request)}/oidc/callback")
        except OidcFailure as failure:
            log.warning("a log-in through the identity provider was refused: %s", failure)
            await throttle.failed(request)
            await audit_attempt(desk, "desk:unknown", "desk.login_failed", {"how": "oidc", "reason": str(failure)})
            return without_state(page(request, "provider_failed", target=pending.target, status=401))
        login = str(claims.get(oidc_config.login_claim, ""))
        coach = desk.deployment.coach_with_login(login) if login else None
        if coach is None:
            who = hashlib.sha256(f"oidc\x00{claims.get('sub', '')}".encode()).hexdigest()[:16]
            await audit_attempt(desk, "oidc:unknown", "desk.login_refused", {"how": "oidc", "subject": who,
                                                                              "reason": "not a coach here"})
            return without_state(page(request, "not_a_coach", status=403))
        target = safe_next(pending.target)
        moving_on = desk.templates.render(request, "login_continue.html", {"next": target})
        return without_state(await open_session(desk, sessions, request, coach.id, "oidc", moving_on))

    warned = [datetime.min.replace(tzinfo=UTC)]

    async def passkey_options(request: Request) -> Response:
        if await throttle.blocked(request):
            return JSONResponse({"problem": "wait"}, status_code=429)
        if not await throttle.begin(request):
            if (now := desk.clock.now()) - warned[0] >= timedelta(minutes=1):  # one line a minute, not one a request
                warned[0] = now
                log.warning("desk: too many passkey log-ins begun from one address; refused until the window passes")
            return JSONResponse({"problem": "wait"}, status_code=429)
        options = await passkeys.log_in_options(RelyingParty.of(desk.config.public_url, request))
        return Response(options, media_type="application/json")

    async def passkey_login(request: Request) -> Response:
        if await throttle.blocked(request):
            await audit_attempt(desk, "desk:unknown", "desk.login_failed", {"how": "passkey",
                                                                             "reason": "rate limit"})
            return JSONResponse({"problem": "wait"}, status_code=429)
        try:
            sent = await read_json(request)
            credential = sent.get("credential")
            if not isinstance(credential, dict):
                raise PasskeyFailure("malformed answer")
            coach_id = await passkeys.log_in(RelyingParty.of(desk.config.public_url, request), credential)
            if coach_id not in desk.deployment.coaches:
                raise PasskeyFailure("no longer a coach here", coach_id)
        except PasskeyFailure as failure:
            await throttle.failed(request, failure.coach_id)
            await audit_attempt(desk, actor_of(desk, failure.coach_id), "desk.login_failed",
                                {"how": "passkey", "reason": failure.reason})
            return JSONResponse({"problem": "refused"}, status_code=401)
        target = safe_next(str(sent.get("next", "/")))
        return await open_session(desk, sessions, request, coach_id, "passkey", JSONResponse({"next": target}))

    return [Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/oidc/start", oidc_start, methods=["GET"]), Route("/oidc/callback", oidc_callback, methods=["GET"]),
            Route("/passkey/login/options", passkey_options, methods=["POST"]),
            Route("/passkey/login", passkey_login, methods=["POST"])]


def without_state(response: Response) -> Response:
    response.delete_cookie(STATE_COOKIE, path="/oidc", secure=True, httponly=True, samesite="lax")
    return response


async def read_json(request: Request) -> dict[str, Any]:
    """A small JSON object from the browser's script, or PasskeyFailure."""
    body = await request.body()
    try:
        sent = json.loads(body) if len(body) <= MAX_JSON else None
    except ValueError:
        sent = None
    if not isinstance(sent, dict):
        raise PasskeyFailure("malformed answer")
    return sent
