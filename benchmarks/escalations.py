"""From a risky message to the coach notification handed to the channel, under a load of ordinary answers.

    python benchmarks/escalations.py [--triggers N] [--background R]

N participants (default 1,000) each send one risky message ("jeg tænker på selvmord"), spread evenly over
20 seconds (50 a second: far more than any real programme), while other participants answer PSS-10 at
R answers/s (default 1,000) in the background the whole time. Each
trigger is timed from the moment the message is handed to the loop until a coach channel's `notify` is
called with that participant's alert, through the real loop (engine, word list, one SQLite transaction
with the escalation, then the notifier). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App, open_app
from bot.deployment import Coach
from bot.runtime import tune_runtime
from flows.inputs import StartFlow, Text
from storage.records import InboundRecord, Participant

RISKY = "jeg kan ikke mere, jeg tænker på selvmord"
ANSWERS = ["2", "3", "1", "Ret ofte", "0", "4", "2", "2", "1", "3"]
_WHO = re.compile(r"for deltager (\S+?),")


class TimingCoachChannel:
    """Notes when each participant's alert reaches the channel (the moment it would go to Telegram/SMS)."""

    name = "console"

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        found = _WHO.search(text)
        if found is not None:
            self.arrived.setdefault(found.group(1), time.perf_counter())


async def background(app: App, people: list[Participant], rate: float, stop: asyncio.Event) -> int:
    count = len(people)
    done = 0
    start = time.perf_counter()

    async def one(index: int) -> None:
        nonlocal done
        n = 0
        while not stop.is_set():  # PSS-10 after PSS-10 until the triggers are done
            due = start + (n * count + index) / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if stop.is_set():
                return
            if n and n % len(ANSWERS) == 0:
                await app.loop.handle(people[index], StartFlow("pss10"), "console")
            inbound = InboundRecord("console", f"bg-{index}-{n}", app.clock.now())
            await app.loop.handle(people[index], Text(ANSWERS[n % len(ANSWERS)]), "console", inbound)
            done += 1
            n += 1

    await asyncio.gather(*(one(i) for i in range(count)))
    return done


async def drive(db_path: str, triggers: int, rate: float) -> tuple[list[float], int, float]:
    channel = TimingCoachChannel()
    async with open_app(db_path, coach_channels={"console": channel}) as app:
        people = [await app.storage.get_or_create_participant(f"risk-{i}", "da", app.clock.now())
                  for i in range(triggers)]
        busy = [await app.storage.get_or_create_participant(f"bg-{i}", "da", app.clock.now())
                for i in range(max(100, int(rate)))]
        await asyncio.gather(*(app.loop.handle(p, StartFlow("pss10"), "console") for p in busy))
        stop = asyncio.Event()
        load = asyncio.create_task(background(app, busy, rate, stop))
        await asyncio.sleep(0.5)  # let the background load get going
        sent: dict[str, float] = {}
        start = time.perf_counter()
        spacing = 20.0 / triggers  # the triggers are spread over twenty seconds

        async def trigger(index: int) -> None:
            await asyncio.sleep(index * spacing)
            participant = people[index]
            sent[participant.ref] = time.perf_counter()
            inbound = InboundRecord("console", f"risk-{index}", app.clock.now())
            await app.loop.handle(participant, Text(RISKY), "console", inbound)

        await asyncio.gather(*(trigger(i) for i in range(triggers)))
        elapsed = time.perf_counter() - start
        stop.set()
        answered = await load
        escalations = await app.storage.escalations()
        if len(escalations) != triggers or len(channel.arrived) != triggers:
            raise SystemExit(f"expected {triggers} escalations and alerts, found {len(escalations)} and "
                             f"{len(channel.arrived)}")
    latencies = [channel.arrived[ref] - at for ref, at in sent.items()]
    return latencies, answered, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--background", type=float, default=1000.0, help="ordinary answers/s meanwhile")
    args = parser.parse_args()
    tune_runtime()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        latencies, answered, elapsed = asyncio.run(drive(str(Path(tmp) / "bench.db"), args.triggers, args.background))
    ordered = sorted(latencies)
    figures = {
        "triggers": len(ordered),
        "background_answers": answered,
        "background_answers_per_s_offered": args.background,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }
    print(f"triggers              {len(ordered)} risky messages over {elapsed:.1f} s")
    print(f"background            {answered} ordinary answers ({args.background:g}/s offered)")
    print(f"message -> coach      p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
          "   (target p99 <= 1,000 ms)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
