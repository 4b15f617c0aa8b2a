"""Crisis replies and coach alerts under load, by priority and first come first served, on Telegram and SMS.

    ./dev bench priority [--participants N] [--risky R] [--reminders M] [--no-baseline]

Telegram: N participants (default 200) answer PSS-10 over the webhook as fast as the bot asks (each answers its
next question the moment it reaches the fake Bot API; a finished PSS-10 starts again), at the shipped pacing (30
requests a second for the bot, one message a second a chat, python-telegram-bot driven by the real SDK against
tests/fakes/telegram.py). After a 10-second warm-up, R of them (default 20), one a second, write a risk statement.
SMS: M two-segment reminders (default 300) are queued for N participants; then R of them, one every two seconds,
text a risk statement through the signed Twilio webhook; the shipped pace of 10 segments a second, through the
twilio SDK to tests/fakes/twilio.py. The coach on duty is alerted on the same channel (Telegram chat, SMS).

Each risk statement is timed from the moment it is posted to the webhook until its crisis reply is handed to the
channel (the dispatcher gives the row to the channel, which then waits for the carrier's budget) and until it
reaches the fake carrier; the coach's alert likewise (handed to the coach channel; at the carrier). Targets: crisis
reply handed p99 <= 2 s, coach alert p99 <= 1 s. Each scenario runs twice in one process, so the noisy machine
affects both alike: as shipped (by priority) and as a FIFO baseline (every message at one priority and the
carrier's budget first come first served: the same dispatcher without priorities). The last line is one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

# run as a script, this folder comes first on sys.path, where benchmarks/telegram.py would shadow python-telegram-bot
sys.path.append(sys.path.pop(0))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App, open_app
from bot.channels.pacing import PriorityPacer
from bot.channels.sms import SmsChannel, SmsCoachChannel, TwilioSender
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel, TelegramCoachChannel
from bot.deployment import DEFAULT_PATH, Coach
from bot.escalation import CoachChannel
from bot.rendering import Catalogs
from bot.runtime import tune_runtime
from bot.web import create_web_app
from flows.inputs import StartFlow
from flows.state import State
from storage.records import AddressStatus, Enrollment, OutboundRecord, OutboxRow, Priority, StepRecord
from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.fakes.twilio import FakeTwilio, serve

RISKY = "jeg tænker på selvmord"
CRISIS = "Tak, fordi du fortæller mig det."
QUESTION = re.compile(r"^\(\d+/10\) ", re.MULTILINE)  # a question may end a joined reply
WHO = re.compile(r"for deltager (\S+?)[ ,]")  # the ref, then its name and phone number in brackets, or a comma
OUR_NUMBER = "+4570000000"
COACH_PHONE = "+4588888888"
COACH_CHAT = 777000
SECRET = "bench-secret"
REMINDER = "Påmindelse: dagens øvelse venter. " + "Sæt dig godt til rette, træk vejret roligt og mærk efter. " * 3


@dataclass
class Timings:
    """perf_counter() moments per participant ref."""

    posted: dict[str, float] = field(default_factory=dict)
    crisis_handed: dict[str, float] = field(default_factory=dict)
    crisis_arrived: dict[str, float] = field(default_factory=dict)
    alert_handed: dict[str, float] = field(default_factory=dict)
    alert_arrived: dict[str, float] = field(default_factory=dict)

    def done(self, refs: list[str]) -> bool:
        return all(ref in d for ref in refs for d in (self.crisis_arrived, self.alert_arrived))

    def figures(self, prefix: str) -> dict[str, float]:
        result: dict[str, float] = {}
        for name in ("crisis_handed", "crisis_arrived", "alert_handed", "alert_arrived"):
            moments: dict[str, float] = getattr(self, name)
            ordered = sorted(moments[ref] - at for ref, at in self.posted.items() if ref in moments)
            if not ordered:
                continue
            for label, q in (("p50", 0.5), ("p99", 0.99)):
                result[f"{prefix}_{name}_{label}_ms"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * q))]
                                                              * 1000, 1)
            result[f"{prefix}_{name}_max_ms"] = round(ordered[-1] * 1000, 1)
            result[f"{prefix}_{name}_count"] = len(ordered)
        return result


class TimedCoachChannel:
    """Notes when a participant's alert is handed to the coach channel, then hands it on."""

    def __init__(self, inner: CoachChannel, seen: dict[str, float]) -> None:
        self.inner, self.seen, self.name = inner, seen, inner.name

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        found = WHO.search(text)
        if found:
            self.seen.setdefault(found.group(1), time.perf_counter())
        await self.inner.notify(coach, text, address)


def deployment(tmp: Path, coach_channel: str) -> Path:
    """The shipped deployment without the consent block, the coach on duty alerted on `coach_channel`."""
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text[:text.index("consent:\n")] + text[text.index("escalation:\n"):]
    text = text.replace("    name: Coach (demo)\n    channels: [console]",
                        f'    name: Coach (demo)\n    channels: ["{coach_channel}"]')
    path = tmp / f"deployment-{coach_channel.partition(':')[0]}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def first_come_first_served(app: App, pacer: PriorityPacer) -> None:
    """The baseline: every outbox row at one priority, and the carrier's budget in order of asking."""
    commit = app.storage.commit_step

    async def one_priority(step: StepRecord) -> Any:
        return await commit(replace(step, outbox=[replace(o, priority=Priority.REPLY) for o in step.outbox]))

    take = pacer.take

    async def in_order(cost: float, priority: Priority = Priority.REPLY) -> None:
        await take(cost, Priority.REPLY)

    app.storage.commit_step = one_priority  # type: ignore[method-assign]
    pacer.take = in_order  # type: ignore[method-assign]


def crisis_hook(refs: dict[int, str], seen: dict[str, float]) -> Callable[[OutboxRow], None]:
    def handed(row: OutboxRow) -> None:
        if str(row.payload.get("text", "")).startswith(CRISIS):
            seen.setdefault(refs[row.participant_id], time.perf_counter())
    return handed


async def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# --- Telegram -------------------------------------------------------------------------------------------------


@dataclass
class Chatter:
    ref: str
    chat: int
    participant_id: int
    inbox: asyncio.Queue[BotMessage] = field(default_factory=asyncio.Queue)
    risky: bool = False


@contextlib.asynccontextmanager
async def telegram_bot(db: Path, tmp: Path, fake: FakeTelegram, timings: Timings
                       ) -> AsyncIterator[tuple[App, TelegramChannel, str]]:
    coach_channels: dict[str, CoachChannel] = {}
    async with open_app(str(db), coach_channels=coach_channels,
                        deployment_path=deployment(tmp, f"telegram:{COACH_CHAT}")) as app:
        channel = TelegramChannel(app.storage, app.loop, Catalogs(), app.clock, fake.token, base_url=fake.base_url,
                                  webhook_url="http://placeholder" + WEBHOOK_PATH, webhook_secret=SECRET)
        coach_channels["telegram"] = TimedCoachChannel(TelegramCoachChannel(channel.bot),
                                                       timings.alert_handed)
        web = create_web_app(app.storage, extra_routes={WEBHOOK_PATH: channel.webhook})
        async with serve(web) as url:
            channel.webhook_url = url + WEBHOOK_PATH
            try:
                yield app, channel, url + WEBHOOK_PATH
            finally:
                await app.loop.settle()  # alerts still being sent finish before the bot stops
                await channel.stop()


async def telegram_run(tmp: Path, args: argparse.Namespace, fifo: bool) -> tuple[Timings, int]:
    timings = Timings()
    updates = itertools.count(1_000_000)
    async with FakeTelegram() as fake, telegram_bot(tmp / f"tg-{fifo}.db", tmp, fake, timings) as (app, channel, url):
        people: dict[int, Chatter] = {}
        for i in range(args.participants):
            participant = await app.storage.enroll(Enrollment(f"t-{i:03d}", "T", "da"), app.clock.now())
            await app.storage.set_address(participant.id, "telegram", str(600_000 + i), AddressStatus.ACTIVE,
                                          app.clock.now())
            people[600_000 + i] = Chatter(participant.ref, 600_000 + i, participant.id)
        refs = {p.participant_id: p.ref for p in people.values()}
        channel.dispatcher.on_handed = crisis_hook(refs, timings.crisis_handed)
        if fifo:
            first_come_first_served(app, channel.pacer)

        def arrived(message: BotMessage) -> None:
            now = time.perf_counter()
            if message.chat_id == COACH_CHAT:
                found = WHO.search(message.text)
                if found:
                    timings.alert_arrived.setdefault(found.group(1), now)
            elif message.chat_id in people:
                person = people[message.chat_id]
                if message.text.startswith(CRISIS):
                    timings.crisis_arrived.setdefault(person.ref, now)
                person.inbox.put_nowait(message)

        fake.listeners.append(arrived)
        await channel.start()
        answers = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
            async def post(person: Chatter, text: str) -> None:
                number = next(updates)
                update = {"update_id": number, "message": {
                    "message_id": number, "date": int(time.time()), "text": text,
                    "chat": {"id": person.chat, "type": "private", "first_name": "T"},
                    "from": {"id": person.chat, "is_bot": False, "first_name": "T", "language_code": "da"}}}
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                async with http.post(url, json=update, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"webhook answered {response.status}")

            async def answer(person: Chatter) -> None:
                nonlocal answers
                participant = await app.storage.participant_by_address("telegram", str(person.chat))
                assert participant is not None
                while True:
                    message = await person.inbox.get()
                    if person.risky:
                        continue
                    if QUESTION.search(message.text):
                        await post(person, "2")
                        answers += 1
                    elif "Din score er" in message.text:
                        await app.loop.handle(participant, StartFlow("pss10"), "telegram")

            async def write_risk(person: Chatter, at: float) -> None:
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                person.risky = True
                timings.posted[person.ref] = time.perf_counter()
                await post(person, RISKY)

            chatters = list(people.values())
            for person in chatters:  # the wave opens for everyone at once (scheduled: ROUTINE)
                participant = await app.storage.participant_by_address("telegram", str(person.chat))
                assert participant is not None
                await app.loop.handle(participant, StartFlow("pss10"), "telegram")
            start = time.perf_counter()
            risky = chatters[::max(1, len(chatters) // args.risky)][:args.risky]
            tasks = [asyncio.create_task(answer(p)) for p in chatters]
            tasks += [asyncio.create_task(write_risk(p, start + 10 + i)) for i, p in enumerate(risky)]
            finished = await wait_until(lambda: timings.done([p.ref for p in risky]), timeout=10 + args.risky + 300)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not finished:
                print(f"telegram {'FIFO' if fifo else 'priority'}: not every crisis reply and alert arrived in time",
                      file=sys.stderr)
    return timings, answers


# --- SMS ------------------------------------------------------------------------------------------------------


async def sms_run(tmp: Path, args: argparse.Namespace, fifo: bool) -> tuple[Timings, int]:
    timings = Timings()
    coach_channels: dict[str, CoachChannel] = {}
    async with FakeTwilio() as fake, open_app(str(tmp / f"sms-{fifo}.db"), coach_channels=coach_channels,
                                              deployment_path=deployment(tmp, f"sms:{COACH_PHONE}")) as app:
        sender = TwilioSender(fake.account_sid, fake.auth_token, OUR_NUMBER, api_base_url=fake.url)
        channel = SmsChannel(app.storage, app.loop, sender, Catalogs(), app.clock, None)  # shipped: 10 segments/s
        coach_channels["sms"] = TimedCoachChannel(SmsCoachChannel(sender, channel.pacer), timings.alert_handed)
        phones: dict[str, str] = {}
        refs: dict[int, str] = {}
        for i in range(args.participants):
            phone = f"+4530{i:06d}"
            participant = await app.storage.enroll(Enrollment(f"s-{i:03d}", "S", "da", phone=phone), app.clock.now())
            phones[phone], refs[participant.id] = participant.ref, participant.ref
        if fifo:
            first_come_first_served(app, channel.pacer)
        ids = list(refs)
        for offset in range(len(ids)):  # the reminders, round robin over the participants, as scheduled (ROUTINE)
            mine = range(offset, args.reminders, len(ids))
            if not mine:
                break
            now = app.clock.now()
            outbox = [OutboundRecord("sms", {"text": f"{REMINDER}({n})"}, now, Priority.ROUTINE) for n in mine]
            await app.storage.commit_step(StepRecord(ids[offset], 0, State(lang="da").to_json(), now, outbox=outbox))
        channel.dispatcher.on_handed = crisis_hook(refs, timings.crisis_handed)

        def arrived(message: dict[str, Any]) -> None:
            now = time.perf_counter()
            if message["to"] == COACH_PHONE:
                found = WHO.search(message["body"])
                if found:
                    timings.alert_arrived.setdefault(found.group(1), now)
            elif message["body"].startswith(CRISIS):
                timings.crisis_arrived.setdefault(phones[message["to"]], now)

        fake.listeners.append(arrived)
        web = create_web_app(app.storage, channel, fake.auth_token, public_base_url="")
        dispatcher = asyncio.create_task(channel.run())
        try:
            async with serve(web) as url, aiohttp.ClientSession() as http:
                web.state.public_base_url = url

                async def write_risk(phone: str, at: float) -> None:
                    await asyncio.sleep(max(0.0, at - time.perf_counter()))
                    headers, form = fake.signed_inbound(f"{url}/twilio/sms", From=phone, To=OUR_NUMBER, Body=RISKY)
                    timings.posted[phones[phone]] = time.perf_counter()
                    async with http.post(f"{url}/twilio/sms", data=form, headers=headers) as response:
                        await response.read()

                start = time.perf_counter()
                risky = list(phones)[::max(1, len(phones) // args.risky)][:args.risky]
                await asyncio.gather(*(write_risk(p, start + 2 + 2 * i) for i, p in enumerate(risky)))
                finished = await wait_until(lambda: timings.done([phones[p] for p in risky]), timeout=600)
                if not finished:
                    print(f"sms {'FIFO' if fifo else 'priority'}: not every crisis reply and alert arrived in time",
                          file=sys.stderr)
                waiting = len(await app.storage.pending_outbox("sms", 10_000, now=app.clock.now()))
        finally:
            dispatcher.cancel()
            await asyncio.gather(dispatcher, return_exceptions=True)
            await app.loop.settle()
            await sender.close()
    return timings, waiting


# --- report ---------------------------------------------------------------------------------------------------


def line(label: str, figures: dict[str, float], prefix: str, carrier: str) -> str:
    def three(name: str) -> str:
        keys = [f"{prefix}_{name}_{q}_ms" for q in ("p50", "p99", "max")]
        if not all(k in figures for k in keys):
            return "n/a"
        return "/".join(f"{figures[k]:,.0f}" for k in keys)

    return (f"{label:<26} crisis reply handed {three('crisis_handed')}, at {carrier} {three('crisis_arrived')}; "
            f"coach alert handed {three('alert_handed')}, at {carrier} {three('alert_arrived')}   (p50/p99/max ms)")


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {"participants": args.participants, "risky": args.risky,
                                 "sms_reminders": args.reminders}
    modes = [False, True] if args.baseline else [False]
    with tempfile.TemporaryDirectory(prefix="bench-priority-") as tmp:
        for fifo in modes:
            timings, answers = await telegram_run(Path(tmp), args, fifo)
            prefix = "telegram_fifo" if fifo else "telegram"
            figures.update(timings.figures(prefix))
            figures[f"{prefix}_background_answers"] = answers
            print(line("telegram, FIFO baseline" if fifo else "telegram, by priority", figures, prefix, "Bot API"),
                  flush=True)
        for fifo in modes:
            timings, waiting = await sms_run(Path(tmp), args, fifo)
            prefix = "sms_fifo" if fifo else "sms"
            figures.update(timings.figures(prefix))
            figures[f"{prefix}_still_queued_at_the_end"] = waiting
            print(line("sms, FIFO baseline" if fifo else "sms, by priority", figures, prefix, "Twilio"), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--risky", type=int, default=20, help="participants who write a risk statement")
    parser.add_argument("--reminders", type=int, default=300, help="two-segment SMS reminders queued first")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the FIFO runs")
    args = parser.parse_args()
    tune_runtime()
    logging.getLogger("storage.crypto").setLevel(logging.ERROR)  # the development key file warning, per database
    figures = asyncio.run(main_async(args))
    print("targets: crisis reply handed to the channel p99 <= 2,000 ms; coach alert p99 <= 1,000 ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
