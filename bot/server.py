"""`python -m bot run`: every configured channel, their webhooks on one ASGI server, and the watchers.

Channels are configured from the environment (secrets only from there):
- SMS: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM (a number or a messaging service SID), and
  PUBLIC_BASE_URL (the address Twilio calls; signatures are checked against it); optionally
  TWILIO_API_BASE_URL and SMS_SEGMENTS_PER_SECOND.
- Telegram: TELEGRAM_BOT_TOKEN; webhook mode when TELEGRAM_WEBHOOK_SECRET and PUBLIC_BASE_URL are set,
  polling otherwise; optionally TELEGRAM_API_BASE_URL (a self-hosted Bot API server, ending in /bot).
The programme's scheduler ticks every PROGRAMME_TICK_SECONDS (default 30); data past the retention period is erased
daily (bot/retention.py). With no channel configured, the console chat runs instead (participant "demo").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import uvicorn

from bot.app import open_app
from bot.channels.coach_console import ServiceLogCoachChannel
from bot.channels.sms import SmsChannel, SmsCoachChannel, TwilioSender
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel, TelegramCoachChannel
from bot.escalation import CoachChannel
from bot.rendering import Catalogs
from bot.retention import run_daily
from bot.scheduler import ProgrammeScheduler, address_channel, lease_from_environment
from bot.settings import settings
from bot.web import create_web_app

log = logging.getLogger(__name__)


def quiet_libraries() -> None:
    """httpx logs request URLs, which carry the Telegram bot token."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def run_server(db_path: str, host: str, port: int) -> int:
    config = settings()
    public = config.public_base_url
    if config.sms_configured and not public:
        print("PUBLIC_BASE_URL is needed: Twilio signs requests for that address", file=sys.stderr)
        return 2
    quiet_libraries()
    if not config.keys_from_environment:
        print("BOT_DATA_KEY and BOT_LOOKUP_KEY must be set when SMS or Telegram is configured: the development "
              "key file is for the console only (docs/data-protection.md)", file=sys.stderr)
        return 2
    # the service log is no place for a risk message, and no way to reach a coach (bot/channels/coach_console.py)
    coach_channels: dict[str, CoachChannel] = {"console": ServiceLogCoachChannel()}
    async with contextlib.AsyncExitStack() as stack:
        app = await stack.enter_async_context(open_app(db_path, coach_channels=coach_channels))
        background: list[asyncio.Task[None]] = []
        sms, routes = None, {}
        if config.sms_configured:
            sender = TwilioSender(config.twilio_account_sid, config.twilio_auth_token.get_secret_value(),
                                  config.twilio_from, config.twilio_api_base_url or None)
            stack.push_async_callback(sender.close)
            sms = SmsChannel(app.storage, app.loop, sender, Catalogs(), app.clock, f"{public}/twilio/status",
                             config.sms_segments_per_second, safety=app.safety)
            background.append(asyncio.create_task(sms.run(), name="sms"))
            coach_channels["sms"] = SmsCoachChannel(sender, sms.pacer)  # coaches with "sms:+45...": first in line
        if config.telegram_configured:
            secret = config.telegram_webhook_secret.get_secret_value() or None
            webhook = f"{public}{WEBHOOK_PATH}" if secret and public else None

            async def unreachable(participant_id: int) -> None:
                await app.escalations.tell_unreachable(participant_id, "Telegram")

            async def coach_desk(chat_id: int, text: str) -> str | None:  # a coach's own chat is their desk
                coach = app.deployment.coach_in_telegram_chat(chat_id)
                return None if coach is None else await app.desk.handle(coach.id, text)

            telegram = TelegramChannel(app.storage, app.loop, Catalogs(), app.clock,
                                       config.telegram_bot_token.get_secret_value(),
                                       base_url=config.telegram_api_base_url or None, webhook_url=webhook,
                                       webhook_secret=secret if webhook else None, on_unreachable=unreachable,
                                       coach_desk=coach_desk, safety=app.safety)
            if webhook:
                routes[WEBHOOK_PATH] = telegram.webhook
        web = create_web_app(app.storage, sms, config.twilio_auth_token.get_secret_value(), public, routes)
        server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="warning", lifespan="off"))
        await app.escalations.tick()
        background.append(asyncio.create_task(app.escalations.watch(), name="escalations"))
        background.append(asyncio.create_task(app.safety.run(), name="spool"))  # risk messages kept while the db failed
        scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, address_channel(app.storage),
                                       lease=lease_from_environment())
        scheduler.start(config.programme_tick_seconds)  # reminders, waves, check-ins
        background.append(asyncio.create_task(run_daily(  # erase what is past the retention period, once a day
            app.storage, app.registry.library.programme, app.deployment.data_protection, app.clock), name="retention"))
        serving = asyncio.create_task(server.serve(), name="web")  # until SIGINT/SIGTERM
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.05)
            if config.telegram_configured:  # after the web server listens: Telegram may call the webhook at once
                await telegram.start()
                stack.push_async_callback(telegram.stop)
                coach_channels["telegram"] = TelegramCoachChannel(telegram.application.bot)
            # crisis replies that do not get through: once every coach channel is up, as it tells on another one
            background.append(asyncio.create_task(app.undelivered.watch(), name="undelivered"))
            await serving
        finally:
            scheduler.stop()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.loop.settle()
    return 0
