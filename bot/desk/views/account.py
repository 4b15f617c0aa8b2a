"""The coach's own account: how they are logged in, until when, and their passkeys (list, add, remove).

Adding a passkey needs the desk's own log-in (`python -m bot desk add-user`): a passkey belongs to that log-in, and
`desk add-user --replace` (a lost phone) ends it with its passkeys. A coach who logs in through the municipality's
identity provider has nothing to manage here. The passkey ceremony's browser side is bot/desk/static/passkeys.js;
its POSTs carry the session's CSRF token in the `X-CSRF-Token` header, which the guard checks like any form's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.desk.context import Desk
from bot.desk.login_passkeys import PasskeyFailure, Passkeys, RelyingParty
from bot.desk.views.login import read_json
from storage.errors import AlreadyTaken

DONE = ("added", "removed")


def routes(desk: Desk) -> list[Route]:
    passkeys = Passkeys(desk.storage, desk.clock)

    async def page(request: Request) -> Response:
        coach = desk.coach(request)
        session = request.state.session
        own = await desk.storage.passkeys(coach.id)
        has_login = await desk.storage.desk_user(coach.id) is not None
        await desk.audit(request, "desk.account_viewed", "desk", {"passkeys": len(own)})
        done = request.query_params.get("done")
        return desk.templates.render(request, "account.html", {
            "passkeys": own, "has_login": has_login, "how": session.how, "since": session.created_at,
            "ends_by": min(session.created_at + desk.config.lifetime, desk.clock.now() + desk.config.idle),
            "latest_end": session.created_at + desk.config.lifetime, "done": done if done in DONE else None})

    async def adding_options(request: Request) -> Response:
        coach = desk.coach(request)
        if await desk.storage.desk_user(coach.id) is None:
            return JSONResponse({"problem": "no desk log-in"}, status_code=409)
        options = await passkeys.adding_options(coach, RelyingParty.of(desk.config.public_url, request))
        return Response(options, media_type="application/json")

    async def add(request: Request) -> Response:
        coach = desk.coach(request)
        try:
            credential = (await read_json(request)).get("credential")
            if not isinstance(credential, dict):
                raise PasskeyFailure("malformed answer", coach.id)
            passkey = await passkeys.add(coach, RelyingParty.of(desk.config.public_url, request), credential)
        except (PasskeyFailure, AlreadyTaken) as failure:
            reason = failure.reason if isinstance(failure, PasskeyFailure) else "the passkey is known already"
            await desk.audit(request, "desk.passkey_refused", "desk", {"reason": reason})
            return JSONResponse({"problem": "refused"}, status_code=400)
        await desk.audit(request, "desk.passkey_added", "desk", {"passkey": passkey.credential_id[:16]})
        return JSONResponse({"next": "/account?done=added"})

    async def remove(request: Request) -> Response:
        coach = desk.coach(request)
        form = await request.form()
        credential_id = str(form.get("credential_id", ""))[:700]
        if not await desk.storage.remove_passkey(coach.id, credential_id):
            return Response(status_code=404)
        await desk.audit(request, "desk.passkey_removed", "desk", {"passkey": credential_id[:16]})
        return RedirectResponse("/account?done=removed", status_code=303)

    return [Route("/account", page), Route("/account/passkeys/options", adding_options, methods=["POST"]),
            Route("/account/passkeys", add, methods=["POST"]),
            Route("/account/passkeys/remove", remove, methods=["POST"])]

