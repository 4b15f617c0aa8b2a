"""Inbound SMS and Telegram webhooks per second through the ASGI app into the loop, and outbound pacing.

    python benchmarks/webhooks.py [--participants N] [--requests R] [--rate S] [--pacing-seconds T]

Inbound: R signed Twilio webhook POSTs (default 5,000) from N enrolled participants (default 500), sent
over HTTP by 50 concurrent clients to the app served by uvicorn; each is verified, deduplicated and committed
with its conversation step before the 200. The same for R Telegram updates (secret token checked,
update_id deduplicated) to the Telegram channel in webhook mode, its replies going to the fake
Bot API server. Prints requests/s and latency percentiles for each.

Outbound: a backlog of single-segment messages is sent for T seconds (default 60) by the SMS dispatcher
paced at S segments/s (default 10), through the real twilio SDK to the fake Twilio on localhost; prints the
rate achieved against the rate configured. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

# run as a script, this folder comes first on sys.path, where benchmarks/telegram.py would shadow python-telegram-bot
sys.path.append(sys.path.pop(0))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import open_app
from bot.channels.sms import SmsChannel, TwilioSender
from bot.rendering import Catalogs
from bot.runtime import tune_runtime
from bot.web import create_web_app
from flows.inputs import StartFlow
from storage.records import AddressStatus, Enrollment, OutboundRecord, StepRecord
from tests.fakes.twilio import FakeTwilio, serve

OUR_NUMBER = "+4570000000"


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def inbound(app_url: str, fake: FakeTwilio, phones: list[str], requests: int) -> tuple[list[float], float]:
    forms = [fake.signed_inbound(f"{app_url}/twilio/sms", From=phones[i % len(phones)], To=OUR_NUMBER,
                                 Body=str(i % 5)) for i in range(requests)]
    return await post_all(f"{app_url}/twilio/sms", [(headers, form, None) for headers, form in forms])


async def post_all(url: str, requests: list[tuple[dict[str, str], dict[str, str] | None, object]]
                   ) -> tuple[list[float], float]:
    """POST every (headers, form, json) with 50 concurrent clients; the latency of each, and the time taken."""
    latencies: list[float] = []
    queue = list(range(len(requests)))
    # aiohttp as the load generator: httpx's connection pool costs more CPU than the app under test here
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as http:
        async def worker() -> None:
            while queue:
                headers, form, body = requests[queue.pop()]
                t0 = time.perf_counter()
                async with http.post(url, data=form, json=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - t0)
                if response.status != 200:
                    raise SystemExit(f"webhook answered {response.status}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(50)))
        return latencies, time.perf_counter() - start


async def telegram_phase(db: Path, args: argparse.Namespace) -> tuple[list[float], float]:
    from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
    from tests.fakes.telegram import FakeTelegram

    secret = "bench-secret"
    async with FakeTelegram() as fake, open_app(str(db), coach_channels={}) as app:
        chats = [100000 + i for i in range(args.participants)]
        for chat in chats:
            participant = await app.storage.enroll(Enrollment(f"t-{chat}", "T", "da"), app.clock.now())
            await app.storage.set_address(participant.id, "telegram", str(chat), AddressStatus.ACTIVE,
                                          app.clock.now())
            await app.loop.handle(participant, StartFlow("who5"), "telegram")
        channel = TelegramChannel(app.storage, app.loop, Catalogs(), app.clock, fake.token, base_url=fake.base_url,
                                  webhook_url="http://placeholder" + WEBHOOK_PATH, webhook_secret=secret,
                                  per_chat_interval=0.0)
        web = create_web_app(app.storage, extra_routes={WEBHOOK_PATH: channel.webhook})
        async with serve(web) as url:
            channel.webhook_url = url + WEBHOOK_PATH
            await channel.start()
            try:
                updates = [{"update_id": 1_000_000 + i, "message": {
                    "message_id": i + 1, "date": int(time.time()), "text": str(i % 5),
                    "chat": {"id": chats[i % len(chats)], "type": "private", "first_name": "T"},
                    "from": {"id": chats[i % len(chats)], "is_bot": False, "first_name": "T", "language_code": "da"},
                }} for i in range(args.requests)]
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                return await post_all(url + WEBHOOK_PATH, [(headers, None, u) for u in updates])
            finally:
                await channel.stop()


async def pacing(app_db: str, fake: FakeTwilio, rate: float, seconds: float) -> tuple[int, float]:
    async with open_app(app_db, coach_channels={}) as app:
        participant = await app.storage.enroll(Enrollment("p-pace", "Pace", "da", phone="+4511111111"),
                                               app.clock.now())
        backlog = int(rate * seconds * 1.5) + 10
        now = app.clock.now()
        step = StepRecord(participant.id, 0, {}, now,
                          outbox=[OutboundRecord("sms", {"text": f"besked {i}"}, now) for i in range(backlog)])
        await app.storage.commit_step(step)
        sender = TwilioSender(fake.account_sid, fake.auth_token, OUR_NUMBER, api_base_url=fake.url)
        channel = SmsChannel(app.storage, app.loop, sender, Catalogs(), app.clock, None, segments_per_second=rate)
        before = len(fake.sent)
        task = asyncio.create_task(channel.run())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()
        sent = fake.sent[before:]
        span = sent[-1]["at"] - sent[0]["at"] if len(sent) > 1 else seconds
        return len(sent), (len(sent) - 1) / span if span else 0.0


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        async with FakeTwilio() as fake:
            latencies, elapsed = await inbound_phase(Path(tmp) / "bot.db", fake, args)
            tg_latencies, tg_elapsed = await telegram_phase(Path(tmp) / "telegram.db", args)
            sent, achieved = await pacing(str(Path(tmp) / "pace.db"), fake, args.rate, args.pacing_seconds) \
                if args.pacing_seconds > 0 else (0, 0.0)
    ordered = sorted(latencies)
    return {
        "webhook_requests": len(ordered),
        "webhook_requests_per_s": round(len(ordered) / elapsed, 1),
        "webhook_p50_ms": round(percentile(ordered, 0.5), 2),
        "webhook_p99_ms": round(percentile(ordered, 0.99), 2),
        "telegram_requests_per_s": round(len(tg_latencies) / tg_elapsed, 1),
        "telegram_p50_ms": round(percentile(sorted(tg_latencies), 0.5), 2),
        "telegram_p99_ms": round(percentile(sorted(tg_latencies), 0.99), 2),
        "pacing_configured_per_s": args.rate,
        "pacing_achieved_per_s": round(achieved, 3),
        "pacing_messages": sent,
        "pacing_seconds": args.pacing_seconds,
    }


async def inbound_phase(db: Path, fake: FakeTwilio, args: argparse.Namespace) -> tuple[list[float], float]:
    async with open_app(str(db), coach_channels={}) as app:
        phones = [f"+45{20000000 + i}" for i in range(args.participants)]
        for i, phone in enumerate(phones):
            participant = await app.storage.enroll(Enrollment(f"p-{i}", f"P {i}", "da", phone=phone),
                                                   app.clock.now())
            await app.loop.handle(participant, StartFlow("who5"), "sms")
        sender = TwilioSender(fake.account_sid, fake.auth_token, OUR_NUMBER, api_base_url=fake.url)
        channel = SmsChannel(app.storage, app.loop, sender, Catalogs(), app.clock, None)
        web = create_web_app(app.storage, channel, fake.auth_token)
        async with serve(web) as url:
            web.state.public_base_url = url
            latencies, elapsed = await inbound(url, fake, phones, args.requests)
        await sender.close()
    return latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=10.0, help="SMS segments/s to pace at")
    parser.add_argument("--pacing-seconds", type=float, default=60.0)
    args = parser.parse_args()
    tune_runtime()
    figures = asyncio.run(main_async(args))
    print(f"inbound SMS webhooks   {figures['webhook_requests']} in total, {figures['webhook_requests_per_s']}/s, "
          f"p50 {figures['webhook_p50_ms']} ms, p99 {figures['webhook_p99_ms']} ms (50 concurrent clients)")
    print(f"inbound Telegram       {figures['telegram_requests_per_s']}/s, p50 {figures['telegram_p50_ms']} ms, "
          f"p99 {figures['telegram_p99_ms']} ms (50 concurrent clients)")
    print(f"outbound pacing        {figures['pacing_achieved_per_s']}/s achieved, {args.rate:g}/s configured, "
          f"{figures['pacing_messages']} messages in {args.pacing_seconds:g} s of backlog")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
