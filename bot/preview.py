"""The programme through time on a scratch database: `programme preview`, the desk's timeline, and the simulator.

It runs the real thing, not a description of it: a participant is enrolled in a throw-away SQLite file (in a
temporary folder, with keys made for it and dropped with it), a fake clock jumps from one due event to the next, and
the real scheduler (`ProgrammeScheduler.tick`) and conversation loop produce the messages. Nothing here can reach a
live database, a channel or a coach: the messages stay in the scratch outbox until they are read back here, and no
coach channel or escalation listener is attached.

`timeline` is the silent participant's timeline (the worst case: every reminder and nudge, no questionnaire past
its first question); `bot/simulator.py` drives the same `Scratch` with answers. Each message is labelled with what
made the bot write it (a module release, a wave, a reminder...), read from the input that produced its outbox row.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.channels.base import as_plain_text
from bot.clock import FakeClock
from bot.conversation import ConversationLoop, Handled
from bot.deployment import Deployment, load_deployment
from bot.flowregistry import DEFAULT_FLOWS_DIR, FlowRegistry
from bot.rendering import Catalogs
from bot.scheduler import ProgrammeScheduler, schedule_programme
from flows.effects import Phrase
from flows.inputs import Due, Input, RequireConsent, TimerFired
from flows.model import FlowLibrary
from flows.programme import Programme
from flows.timing import local, wall
from storage import open_storage
from storage.crypto import Keys
from storage.ports import Storage
from storage.records import Enrollment, InboundRecord, Participant, Priority

MAX_STEPS = 5000  # a programme plans a few hundred events; more means it keeps re-planning itself
REPLY = "reply"  # what the bot answers to what the participant wrote
ENROLMENT = "enrolment"  # the invite and the terms, at enrolment
EXPIRY = "expiry"  # a questionnaire left unanswered too long is closed
SHARED_MEMORY = "/dev/shm"
_OPENING = threading.Lock()


@dataclass(frozen=True)
class Line:
    """One message the participant gets, at its local time, with what made the bot write it."""

    at: datetime  # local (the programme's time zone)
    channel: str
    text: str
    kind: str = REPLY  # a schedule kind (flows.programme.Kind: module, nudge, wave_open, ...), REPLY, ENROLMENT, EXPIRY
    about: str = ""  # the module's number, the wave's id, the check-in's number
    day: int = 0  # days since the start date (day 0)
    urgent: bool = False  # crisis contacts: sent before anything else, even to an opted-out address
    choices: tuple[tuple[str, str], ...] = ()  # a question's answers offered: (what to write, its label)


def next_monday(today: date) -> date:
    """The default start of a preview or simulation: the Monday after `today` (a week on, when today is one)."""
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def about_of(data: Mapping[str, Any]) -> str:
    """What a scheduled event is about (its module, wave or number), for a line or a list of what is coming."""
    return next((str(data[k]) for k in ("module", "wave", "n") if k in data), "")


def origin(inp: Input) -> tuple[str, str]:
    """What an input that no participant wrote is, as a line's (kind, about): a scheduled event, a timer, the
    enrolment's terms, or (a coach's release) an answer to something."""
    if isinstance(inp, Due):
        return inp.kind, about_of(inp.data)
    if isinstance(inp, TimerFired):
        return EXPIRY, ""
    return (ENROLMENT, "") if isinstance(inp, RequireConsent) else (REPLY, "")


class WatchedLoop(ConversationLoop):
    """The real conversation loop, which also remembers which scheduled event (or enrolment) wrote which outbox row:
    the scheduler hands every event to `handle`, whose `Handled` names the rows the step committed."""

    def __init__(self, storage: Storage, registry: FlowRegistry, catalogs: Catalogs, clock: FakeClock,
                 deployment: Deployment) -> None:
        super().__init__(storage, registry, catalogs, clock, deployment)
        self.origins: dict[int, tuple[str, str]] = {}

    async def handle(self, participant: Participant, inp: Input, channel: str, inbound: InboundRecord | None = None,
                     *, notice: str | Phrase | None = None, schedule_id: int | None = None) -> Handled:
        handled = await super().handle(participant, inp, channel, inbound, notice=notice, schedule_id=schedule_id)
        for outbox_id in handled.outbox_ids:
            self.origins[outbox_id] = origin(inp)
        return handled


class Scratch:
    """One participant in a throw-away database, under a fake clock that only this code moves.

    Awake, it has its storage open, with the real conversation loop and scheduler on it. Asleep (`sleep`), only its
    files and its clock are left: nothing runs between two of an administrator's clicks in the desk, so nothing is
    left running when the desk stops. `remove` deletes the files; they are also deleted when the process ends."""

    def __init__(self, folder: Path, keys: Keys, library: FlowLibrary, programme: Programme, deployment: Deployment,
                 catalogs: Catalogs, clock: FakeClock, start: date, channel: str) -> None:
        self.folder = folder
        self.library = replace(library, programme=programme)
        self.programme = programme
        self.deployment = deployment
        self.catalogs = catalogs
        self.clock = clock
        self.start = start
        self.channel = channel
        self.keys = keys  # made for this database, gone with it
        self.participant = Participant(0, "simulated", "da", clock.now())  # until `enrol`
        self._storage: Storage | None = None
        self._loop: WatchedLoop | None = None
        self._scheduler: ProgrammeScheduler | None = None
        self._removing = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise RuntimeError("the scratch database is asleep: wake it first")
        return self._storage

    @property
    def loop(self) -> WatchedLoop:
        if self._loop is None:
            raise RuntimeError("the scratch database is asleep: wake it first")
        return self._loop

    @property
    def scheduler(self) -> ProgrammeScheduler:
        if self._scheduler is None:
            raise RuntimeError("the scratch database is asleep: wake it first")
        return self._scheduler

    @property
    def awake(self) -> bool:
        return self._storage is not None

    async def wake(self) -> None:
        """Open the storage again, with a new loop and scheduler on it (the conversation is read back from it)."""
        if self._storage is not None:
            return
        storage = await open_scratch_storage(self.folder / "scratch.db", self.keys)
        self.attach(storage)

    def attach(self, storage: Storage) -> None:
        channel = self.channel

        async def same_channel(_: object) -> str:
            return channel

        self._storage = storage
        self._loop = WatchedLoop(storage, FlowRegistry(storage, self.library), self.catalogs, self.clock,
                                 self.deployment)
        self._scheduler = ProgrammeScheduler(storage, self._loop, self.clock, same_channel)

    async def sleep(self) -> None:
        """Close the storage; the files and the clock stay."""
        storage, self._storage, self._loop, self._scheduler = self._storage, None, None, None
        if storage is not None:
            await storage.close()

    async def remove(self) -> None:
        await self.sleep()
        self._removing()

    async def enrol(self, lang: str, at: time) -> None:
        """The participant, enrolled on day 0 at local time `at`, with the programme planned from the start date."""
        self.clock.set(wall(self.programme, self.start, at))
        self.participant = await self.storage.enroll(
            Enrollment("simulated", "Simulated participant", lang, self.start, programme=self.programme.id),
            self.clock.now())
        await schedule_programme(self.storage, self.programme, self.participant.id, self.start, self.clock.now())

    def day(self, moment: datetime) -> int:
        return (local(self.programme, moment).date() - self.start).days

    def moment(self, day: int, at: time) -> datetime:
        """The UTC instant of day `day` (0 = the start date) at local time `at`."""
        return wall(self.programme, self.start + timedelta(days=day), at)

    async def next_due(self) -> datetime | None:
        """When the next pending schedule row (an expiry timer too) is due; one already due counts as now."""
        now = self.clock.now()
        due = await self.storage.next_pending_due(self.participant.id, now)
        return None if due is None else max(now, due)

    async def tick(self) -> list[Line]:
        """Everything due now, through the real scheduler; the messages it made."""
        report = await self.scheduler.tick()
        return await self.drain() if report.handled or report.timers or report.failed else []

    async def drain(self) -> list[Line]:
        """The messages written since the last look, in the order a channel sends them; marked sent (no channel)."""
        lines = []
        rows = await self.storage.pending_outbox(self.channel, 1000)
        for row in rows:
            kind, about = self.loop.origins.pop(row.id, (REPLY, ""))
            prompt = row.payload.get("prompt") or {}
            choices = tuple((str(c["answer"]), str(c["label"])) for c in prompt.get("choices") or ())
            lines.append(Line(local(self.programme, row.created_at), self.channel, as_plain_text(row.payload), kind,
                              about, self.day(row.created_at), row.priority is Priority.URGENT, choices))
        # together: the storage's writer commits them as one transaction
        await asyncio.gather(*(self.storage.mark_sent(row.id, self.clock.now()) for row in rows))
        return lines


async def open_scratch_storage(path: Path, keys: Keys) -> Storage:
    """`open_storage`, one at a time in this process: its schema upgrade runs Alembic in a thread, and Alembic's
    migration context is global (two upgrades at once, e.g. a timeline's two languages, break each other)."""
    while not _OPENING.acquire(blocking=False):  # polled: a cancelled wait leaves the lock as it was
        await asyncio.sleep(0.005)
    try:
        return await open_storage(path, keys=keys)
    finally:
        _OPENING.release()


def scratch_folder() -> str | None:
    """Where scratch databases go: memory (/dev/shm) where there is one, so each commit's fsync costs nothing (a
    scratch file is thrown away; durability buys nothing here); else the system's temporary folder."""
    return SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) and os.access(SHARED_MEMORY, os.W_OK) else None


async def new_scratch(start: date, lang: str = "da", channel: str = "sms", *, enrol_at: time | None = time.min,
                      programme: Programme | None = None, library: FlowLibrary | None = None,
                      flows_dir: Path | None = None, deployment: Deployment | None = None,
                      catalogs: Catalogs | None = None, programme_id: str | None = None) -> Scratch:
    """A participant enrolled on day 0 at `enrol_at` (local; None: an hour before the programme's send time, as an
    administrator enrolling in the morning) with `programme` planned, in a folder of its own; awake.
    `library`: the running bot's flows (the desk); without it they are read from `flows_dir`. `programme`: the
    programme to try (default: the library's `programme_id`, or its default programme)."""
    deployment = deployment or load_deployment()
    clock = FakeClock(datetime.combine(start, time.min, tzinfo=UTC) - timedelta(days=1))
    folder = Path(tempfile.mkdtemp(prefix="stressbot-scratch-", dir=scratch_folder()))
    keys = Keys.generate("scratch")  # made for this database, gone with it
    try:
        storage = await open_scratch_storage(folder / "scratch.db", keys)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        if library is None:
            registry = await FlowRegistry.load(storage, clock.now(), flows_dir or DEFAULT_FLOWS_DIR)
            library = replace(registry.library, consent=deployment.consent)
        programme = programme or chosen(library, programme_id)
        scratch = Scratch(folder, keys, library, programme, deployment, catalogs or Catalogs(), clock, start, channel)
    except BaseException:
        await storage.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    scratch.attach(storage)
    if enrol_at is None:
        send = programme.send_time
        enrol_at = send.replace(hour=send.hour - 1) if send.hour >= 1 else time.min
    try:
        await scratch.enrol(lang, enrol_at)
    except BaseException:
        await scratch.remove()
        raise
    return scratch


def chosen(library: FlowLibrary, programme_id: str | None) -> Programme:
    """The deployment's programme of that id (None: the default one), or the command's one-line refusal."""
    programme = library.programme_for(programme_id)
    if programme is not None:
        return programme
    choices = ", ".join(sorted(library.programmes))
    if not choices:
        raise SystemExit("no usable programme file: run `python -m bot flows check`")
    raise SystemExit(f"no usable programme {programme_id!r}: choose one of {choices}" if programme_id
                     else f"no default programme: name one with --programme ({choices})")


@asynccontextmanager
async def open_scratch(start: date, lang: str = "da", channel: str = "sms", *, enrol_at: time | None = time.min,
                       programme: Programme | None = None, library: FlowLibrary | None = None,
                       flows_dir: Path | None = None, deployment: Deployment | None = None,
                       catalogs: Catalogs | None = None, programme_id: str | None = None) -> AsyncIterator[Scratch]:
    """`new_scratch`, removed afterwards."""
    scratch = await new_scratch(start, lang, channel, enrol_at=enrol_at, programme=programme, library=library,
                                flows_dir=flows_dir, deployment=deployment, catalogs=catalogs,
                                programme_id=programme_id)
    try:
        yield scratch
    finally:
        await scratch.remove()


async def timeline(start: date, lang: str = "da", channel: str = "sms", flows_dir: Path | None = None, *,
                   programme: Programme | None = None, library: FlowLibrary | None = None,
                   deployment: Deployment | None = None, catalogs: Catalogs | None = None,
                   programme_id: str | None = None) -> list[Line]:
    """Every message a participant who never answers would get, from the start date to the programme's last event.
    `programme_id`: which of the deployment's programmes (default: its default one)."""
    async with open_scratch(start, lang, channel, programme=programme, library=library, flows_dir=flows_dir,
                            deployment=deployment, catalogs=catalogs, programme_id=programme_id) as scratch:
        lines = []
        for _ in range(MAX_STEPS):
            lines += await scratch.tick()
            due = await scratch.next_due()
            if due is None:
                break
            scratch.clock.set(due)
        return lines


def side_by_side(first: list[Line], second: list[Line]) -> list[tuple[Line | None, Line | None]]:
    """Two languages' timelines paired message by message: the same event at the same time, the n-th of its kind
    there (they match one to one unless a text decides something, e.g. a longer message); a message only one of them
    has stands alone, at its time."""
    def keyed(lines: list[Line]) -> dict[tuple[datetime, str, str, int], Line]:
        seen: dict[tuple[datetime, str, str], int] = {}
        found = {}
        for line in lines:
            n = seen[(line.at, line.kind, line.about)] = seen.get((line.at, line.kind, line.about), 0) + 1
            found[(line.at, line.kind, line.about, n)] = line
        return found

    second_keyed = keyed(second)
    pairs: list[tuple[Line | None, Line | None]] = []
    for key, line in keyed(first).items():
        pairs.append((line, second_keyed.pop(key, None)))
    pairs += [(None, line) for line in second_keyed.values()]
    return sorted(pairs, key=lambda pair: next(line.at for line in pair if line is not None))


def print_timeline(lines: list[Line], out: TextIO) -> None:
    out.write(f"{'date':<14} {'time':<5}  {'channel':<8}  message (as seen by a participant who never answers)\n")
    for line in lines:
        body = line.text.replace("\n", "\n" + " " * 32)
        out.write(f"{line.at:%a %d.%m.%Y} {line.at:%H:%M}  {line.channel:<8}  {body}\n")
    out.write(f"{len(lines)} messages\n")
