"""A scratch participant driven through time: `programme simulate` and the desk's simulator (/admin/simulator).

An administrator tries a programme the way a participant lives it: the bot's messages arrive at their dates and
times, the administrator answers them (or lets the participant answer by itself, or from a file), and moves the clock
on: to the next message, a day, a week, or to day N. It is the real engine, conversation loop and scheduler on the
scratch database of bot/preview.py (a temporary SQLite file, a fake clock, no channel): what a risk sentence does is
shown (the crisis reply, and the alert that would be raised with whom it would go to) and reaches nobody.

What the simulation noticed besides the messages (an alert, a coach task, a message for the coach's inbox, a
measurement answered or missed) is an `Entry` of its own, a note, with its facts in `detail`; the CLI and the desk
each say it in their own words and language. A simulation is bounded in time (`MAX_DAYS`) and size (`MAX_ENTRIES`).
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot import timers
from bot.deployment import Deployment
from bot.inbound import Inbound
from bot.preview import Line, Scratch, about_of, new_scratch
from bot.rendering import Catalogs
from flows import phrases
from flows.asking import Asked, QuestionKey, asking
from flows.inputs import ReleaseHold, RequireConsent, Text
from flows.model import FlowLibrary, StepType
from flows.programme import Programme
from flows.state import State
from flows.timing import local
from storage.records import AddressStatus, Identity, ScheduleStatus

MAX_DAYS = 400  # a simulation goes no further than this many days after the start date
MAX_ENTRIES = 4000  # chat entries a simulation keeps (a 6-month programme answered in full is about 700)
MAX_IN_A_ROW = 200  # answers the answerer gives before the clock moves (a 6-month wave asks about 30 questions)
MAX_TEXT = 2000  # what a participant may write in one message, as on the real channels
ANSWER_TIME = timedelta(seconds=30)  # the participant takes this long to write each message
BOT, PARTICIPANT, NOTE = "bot", "participant", "note"
MARKS = ("consent_declined", "module_done", "wave_done", "wave_missed")  # milestones worth a note
AUTO_TEXT = {"da": "Det går fint.", "en": "It is going fine."}
YES, NO = {"da": "ja", "en": "yes"}, {"da": "nej", "en": "no"}

Answerer = Callable[[State, FlowLibrary], "str | None"]


class SimulationLimit(Exception):
    """The simulation is as long or as large as it may be: start a new one."""


@dataclass(frozen=True)
class Entry:
    """One thing in the simulated chat: a message of the bot, of the participant, or a note of what happened."""

    at: datetime  # local
    day: int
    who: str  # BOT, PARTICIPANT or NOTE
    text: str = ""
    kind: str = ""  # a bot message: what made it (bot/preview.py `Line.kind`); a note: alert, task, inbox or a mark
    about: str = ""  # the module's number, the wave's id...
    urgent: bool = False  # a crisis reply
    choices: tuple[tuple[str, str], ...] = ()  # a question's answers offered: (what to write, its label)
    detail: Mapping[str, Any] = field(default_factory=dict)  # a note's facts


def answerable(state: State) -> QuestionKey | None:
    """What the participant can answer now, as someone reading their messages would: the terms once they were shown
    (a yes to the invite would only bring them up), the offer of the safety check, the run's question unless it is
    paused (PAUSE: they are waiting to be asked again)."""
    asked = asking(state)
    if asked is None or (asked.what is Asked.QUESTION and state.run is not None and state.run.paused):
        return None
    if asked.what is Asked.TERMS and state.consent_shown != state.consent_needed:
        return None
    return asked


def auto_answer(state: State, library: FlowLibrary) -> str | None:
    """What a participant who answers everything writes to whatever is asked: yes to the terms, no to a yes/no
    question and to the offer of the safety check, the middle choice, the middle of a scale, the lowest number allowed,
    a short neutral sentence; None when nothing is asked."""
    asked, lang = answerable(state), state.lang if state.lang in YES else "da"
    if asked is None:
        return None
    if asked.what is Asked.TERMS:
        return YES[lang]
    if asked.what is Asked.SAFETY_OFFER or state.run is None:
        return NO[lang]
    flow = library.get(state.run.flow_id, state.run.flow_version)
    step = flow.step(state.run.step_id) if flow is not None else None
    if step is None:
        return None
    if step.type is StepType.CHOICE and step.choices:
        return str(step.choices[len(step.choices) // 2].value)
    if step.type is StepType.SCALE and step.minimum is not None and step.maximum is not None:
        return str(int((step.minimum + step.maximum) // 2))
    if step.type is StepType.NUMBER:
        return str(int(step.minimum or 0))
    if step.type is StepType.YESNO:
        return NO[lang]
    return AUTO_TEXT[lang]


def answers_from(path: Path, otherwise: Answerer | None = None) -> Answerer:
    """An answers file: `flow: answer` or `flow.question: answer` lines (YAML), e.g. `pss10: 2`,
    `exercise_plan.days: 1`, `checkin.words: En rolig uge`, `consent: ja`; what it does not name is left to
    `otherwise` (the automatic answers with --auto, else unanswered)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str | int | float) for v in raw.values()):
        raise ValueError(f"{path}: write one `flow: answer` or `flow.question: answer` per line")
    given = {str(k): str(v) for k, v in raw.items()}

    def answer(state: State, library: FlowLibrary) -> str | None:
        asked = answerable(state)
        if asked is None:
            return None
        if asked.what is Asked.TERMS:
            flow_id, step_id = "consent", asked.step_id
        elif asked.what is Asked.QUESTION and state.run is not None:
            flow_id, step_id = state.run.flow_id, state.run.step_id
        else:
            flow_id, step_id = "", ""
        found = given.get(f"{flow_id}.{step_id}") or given.get(flow_id)
        return found if found is not None else otherwise(state, library) if otherwise else None

    return answer


class Simulation:
    """One scratch participant, its chat so far, and the clock. Every method moves the clock forward only."""

    def __init__(self, scratch: Scratch, answerer: Answerer | None = None) -> None:
        self.scratch = scratch
        self.deployment = scratch.deployment
        self.answerer = answerer
        self.entries: list[Entry] = []
        self._seen: set[tuple[str | int, ...]] = set()  # what a note was made of: (kind, id...)
        self._said = 0
        self._hold = False  # the high-risk hold, as last noted

    @classmethod
    async def create(cls, start: date, lang: str = "da", channel: str = "sms", *, answerer: Answerer | None = None,
                     programme: Programme | None = None, library: FlowLibrary | None = None,
                     flows_dir: Path | None = None, deployment: Deployment | None = None,
                     catalogs: Catalogs | None = None, programme_id: str | None = None) -> Simulation:
        """Enrol the participant on day 0, an hour before the programme's send time, as `enroll` does: the invite
        (on SMS) and the terms come first. Awake; `remove` it when done."""
        scratch = await new_scratch(start, lang, channel, enrol_at=None, programme=programme, library=library,
                                    flows_dir=flows_dir, deployment=deployment, catalogs=catalogs,
                                    programme_id=programme_id)
        try:
            simulation = cls(scratch, answerer)
            notice = phrases.SMS_INVITE if channel == "sms" else None
            await scratch.loop.handle(scratch.participant, RequireConsent(), channel, notice=notice)
            await simulation._after(await scratch.drain())
            await simulation._notes()
        except BaseException:
            await scratch.remove()
            raise
        return simulation

    @classmethod
    @asynccontextmanager
    async def open(cls, start: date, lang: str = "da", channel: str = "sms", *, answerer: Answerer | None = None,
                   programme: Programme | None = None, library: FlowLibrary | None = None,
                   flows_dir: Path | None = None, deployment: Deployment | None = None,
                   catalogs: Catalogs | None = None, programme_id: str | None = None) -> AsyncIterator[Simulation]:
        """`create`, removed afterwards."""
        simulation = await cls.create(start, lang, channel, answerer=answerer, programme=programme, library=library,
                                      flows_dir=flows_dir, deployment=deployment, catalogs=catalogs,
                                      programme_id=programme_id)
        try:
            yield simulation
        finally:
            await simulation.remove()

    @asynccontextmanager
    async def awake(self) -> AsyncIterator[Simulation]:
        """Its database open for a while (a click in the desk), asleep again afterwards."""
        await self.scratch.wake()
        try:
            yield self
        finally:
            await self.scratch.sleep()

    async def remove(self) -> None:
        """The scratch database and its folder are deleted."""
        await self.scratch.remove()

    # -- where it stands ------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.scratch.clock.now()

    @property
    def day(self) -> int:
        return self.scratch.day(self.now)

    @property
    def programme(self) -> Programme:
        return self.scratch.programme

    async def state(self) -> State:
        return await self.scratch.loop.state_of(self.scratch.participant)

    async def asked(self) -> bool:
        """Whether the participant is being asked something (an answer for me is possible)."""
        return answerable(await self.state()) is not None

    async def question(self) -> Entry | None:
        """The bot's message that asks what is being asked now, if it offers answers to choose from."""
        if answerable(await self.state()) is None:
            return None
        return next((e for e in reversed(self.entries) if e.who == BOT and e.choices), None)

    async def coming(self, limit: int = 8) -> list[tuple[datetime, str, str]]:
        """What is planned next: (local time, kind, about) of the pending schedule rows, soonest first."""
        rows = [r for r in await self.scratch.storage.schedule_of(self.scratch.participant.id)
                if r.status is ScheduleStatus.PENDING and r.kind != timers.RUN_EXPIRY]
        return [(local(self.programme, r.due_at), r.kind, about_of(r.data))
                for r in sorted(rows, key=lambda r: r.due_at)[:limit]]

    # -- moving on ------------------------------------------------------------------------------------------------

    async def say(self, text: str) -> list[Entry]:
        """The participant writes `text`; the bot's replies (and, with an answerer, its answers after them)."""
        mark = len(self.entries)
        await self._auto(await self._write(text))
        await self._notes()
        return self.entries[mark:]

    async def answer_for_me(self) -> list[Entry]:
        """Answer what is being asked as `auto_answer` would (the desk's "answer for me")."""
        answer = auto_answer(await self.state(), self.scratch.loop.registry.library)
        return await self.say(answer) if answer is not None else []

    async def on_hold(self) -> bool:
        """After a high-risk signal no routine questionnaire or reminder goes out until a coach releases the hold."""
        return (await self.state()).hold

    async def release_hold(self) -> list[Entry]:
        """What a coach's release does (bot/coach.py): the programme goes on."""
        mark = len(self.entries)
        await self.scratch.loop.handle(self.scratch.participant, ReleaseHold(), self.scratch.channel)
        await self._after(await self.scratch.drain())
        await self._notes()
        return self.entries[mark:]

    async def next_message(self) -> list[Entry]:
        """Move the clock to the next moment the bot writes something (events that send nothing, such as a reminder
        held back by quiet hours, are passed through on the way)."""
        mark = len(self.entries)
        while len(self.entries) == mark:
            due = await self.scratch.next_due()
            if due is None:
                break
            self._check(due)
            self.scratch.clock.set(due)
            await self._after(await self.scratch.tick())
        await self._notes()
        return self.entries[mark:]

    async def forward(self, delta: timedelta) -> list[Entry]:
        """Let `delta` pass: every message due meanwhile arrives at its own time."""
        return await self.until(self.now + delta)

    async def to_day(self, day: int) -> list[Entry]:
        """To day `day` at the programme's send time (that morning's messages have arrived); never backwards."""
        if day > MAX_DAYS:
            raise SimulationLimit(f"a simulation ends on day {MAX_DAYS}: start a new one")
        return await self.until(max(self.now, self.scratch.moment(day, self.programme.send_time)))

    async def until(self, moment: datetime) -> list[Entry]:
        self._check(moment)
        mark = len(self.entries)
        while (due := await self.scratch.next_due()) is not None and due <= moment:
            self.scratch.clock.set(due)
            await self._after(await self.scratch.tick())
        self.scratch.clock.set(max(self.now, moment))
        await self._notes()
        return self.entries[mark:]

    # -- bookkeeping ----------------------------------------------------------------------------------------------

    def _check(self, moment: datetime) -> None:
        if self.scratch.day(moment) > MAX_DAYS:
            raise SimulationLimit(f"a simulation ends on day {MAX_DAYS}: start a new one")
        if len(self.entries) >= MAX_ENTRIES:
            raise SimulationLimit(f"this simulation has {MAX_ENTRIES} messages: start a new one")

    def _add(self, entry: Entry) -> None:
        """In time order: a note made from a record's own time may come after messages read later."""
        if len(self.entries) < MAX_ENTRIES:
            bisect.insort(self.entries, entry, key=lambda e: e.at)

    async def _write(self, text: str) -> list[Line]:
        """The participant's message, half a minute after the last thing that happened, through the loop as a
        channel hands it over; the bot's replies. (An event that fell due meanwhile is handled by the next move of
        the clock, as the real scheduler would: it holds events back while a questionnaire is being answered.)"""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return []
        self._check(self.now + ANSWER_TIME)
        self.scratch.clock.set(self.now + ANSWER_TIME)
        self._add(Entry(local(self.programme, self.now), self.day, PARTICIPANT, text))
        self._said += 1
        inbound = Inbound(self.scratch.channel, "simulator", (Text(text),), f"simulator:{self._said}")
        await self.scratch.loop.receive(inbound, Identity(self.scratch.participant, AddressStatus.ACTIVE))
        replies = await self.scratch.drain()
        await self._after(replies, answer=False)
        return replies

    async def _after(self, lines: list[Line], answer: bool = True) -> None:
        """Record the bot's messages; then the answerer, if any, answers what they ask."""
        for line in lines:
            self._add(Entry(line.at, line.day, BOT, line.text, line.kind, line.about, line.urgent, line.choices))
        if answer:
            await self._auto(lines)

    async def _auto(self, lines: list[Line]) -> None:
        """The answerer answers each question the bot asks, one after the other, until it asks nothing more."""
        for _ in range(MAX_IN_A_ROW):
            if self.answerer is None or not lines or len(self.entries) >= MAX_ENTRIES:
                return
            reply = self.answerer(await self.state(), self.scratch.loop.registry.library)
            if reply is None or self.scratch.day(self.now + ANSWER_TIME) > MAX_DAYS:
                return
            lines = await self._write(reply)

    async def _notes(self) -> None:
        """Notes, at their own times, for what was stored besides messages since the last look: alerts (and a new
        signal joining one), coach tasks, messages for the coach's inbox, milestones. Read once per move."""
        storage, pid = self.scratch.storage, self.scratch.participant.id
        for e in await storage.escalations():
            for n, trigger in enumerate(e.triggers):
                if self._new(("alert", e.id, n)):
                    on_duty = [c.name for c in self.deployment.coaches_for(e.tier, trigger.at)]
                    self._note(trigger.at, "alert", trigger.level,
                               {"coaches": on_duty, "deadline": e.deadline_at, "joined": n > 0})
        for task in await storage.coach_tasks(only_open=False, participant_id=pid):
            if self._new(("task", task.id)):
                self._note(task.created_at, "task", task.kind)
        for message in await storage.coach_messages([pid]):
            if self._new(("inbox", message.id)):
                self._note(message.received_at, "inbox", "")
        for n, mark in enumerate(await storage.marks(pid)):
            if self._new(("mark", n)) and mark.kind in MARKS:
                self._note(mark.at, mark.kind, mark.key)
        hold = await self.on_hold()
        if hold != self._hold:
            self._hold = hold
            self._note(self.now, "hold" if hold else "released", "")

    def _new(self, key: tuple[str | int, ...]) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _note(self, at: datetime, kind: str, about: str, detail: Mapping[str, Any] | None = None) -> None:
        self._add(Entry(local(self.programme, at), self.scratch.day(at), NOTE, kind=kind, about=about,
                        detail=detail or {}))
