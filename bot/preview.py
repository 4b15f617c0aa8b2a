"""`python -m bot programme preview`: the whole timeline one participant would see, before go-live.

It runs the real thing, not a description of it: a participant is enrolled in a throw-away database, a fake
clock jumps from one due event to the next, and the real scheduler and conversation loop produce the
messages, which are printed in order with their local date and time. The simulated participant never
answers, so the timeline shows every reminder and nudge a silent participant would get (the worst case).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

from bot.app import open_app
from bot.channels.base import as_plain_text
from bot.clock import FakeClock
from bot.scheduler import ProgrammeScheduler, schedule_programme
from flows.timing import local, wall
from storage.records import Enrollment, ScheduleStatus

MAX_STEPS = 5000  # a programme plans a few hundred events; more means it keeps re-planning itself


@dataclass(frozen=True)
class Line:
    at: datetime
    channel: str
    text: str


async def timeline(start: date, lang: str = "da", channel: str = "sms",
                   flows_dir: Path | None = None, programme_id: str | None = None) -> list[Line]:
    """`programme_id`: which of the deployment's programmes (default: the default one)."""
    with tempfile.TemporaryDirectory() as folder:
        return [line async for line in _simulate(Path(folder) / "preview.db", start, lang, channel, flows_dir,
                                                 programme_id)]


async def _simulate(db: Path, start: date, lang: str, channel: str, flows_dir: Path | None,
                    programme_id: str | None = None) -> AsyncIterator[Line]:
    clock = FakeClock(datetime.combine(start, time.min, tzinfo=UTC) - timedelta(days=1))
    async with open_app(str(db), clock=clock, flows_dir=flows_dir, coach_channels={}) as app:
        library = app.registry.library
        programme = library.programme_for(programme_id)
        if programme is None:
            choices = ", ".join(sorted(library.programmes))
            if not choices:
                raise SystemExit("no usable programme file: run `python -m bot flows check`")
            raise SystemExit(f"no usable programme {programme_id!r}: choose one of {choices}" if programme_id
                             else f"no default programme: name one with --programme ({choices})")
        participant = await app.storage.enroll(Enrollment("preview", "Preview", lang, start, programme=programme.id),
                                               clock.now())
        await schedule_programme(app.storage, programme, participant.id, start, clock.now())

        async def same_channel(_: object) -> str:
            return channel

        scheduler = ProgrammeScheduler(app.storage, app.loop, clock, same_channel)
        clock.set(wall(programme, start, time.min))
        for _ in range(MAX_STEPS):
            await scheduler.tick()
            for row in await app.storage.pending_outbox(channel, 1000):
                yield Line(local(programme, row.created_at), channel, as_plain_text(row.payload))
                await app.storage.mark_sent(row.id, clock.now())
            pending = [r.due_at for r in await app.storage.schedule_of(participant.id)  # expiry timers too
                       if r.status is ScheduleStatus.PENDING]
            upcoming = [m for m in pending if m > clock.now()] or pending
            if not upcoming:
                return
            clock.set(max(clock.now(), min(upcoming)))


def print_timeline(lines: list[Line], out: TextIO) -> None:
    out.write(f"{'date':<14} {'time':<5}  {'channel':<8}  message (as seen by a participant who never answers)\n")
    for line in lines:
        body = line.text.replace("\n", "\n" + " " * 32)
        out.write(f"{line.at:%a %d.%m.%Y} {line.at:%H:%M}  {line.channel:<8}  {body}\n")
    out.write(f"{len(lines)} messages\n")
