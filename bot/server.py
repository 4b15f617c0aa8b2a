"""`python -m bot run`: every configured channel, their webhooks on one ASGI server, and the watchers.

Channels are configured from the environment (secrets only from there): TWILIO_ACCOUNT_SID,
TWILIO_AUTH_TOKEN, TWILIO_FROM (a number or a messaging service SID), PUBLIC_BASE_URL (the address Twilio
calls; signatures are checked against it), optionally TWILIO_API_BASE_URL and SMS_SEGMENTS_PER_SECOND.
With no channel configured, the console chat runs instead (participant "demo").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

import uvicorn

from bot.app import open_app
from bot.channels.sms import SmsChannel, TwilioSender
from bot.rendering import Catalogs
from bot.web import create_web_app

log = logging.getLogger(__name__)


def sms_configured() -> bool:
    return all(os.environ.get(k) for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"))


async def run_server(db_path: str, host: str, port: int) -> int:
    if not sms_configured():
        print("No channel is configured (TWILIO_* variables); starting the console chat instead.", file=sys.stderr)
        from bot.cli import main

        return await asyncio.to_thread(main, ["chat", "--participant", "demo", "--db", db_path])
    public = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
    if not public:
        print("PUBLIC_BASE_URL is needed: Twilio signs requests for that address", file=sys.stderr)
        return 2
    async with open_app(db_path) as app:
        sender = TwilioSender(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"],
                              os.environ["TWILIO_FROM"], os.environ.get("TWILIO_API_BASE_URL") or None)
        sms = SmsChannel(app.storage, app.loop, sender, Catalogs(), app.clock, f"{public}/twilio/status",
                         float(os.environ.get("SMS_SEGMENTS_PER_SECOND", "10")))
        web = create_web_app(app.storage, sms, os.environ["TWILIO_AUTH_TOKEN"], public)
        server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="warning", lifespan="off"))
        await app.escalations.tick()
        background = [asyncio.create_task(sms.run(), name="sms"),
                      asyncio.create_task(app.escalations.watch(), name="escalations")]
        try:
            await server.serve()  # until SIGINT/SIGTERM
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.loop.settle()
            await sender.close()
    return 0
