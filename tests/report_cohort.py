"""A small cohort living through the programme together: the real app, SQLite file, scheduler and loop, with a
fake clock that jumps from one due event to the next, and each participant answering (or not) as scripted.

Unlike `tests/programme_world.py` (one participant and what they read), this drives several participants at
once, for the outcome report: each answers the measurement waves with their own scores, skips the waves they
are scripted to miss, and logs TRE sessions, marks modules done or writes what they are told to, when told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.app import App
from bot.scheduler import ProgrammeScheduler, schedule_programme
from flows.arms import measurement_only
from flows.inputs import Text
from flows.programme import Programme
from flows.timing import local
from storage.allocation_records import CONTROL, Draw, RandomisedCohort
from storage.records import Enrollment, Participant, ScheduleStatus

CHANNEL = "console"
REVERSED = {"q4", "q5", "q7", "q8"}  # PSS-10's reversed items (flows/definitions/pss10.yaml)
TRE = {"exercises": "1", "minutes": "15", "before": "6", "after": "3", "unpleasant": "nej", "note": "nej"}


@dataclass(frozen=True)
class Wave:
    """One participant's answers in one wave; a questionnaire left out (None) is not answered."""

    pss10: tuple[int, int] | None = None  # (answer to the six items, answer to the four reversed ones)
    who5: str | None = None  # the five answers, e.g. "22211"
    life_satisfaction: int | None = None
    work: tuple[int, int] | None = (1, 5)  # work status (1-3) and since how many days; asked after the others


@dataclass
class Person:
    participant: Participant
    waves: Mapping[str, Wave]
    checkins_until: int = 0  # answers the weekly check-in up to this programme day
    start: date = date.min
    checkin_work: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # day -> new work status, days since

    def answer(self, flow_id: str, step_id: str, wave_id: str | None, day: int) -> str | None:
        """What this person writes to the question open now, or None to leave it unanswered."""
        wave = self.waves.get(wave_id or "")
        if flow_id == "pss10":
            if wave is None or wave.pss10 is None:
                return None
            usual, reversed_ = wave.pss10
            return str(reversed_ if step_id in REVERSED else usual)
        if flow_id == "who5":
            return wave.who5[int(step_id[1:]) - 1] if wave and wave.who5 else None
        if flow_id == "life_satisfaction":
            return str(wave.life_satisfaction) if wave and wave.life_satisfaction is not None else None
        if flow_id == "work_status":
            if wave is None or wave.work is None:
                return None
            return str(wave.work[0] if step_id == "work_status" else wave.work[1])
        if flow_id == "safety_check":
            return "nej"
        if flow_id == "exercise_plan":
            return {"days": "1", "time": "4"}.get(step_id)
        if flow_id == "checkin":
            status, since = self.checkin_work.get(day, (4, 0))  # 4: unchanged
            answers = {"wellbeing": "7", "exercise": "1", "work_status": str(status), "work_since_days": str(since),
                       "words": "En rolig uge"}
            return answers.get(step_id) if day <= self.checkins_until else None
        if flow_id == "tre_log":
            return TRE.get(step_id)
        return None


@dataclass
class LiveCohort:
    app: App
    programme: Programme
    scheduler: ProgrammeScheduler
    people: list[Person] = field(default_factory=list)

    @classmethod
    def open(cls, app: App) -> LiveCohort:
        programme = app.registry.library.programme
        assert programme is not None, "the shipped programme must load"

        async def channel_for(_: Participant) -> str | None:
            return CHANNEL

        return cls(app, programme, ProgrammeScheduler(app.storage, app.loop, app.clock, channel_for))

    def now(self) -> datetime:
        return self.app.clock.now()

    async def enrol(self, ref: str, start: date, waves: Mapping[str, Wave], checkins_until: int = 0,
                    cohort: str | None = None, arm: str | None = None,
                    checkin_work: Mapping[int, tuple[int, int]] | None = None) -> Person:
        """`arm`: enrolled into a randomised `cohort` with this arm (the allocator's draw is scripted here: its own
        tests are tests/test_allocation.py); a control participant's plan is the waves only, as `bot.enroll` does."""
        now = self.now()
        enrollment = Enrollment(ref, "Test Person", "da", start, cohort=cohort)
        plan = self.programme
        if arm is None:
            participant = await self.app.storage.enroll(enrollment, now)
        else:
            assert cohort is not None
            if await self.app.storage.randomised_cohort(cohort) is None:
                await self.app.storage.randomise_cohort(RandomisedCohort(cohort, "scripted", "test", "admin:test", now))
            participant, _ = await self.app.storage.enroll_allocated(enrollment, now, lambda _: Draw(arm, 0, 4),
                                                                     "admin:test")
            plan = measurement_only(self.programme) if arm == CONTROL else plan
        await schedule_programme(self.app.storage, plan, participant.id, start, now)
        person = Person(participant, waves, checkins_until, start, dict(checkin_work or {}))
        self.people.append(person)
        return person

    async def run_until(self, moment: datetime) -> None:
        """Every due event up to `moment`, in order, each followed by the participants' answers."""
        while (due := await self._next_due()) is not None and due <= moment:
            self.app.clock.set(max(self.now(), due))  # type: ignore[attr-defined]
            await self.scheduler.tick()
            for person in self.people:
                await self._respond(person)
        self.app.clock.set(max(self.now(), moment))  # type: ignore[attr-defined]

    async def say(self, person: Person, text: str) -> None:
        """The person writes `text`, then answers whatever questionnaire it starts."""
        await self.app.loop.handle(person.participant, Text(text), CHANNEL)
        await self._respond(person)

    async def _next_due(self) -> datetime | None:
        pending = [row.due_at for person in self.people  # questionnaires' expiry timers are rows too
                   for row in await self.app.storage.schedule_of(person.participant.id)
                   if row.status is ScheduleStatus.PENDING]
        return min(pending, default=None)

    async def _respond(self, person: Person) -> None:
        """The person answers the open question, 20 seconds per answer, until they leave one unanswered."""
        for _ in range(60):
            state = await self.app.loop.state_of(person.participant)
            run = state.run
            if run is None or run.paused:
                return
            day = (local(self.programme, self.now()).date() - person.start).days
            answer = person.answer(run.flow_id, run.step_id, state.progress.wave, day)
            if answer is None:
                return
            self.app.clock.set(self.now() + timedelta(seconds=20))  # type: ignore[attr-defined]
            await self.app.loop.handle(person.participant, Text(answer), CHANNEL)
