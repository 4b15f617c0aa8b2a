"""`python -m bot run`: every configured channel, their webhooks on one ASGI server, and the watchers.

Channels are configured from the environment (secrets only from there):
- SMS: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM (a number or a messaging service SID), and
  PUBLIC_BASE_URL (the address Twilio calls; signatures are checked against it); optionally
  TWILIO_API_BASE_URL and SMS_SEGMENTS_PER_SECOND.
- Telegram: TELEGRAM_BOT_TOKEN; webhook mode when TELEGRAM_WEBHOOK_SECRET and PUBLIC_BASE_URL are set,
  polling otherwise; optionally TELEGRAM_API_BASE_URL (a self-hosted Bot API server, ending in /bot).
The programme's scheduler ticks every PROGRAMME_TICK_SECONDS (default 30); data past the retention period is erased
daily (bot/retention.py). What runs in the background is started and stopped by the web app's lifespan
(bot/service.py). With no channel configured, the `run` command starts the console chat instead.

The server is meant to sit behind a reverse proxy (docs/operations.md): uvicorn's own limits here only keep one
process answering when too many connections are open or a client sends its headers slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import sys

import uvicorn
from starlette.applications import Starlette

from bot.app import App, open_app
from bot.channels.coach_console import ServiceLogCoachChannel
from bot.desk.context import Desk
from bot.desk.server import CompanionServer, desk_config
from bot.desk.server import server_config as desk_server_config
from bot.escalation import CoachChannel
from bot.http_guard import HeaderDeadlineH11, limit_repeated_logs
from bot.service import Service
from bot.settings import settings
from bot.singleton import AnotherProcess, sole_process
from bot.web import create_web_app

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 200  # beyond this uvicorn answers 503 at once instead of queueing (a flood of half-sent requests)
KEEP_ALIVE_SECONDS = 5  # an idle connection, or one that has not finished its headers, is closed after this
MAX_HEADER_BYTES = 16 * 1024  # h11's incomplete-event limit: a request whose headers grow past it is refused


def quiet_libraries() -> None:
    """httpx logs request URLs, which carry the Telegram bot token; refusals under a flood are logged a few times a
    minute, not once each (bot/http_guard.py)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    limit_repeated_logs("uvicorn.error", "asyncio", "bot.http", "bot.web", "bot.channels.telegram")


def more_open_files() -> None:
    """Every connection is a file descriptor: take the hard limit the system allows (often 1,024 soft), so a burst
    of connections meets uvicorn's limits, not "too many open files" on accept."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65_536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def server_config(web: Starlette, host: str, port: int) -> uvicorn.Config:
    """uvicorn with the limits a public webhook port needs, and the app's lifespan on (it starts the service)."""
    return uvicorn.Config(web, host=host, port=port, log_level="warning", lifespan="on", http=HeaderDeadlineH11,
                          limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                          h11_max_incomplete_event_size=MAX_HEADER_BYTES, server_header=False)


def _desk_beside(app: App, host: str, port: int) -> CompanionServer | None:
    """The coaches' desk on its own port (never the webhooks'), unless DESK_PORT is 0."""
    if not port:
        return None
    return CompanionServer(desk_server_config(Desk.from_app(app, desk_config(app)), host, port))


async def run_server(db_path: str, host: str, port: int) -> int:
    config = settings()
    public = config.public_base_url
    if config.sms_configured and not public:
        print("PUBLIC_BASE_URL is needed: Twilio signs requests for that address", file=sys.stderr)
        return 2
    quiet_libraries()
    more_open_files()
    if not config.keys_from_environment:
        print("BOT_DATA_KEY and BOT_LOOKUP_KEY must be set when SMS or Telegram is configured: the development "
              "key file is for the console only (docs/data-protection.md)", file=sys.stderr)
        return 2
    # the service log is no place for a risk message, and no way to reach a coach (bot/channels/coach_console.py)
    coach_channels: dict[str, CoachChannel] = {"console": ServiceLogCoachChannel()}
    async with contextlib.AsyncExitStack() as stack:
        try:
            stack.enter_context(sole_process(db_path))  # SQLite: one bot run per file (bot/singleton.py)
        except AnotherProcess as refused:
            print(refused, file=sys.stderr)
            return 2
        app = await stack.enter_async_context(open_app(db_path, coach_channels=coach_channels))
        service = Service(app, config, coach_channels, db_path)
        web = create_web_app(app.storage, service.sms, config.twilio_auth_token.get_secret_value(), public,
                             service.routes, lifespan=service.lifespan, twilio_account_sid=config.twilio_account_sid)
        server = uvicorn.Server(server_config(web, host, port))
        desk = _desk_beside(app, config.desk_host, config.desk_port)
        desk_task = asyncio.create_task(desk.run_beside(), name="desk") if desk is not None else None
        await server.serve()  # until SIGINT/SIGTERM; the lifespan starts and stops the service
        if desk is not None and desk_task is not None:
            await desk.stop(desk_task)
    if not service.started:
        print("the bot could not start (see the log above)", file=sys.stderr)
        return 1
    return 0
