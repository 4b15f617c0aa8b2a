"""A participant living through the programme: the real app, SQLite file, scheduler and loop, with a fake
clock that jumps from one due event to the next, so twelve weeks and the six-month wave take a second.

    world = await World.open(app, start=date(2026, 3, 16))
    await world.run_until(datetime(...))        # every due event up to then, in order
    world.timeline                               # [(local time, text)] of everything the bot wrote first
    await world.say("FÆRDIG 1")                  # the participant writes; returns the replies
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.app import App
from bot.channels.base import as_plain_text
from bot.scheduler import ProgrammeScheduler, TickReport, schedule_programme
from flows.inputs import Text
from flows.programme import Programme
from flows.timing import local, wall
from storage.records import Enrollment, Participant, ScheduleRow, ScheduleStatus

CHANNEL = "console"
Responder = Callable[[str, str], str | None]  # (flow id, question id) -> the participant's answer, or None


@dataclass
class World:
    app: App
    participant: Participant
    programme: Programme
    scheduler: ProgrammeScheduler
    timeline: list[tuple[datetime, str]] = field(default_factory=list)  # what the bot wrote first
    heard: list[str] = field(default_factory=list)  # everything the bot wrote, replies included
    reports: list[TickReport] = field(default_factory=list)
    responder: Responder | None = None  # answers the questionnaires the scheduler starts
    reachable: bool = True

    @classmethod
    async def open(cls, app: App, start: date, lang: str = "da", ref: str = "p-world",
                   coach: str | None = None) -> World:
        programme = app.registry.library.programme
        assert programme is not None, "the shipped programme must load"
        participant = await app.storage.enroll(Enrollment(ref, "Test Person", lang, start, coach), app.clock.now())
        await schedule_programme(app.storage, programme, participant.id, start, app.clock.now())
        world = cls(app, participant, programme, ProgrammeScheduler(app.storage, app.loop, app.clock, _never))

        async def channel_for(_: Participant) -> str | None:
            return CHANNEL if world.reachable else None

        world.scheduler.channel_for = channel_for
        return world

    @property
    def clock(self) -> object:
        return self.app.clock

    def now(self) -> datetime:
        return self.app.clock.now()

    def set_clock(self, moment: datetime) -> None:
        self.app.clock.set(moment)  # type: ignore[attr-defined]

    def local(self, moment: datetime) -> str:
        return local(self.programme, moment).strftime("%a %d.%m %H:%M")

    async def rows(self) -> list[ScheduleRow]:
        return await self.app.storage.schedule_of(self.participant.id)

    async def next_due(self) -> datetime | None:
        return min((r.due_at for r in await self.rows() if r.status is ScheduleStatus.PENDING), default=None)

    async def tick(self) -> list[str]:
        """One tick at the current time; returns (and records) what the bot wrote."""
        report = await self.scheduler.tick()
        self.reports.append(report)
        sent = await self._drain()
        for text in sent:
            self.timeline.append((self.now(), text))
        if sent:
            await self._respond()
        return sent

    async def run_until(self, moment: datetime) -> None:
        while (due := await self.next_due()) is not None and due <= moment:
            self.set_clock(max(self.now(), due))
            await self.tick()
        self.set_clock(max(self.now(), moment))

    async def say(self, text: str) -> list[str]:
        await self.app.loop.handle(self.participant, Text(text), CHANNEL)
        replies = await self._drain()
        return replies + await self._respond()

    async def _respond(self) -> list[str]:
        """The responder answers whatever question is open, 20 seconds per answer, until none is."""
        said: list[str] = []
        for _ in range(60):
            run = (await self.app.loop.state_of(self.participant)).run
            answer = self.responder(run.flow_id, run.step_id) if self.responder and run and not run.paused else None
            if answer is None:
                return said
            self.set_clock(self.now() + timedelta(seconds=20))
            await self.app.loop.handle(self.participant, Text(answer), CHANNEL)
            said += await self._drain()
        return said

    async def _drain(self) -> list[str]:
        rows = await self.app.storage.pending_outbox(CHANNEL, 1000)
        for row in rows:
            await self.app.storage.mark_sent(row.id, self.now())
        texts = [as_plain_text(row.payload) for row in rows]
        self.heard += texts
        return texts

    def lines(self, since: datetime | None = None) -> list[str]:
        """The timeline as "Mon 16.03 10:00 | first line of the message"."""
        return [f"{self.local(at)} | {text.splitlines()[0]}" for at, text in self.timeline
                if since is None or at >= since]

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return wall(self.programme, day, time(hour, minute))


async def _never(_: Participant) -> str | None:
    return None
