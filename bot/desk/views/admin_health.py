"""Channel health (/admin/health): per channel, what waits, fails and was given up, when the provider last reached
the bot, and a verdict in plain words with what to check (bot/desk/channel_health.py decides it).

Read on the outbox's indexes of unsent and given-up rows and the heartbeats table: it costs what waits, not the
size of the outbox. No message text and no phone number: counts, times, refs (linked to the person's page) and the
provider's reasons, with any number in a reason hidden. Audited as "channels.viewed" with the verdicts' levels.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.deployment import Coach
from bot.desk.channel_health import (
    GIVEN_UP_WINDOW,
    SILENT_AFTER,
    STUCK_AFTER,
    channel_health,
    set_up_channels,
    without_numbers,
)
from bot.desk.context import Desk
from bot.desk.views.admin import admin_only
from bot.desk.views.alerts import duration
from bot.settings import settings

LISTED = 50  # given-up messages listed, newest first


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request, coach: Coach) -> Response:
        now = desk.clock.now()
        since = now - GIVEN_UP_WINDOW
        channels = channel_health(set_up_channels(), await desk.storage.outbox_health(now, since),
                                  await desk.storage.heartbeats(), now, desk.deployment.in_office_hours(now))
        given_up = await desk.storage.given_up_since(since, LISTED)
        await desk.audit(request, "channels.viewed", "channels", {c.channel: c.level for c in channels})
        lang = request.state.lang
        return desk.templates.render(request, "admin_health.html", {
            "channels": channels, "given_up": given_up, "reason": without_numbers,
            "took": lambda delta: duration(delta, lang), "public_url": settings().public_base_url,
            "silent_after": duration(SILENT_AFTER, lang), "stuck_after": duration(STUCK_AFTER, lang),
            "window_days": GIVEN_UP_WINDOW.days, "listed": LISTED})

    return [Route("/admin/health", admin_only(desk, page))]
