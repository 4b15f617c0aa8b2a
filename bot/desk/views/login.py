"""The log-in page (one-time code; the identity provider and passkeys add their own buttons) and log-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.desk.context import Desk
from bot.desk.login_codes import LoginThrottle, check_code
from bot.desk.sessions import Sessions, clear_cookie, set_cookie

MAX_FIELD = 200


def safe_next(target: str | None) -> str:
    """Only a path of this desk (no //host, no scheme): a log-in link cannot send the coach elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def logged_in(desk: Desk, sessions: Sessions, request: Request, coach_id: str, how: str,
                    target: str | None) -> Response:
    """Open the session, audit the log-in, and go where the coach was going."""
    token, session = await sessions.open(coach_id, how)
    request.state.session = session
    await desk.audit(request, "desk.login", "desk", {"how": how})
    response = RedirectResponse(safe_next(target), status_code=303)
    set_cookie(response, token)
    return response


def routes(desk: Desk, sessions: Sessions) -> list[Route]:
    throttle = LoginThrottle(desk.storage, desk.clock)

    async def login_page(request: Request) -> Response:
        return desk.templates.render(request, "login.html", {"next": safe_next(request.query_params.get("next")),
                                                             "problem": None, "coach_id": ""})

    async def login(request: Request) -> Response:
        form = await request.form()
        coach_id = str(form.get("coach_id", ""))[:MAX_FIELD].strip()
        code = str(form.get("code", ""))[:MAX_FIELD]
        target = str(form.get("next", "/"))
        problem = None
        if await throttle.blocked(request, coach_id):
            problem = "wait"
        elif coach_id not in desk.deployment.coaches or not await check_code(desk.storage, coach_id, code,
                                                                               desk.clock.now()):
            await throttle.failed(request, coach_id)
            problem = "wrong"
        if problem is not None:
            return desk.templates.render(request, "login.html", {"next": safe_next(target), "problem": problem,
                                                                 "coach_id": coach_id},
                                         status=429 if problem == "wait" else 401)
        return await logged_in(desk, sessions, request, coach_id, "totp", target)

    async def logout(request: Request) -> Response:
        await desk.audit(request, "desk.logout", "desk")
        await sessions.end(request.state.session)
        response = RedirectResponse("/login", status_code=303)
        clear_cookie(response)
        return response

    return [Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"])]
