"""A cohort living through a programme together: the real app, enrolment, SQLite file, scheduler and loop, with a
fake clock that jumps from one due event to the next (of anyone in it). tests/programme_world.py is the same for one
person; this one is for what a cohort shares, such as its group sessions.

    world = CohortWorld(app, programme)
    anna = await world.enrol("Anna", date(2026, 3, 16), "gentofte-1")
    await world.run_until(moment)                 # everyone's due events up to then, in order
    world.lines(anna, "Gruppemødet")              # ["Sun 15.03 09:00 | Påmindelse: Gruppemødet er ..."]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from bot.app import App
from bot.channels.base import as_plain_text
from bot.enroll import EnrolmentRequest, Invite, enrol
from bot.scheduler import ProgrammeScheduler
from flows.inputs import Text
from flows.programme import Programme
from flows.timing import local, wall
from storage.records import Participant, ScheduleStatus

CHANNEL = "console"


@dataclass
class CohortWorld:
    app: App
    programme: Programme
    scheduler: ProgrammeScheduler = field(init=False)
    people: list[Participant] = field(default_factory=list)
    invites: list[Invite] = field(default_factory=list)
    timeline: dict[int, list[tuple[datetime, str]]] = field(default_factory=dict)  # what the bot wrote first

    def __post_init__(self) -> None:
        async def console(_: Participant) -> str | None:
            return CHANNEL

        self.scheduler = ProgrammeScheduler(self.app.storage, self.app.loop, self.app.clock, console)

    def now(self) -> datetime:
        return self.app.clock.now()

    def set_clock(self, moment: datetime) -> None:
        self.app.clock.set(moment)  # type: ignore[attr-defined]

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return wall(self.programme, day, time(hour, minute))

    def local(self, moment: datetime) -> str:
        return local(self.programme, moment).strftime("%a %d.%m %H:%M")

    async def enrol(self, name: str, start: date | None, cohort: str, lang: str = "da",
                    coach: str = "coach") -> Participant:
        phone = f"2000{len(self.people) + 1:04d}"
        invite = await enrol(self.app.storage, EnrolmentRequest(name, phone, lang=lang, start_date=start, coach=coach,
                                                                cohort=cohort),
                             self.app.deployment.coaches, self.now(), "", self.programme, actor="admin:test")
        self.people.append(invite.participant)
        self.invites.append(invite)
        self.timeline[invite.participant.id] = []
        return invite.participant

    async def next_due(self) -> datetime | None:
        rows = [r for p in self.people for r in await self.app.storage.schedule_of(p.id)]
        return min((r.due_at for r in rows if r.status is ScheduleStatus.PENDING), default=None)

    async def tick(self) -> None:
        await self.scheduler.tick()
        for row in await self.app.storage.pending_outbox(CHANNEL, 1000):
            await self.app.storage.mark_sent(row.id, self.now())
            self.timeline.setdefault(row.participant_id, []).append((self.now(), as_plain_text(row.payload)))

    async def run_until(self, moment: datetime) -> None:
        while (due := await self.next_due()) is not None and due <= moment:
            self.set_clock(max(self.now(), due))
            await self.tick()
        self.set_clock(max(self.now(), moment))

    async def say(self, person: Participant, text: str) -> list[str]:
        await self.app.loop.handle(person, Text(text), CHANNEL)
        rows = await self.app.storage.pending_outbox(CHANNEL, 1000)
        for row in rows:
            await self.app.storage.mark_sent(row.id, self.now())
        return [as_plain_text(row.payload) for row in rows if row.participant_id == person.id]

    def lines(self, person: Participant, *containing: str, since: datetime | None = None) -> list[str]:
        """What the bot wrote to the person first, as "Sun 15.03 09:00 | first line", only messages containing one
        of `containing` when given."""
        return [f"{self.local(at)} | {text.splitlines()[0]}" for at, text in self.timeline[person.id]
                if (not containing or any(c in text for c in containing)) and (since is None or at >= since)]

    def texts(self, person: Participant, containing: str) -> Sequence[str]:
        return [text for _, text in self.timeline[person.id] if containing in text]
