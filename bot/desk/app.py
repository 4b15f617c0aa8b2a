"""The desk's ASGI app: its routes, the guard in front of them, the vendored static files."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.desk.context import Desk
from bot.desk.guard import DeskGuard
from bot.desk.sessions import Sessions
from bot.desk.views import account, admin, alerts, enrolment, figures, login, messages, people, person, tasks
from bot.desk.views import admin_audit as audit_view
from bot.desk.views import admin_check as files_view
from bot.desk.views import admin_health as health_view
from bot.desk.views import admin_report as report_view
from bot.desk.views import appointments as appointments_view
from bot.desk.views import programme_timeline as programme_timeline_view
from bot.desk.views import simulator as simulator_view


def create_desk_app(desk: Desk) -> Starlette:
    sessions = Sessions(desk.storage, desk.clock, desk.config.idle, desk.config.lifetime)

    async def home(request: Request) -> Response:
        return RedirectResponse("/alerts", status_code=303)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes: list[BaseRoute] = [
        Route("/", home), Route("/health", health),
        *login.routes(desk, sessions),
        *alerts.routes(desk),
        *account.routes(desk),
        *messages.routes(desk),
        *person.routes(desk),
        *people.routes(desk),
        *tasks.routes(desk),
        *figures.routes(desk),
        *appointments_view.routes(desk),
        *admin.routes(desk),
        *enrolment.routes(desk),
        *files_view.routes(desk),
        *report_view.routes(desk),
        *health_view.routes(desk),
        *audit_view.routes(desk),
        *programme_timeline_view.routes(desk),
        *simulator_view.routes(desk),
        Mount("/static", StaticFiles(packages=[("bot.desk", "static")]), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(DeskGuard, desk=desk, sessions=sessions)])
