"""What `bot run` runs besides answering webhooks, started and stopped by the web app's lifespan.

The channels are built when the service is made (no I/O), so the web app can route to them; everything that runs on
its own (Telegram's connection and poller, each channel's dispatcher, the escalation and undelivered watchers, the
safety spool, the programme's scheduler, the daily retention job) starts in `lifespan` before the server takes
requests and stops after it has stopped taking them (Starlette's lifespan, the pattern of encode/starlette). One
lifecycle, no polling for "has the server started yet".

In webhook mode Telegram is told our URL during startup, a moment before the port listens: an update it sends in that
moment is refused and Telegram delivers it again (it keeps updates for 24 hours), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.app import App
from bot.channels.sms import SmsChannel, SmsCoachChannel, TwilioSender
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel, TelegramCoachChannel
from bot.escalation import CoachChannel
from bot.rendering import Catalogs
from bot.retention import run_daily
from bot.scheduler import ProgrammeScheduler, address_channel, lease_from_environment
from bot.settings import Settings
from bot.singleton import every
from bot.web import Handler
from storage.job_locks import JobLocks

log = logging.getLogger(__name__)
ESCALATIONS = "escalations"  # the escalation watcher's job lock; it also turns unread messages into coach tasks
UNDELIVERED = "undelivered"  # the job lock of the watcher of crisis replies that do not get through
WATCH = timedelta(seconds=20)  # how often the watchers look (as `EscalationService.watch` does at the desk)


class Service:
    """The running bot's channels and background work around one opened `App`."""

    def __init__(self, app: App, config: Settings, coach_channels: dict[str, CoachChannel], database: str) -> None:
        self.app = app
        self.database = database  # BOT_DB: on PostgreSQL, the watchers run in the process holding their job lock
        self.config = config
        self.coach_channels = coach_channels  # the escalation service's own dict: channels added here reach it
        self.started = False
        self.sender: TwilioSender | None = None
        self.sms: SmsChannel | None = None
        self.telegram: TelegramChannel | None = None
        self.routes: dict[str, Handler] = {}
        public = config.public_base_url
        if config.sms_configured:
            self.sender = TwilioSender(config.twilio_account_sid, config.twilio_auth_token.get_secret_value(),
                                       config.twilio_from, config.twilio_api_base_url or None)
            self.sms = SmsChannel(app.storage, app.loop, self.sender, Catalogs(), app.clock, f"{public}/twilio/status",
                                  config.sms_segments_per_second, safety=app.safety)
            coach_channels["sms"] = SmsCoachChannel(self.sender, self.sms.pacer)  # coaches with "sms:+45...": first
        if config.telegram_configured:
            secret = config.telegram_webhook_secret.get_secret_value() or None
            webhook = f"{public}{WEBHOOK_PATH}" if secret and public else None
            self.telegram = TelegramChannel(app.storage, app.loop, Catalogs(), app.clock,
                                            config.telegram_bot_token.get_secret_value(),
                                            base_url=config.telegram_api_base_url or None, webhook_url=webhook,
                                            webhook_secret=secret if webhook else None,
                                            on_unreachable=self._unreachable, coach_desk=self._coach_desk,
                                            safety=app.safety)
            if webhook:
                self.routes[WEBHOOK_PATH] = self.telegram.webhook

    async def _unreachable(self, participant_id: int) -> None:
        await self.app.escalations.tell_unreachable(participant_id, "Telegram")

    def _coach_desk(self, chat_id: int) -> Callable[[str], Awaitable[str | None]] | None:
        """A coach's own Telegram chat is their desk; None for anyone else's chat."""
        coach = self.app.deployment.coach_in_telegram_chat(chat_id)
        return None if coach is None else functools.partial(self.app.desk.handle, coach.id)

    @contextlib.asynccontextmanager
    async def lifespan(self, web: Any) -> AsyncIterator[None]:
        """Start the background work, serve, then stop it in the reverse order (Starlette's lifespan)."""
        app, tasks = self.app, []
        scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, address_channel(app.storage),
                                       lease=lease_from_environment())
        async with contextlib.AsyncExitStack() as stack:
            if self.sender is not None:
                stack.push_async_callback(self.sender.close)
            # Jobs that must run in one process at a time (docs/architecture.md, "Several processes"); the programme's
            # tick and the dispatchers run in every process (their rows are claimed with leases).
            locks = JobLocks(self.database)  # on SQLite (one process per file) every lock is held at once
            stack.push_async_callback(locks.close)
            if await locks.hold(ESCALATIONS):
                await app.escalations.tick()
            tasks.append(asyncio.create_task(
                every(locks, ESCALATIONS, app.escalations.tick, WATCH, first_after=WATCH), name="escalations"))
            tasks.append(asyncio.create_task(app.safety.run(), name="spool"))  # risk messages kept while the db failed
            if self.sms is not None:
                tasks.append(asyncio.create_task(self.sms.run(), name="sms"))
            scheduler.start(self.config.programme_tick_seconds)  # reminders, waves, check-ins
            stack.callback(scheduler.stop)
            tasks.append(asyncio.create_task(run_daily(  # erase what is past the retention period, once a day
                app.storage, app.registry.library.programme, app.deployment.data_protection, app.clock, locks=locks,
                programmes=app.registry.library.programmes),
                name="retention"))
            if self.telegram is not None:
                await self.telegram.start()
                stack.push_async_callback(self.telegram.stop)
                self.coach_channels["telegram"] = TelegramCoachChannel(self.telegram.bot)
            # crisis replies that do not get through: once every coach channel is up, as it tells on another one
            tasks.append(asyncio.create_task(every(locks, UNDELIVERED, app.undelivered.tick, WATCH),
                                             name="undelivered"))
            stack.push_async_callback(self._stop, tasks)
            self.started = True
            yield

    async def _stop(self, tasks: list[asyncio.Task[None]]) -> None:
        if self.sms is not None:  # its sends in flight end and are recorded first (`Dispatcher.finish`)
            await self.sms.dispatcher.finish()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.app.loop.settle()
