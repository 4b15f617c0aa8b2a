"""The administrators' part of the desk: one landing page listing their pages, and the one rule that guards them.

Administrators are the coaches with `role: admin` in the deployment file (bot/deployment.py). Their pages live
under /admin/...; each view module calls `admin_only` first. A coach who is not an administrator gets the same
404 as for a page that does not exist: the desk does not tell a coach which administrative pages there are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.deployment import Coach
from bot.desk.context import Desk

Handler = Callable[[Request], Awaitable[Response]]


def admin_only(desk: Desk, handler: Callable[[Request, Coach], Awaitable[Response]]) -> Handler:
    """Wrap a view so only administrators reach it; everyone else gets a plain 404 (and nothing is audited, as
    for any unknown address)."""
    async def guarded(request: Request) -> Response:
        coach = desk.coach(request)
        if not coach.is_admin:
            return Response(status_code=404)
        return await handler(request, coach)
    return guarded


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request, coach: Coach) -> Response:
        await desk.audit(request, "admin.viewed", "admin")
        return desk.templates.render(request, "admin.html", {})

    return [Route("/admin", admin_only(desk, page))]
