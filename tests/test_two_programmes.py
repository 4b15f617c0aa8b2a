"""Two programmes side by side in one deployment (issue 15: several programmes, each participant in one): Gitte is
enrolled in seed 001's 12-week course, Tor in seed 000's TRE course, on the same day, through the real enrolment,
scheduler, conversation loop and SQLite file, with a fake clock that jumps from one due event to the next for seven
months. Each gets exactly their own programme's messages and measurements, and nothing of the other's."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot import retention
from bot.allocation import SCHEME, key_id
from bot.app import App, open_app
from bot.channels.base import as_plain_text
from bot.clock import FakeClock
from bot.enroll import EnrolmentError, EnrolmentRequest, enrol
from bot.retention import programme_days
from bot.scheduler import ProgrammeScheduler, schedule_programme
from flows.inputs import Text
from flows.programme import Programme
from flows.programme_loader import load_programme
from flows.timing import local, wall
from storage.allocation_records import CONTROL, PROGRAMME, RandomisedCohort
from storage.records import Enrollment, Participant, ScheduleStatus
from tests.conftest import app_without_consent, without_consent
from tests.test_cli import ROOT

START = date(2026, 3, 16)  # a Monday
CHANNEL = "console"
Responder = Callable[[str, str], str | None]  # (flow id, question id) -> the answer, or None


@dataclass(eq=False)  # each person is themselves (a key of the messages told apart)
class Person:
    participant: Participant
    programme: Programme
    responder: Responder
    timeline: list[tuple[datetime, str]] = field(default_factory=list)  # what the bot wrote first
    heard: list[str] = field(default_factory=list)  # everything the bot wrote them, replies included

    def lines(self) -> list[str]:
        """The timeline as "Mon 16.03 10:00 | first line of the message"."""
        return [f"{local(self.programme, at):%a %d.%m %H:%M} | {text.splitlines()[0]}" for at, text in self.timeline]


class SideBySide:
    """Everyone enrolled, driven together: one tick handles whatever is due for any of them, and each person's
    messages are told apart by their outbox rows' participant."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.people: dict[int, Person] = {}

        async def console(_: Participant) -> str | None:
            return CHANNEL

        self.scheduler = ProgrammeScheduler(app.storage, app.loop, app.clock, console)

    async def enrol(self, name: str, phone: str, programme: str | None, responder: Responder) -> Person:
        library = self.app.registry.library
        invite = await enrol(self.app.storage, EnrolmentRequest(name, phone, start_date=START, programme=programme),
                             [], self.app.clock.now(), "", library.programme, programmes=library.programmes)
        chosen = library.programme_for(await self.app.storage.programme_of(invite.participant.id))
        assert chosen is not None
        person = Person(invite.participant, chosen, responder)
        self.people[invite.participant.id] = person
        return person

    def now(self) -> datetime:
        return self.app.clock.now()

    def set_clock(self, moment: datetime) -> None:
        self.app.clock.set(moment)  # type: ignore[attr-defined]

    async def run_until(self, moment: datetime) -> None:
        while (due := await self._next_due()) is not None and due <= moment:
            self.set_clock(max(self.now(), due))
            await self.scheduler.tick()
            for person, texts in (await self._drain()).items():
                person.timeline += [(self.now(), text) for text in texts]
            for person in self.people.values():
                await self._respond(person)
        self.set_clock(max(self.now(), moment))

    async def say(self, person: Person, text: str) -> list[str]:
        await self.app.loop.handle(person.participant, Text(text), CHANNEL)
        return (await self._drain()).get(person, []) + await self._respond(person)

    async def _next_due(self) -> datetime | None:
        rows = [r for pid in self.people for r in await self.app.storage.schedule_of(pid)]
        return min((r.due_at for r in rows if r.status is ScheduleStatus.PENDING), default=None)

    async def _drain(self) -> dict[Person, list[str]]:
        said: dict[Person, list[str]] = {}
        for row in await self.app.storage.pending_outbox(CHANNEL, 1000):
            await self.app.storage.mark_sent(row.id, self.now())
            person = self.people[row.participant_id]
            text = as_plain_text(row.payload)
            person.heard.append(text)
            said.setdefault(person, []).append(text)
        return said

    async def _respond(self, person: Person) -> list[str]:
        """Their answers to whatever question is open, 20 seconds apiece, until none is."""
        said: list[str] = []
        for _ in range(60):
            run = (await self.app.loop.state_of(person.participant)).run
            answer = person.responder(run.flow_id, run.step_id) if run and not run.paused else None
            if answer is None:
                return said
            self.set_clock(self.now() + timedelta(seconds=20))
            await self.app.loop.handle(person.participant, Text(answer), CHANNEL)
            said += (await self._drain()).get(person, [])
        return said


def answers(given: dict[tuple[str, str | None], str]) -> Responder:
    def respond(flow_id: str, step_id: str) -> str | None:
        return given.get((flow_id, step_id)) or given.get((flow_id, None))

    return respond


WORK = {("work_status", "work_status"): "1", ("work_status", "work_since_days"): "9"}
# PSS-10 all "0": the four reversed items count 4 each, so the total is 16, one below the entry criterion of 17
GITTE = answers({("pss10", None): "0", **WORK})
# WHO-5 all "3"; the TRE reminders on Monday, Wednesday and Friday (1) at 19:00 (4)
TOR = answers({("who5", None): "3", ("exercise_plan", "days"): "1", ("exercise_plan", "time"): "4", **WORK})
PSS10_INTRO = "Nu kommer 10 spørgsmål om, hvordan du har haft det inden for den sidste måned."
WHO5_INTRO = "Nu kommer 5 udsagn om, hvordan du har haft det de sidste 2 uger."
NO_RUN = "Tak for din besked. Du har ikke noget spørgeskema i gang lige nu. Skriv HJÆLP for at se, hvad du kan gøre."


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0).astimezone()) as opened:
        yield opened


def at(programme: Programme, day: int, hour: int, minute: int = 0) -> datetime:
    return wall(programme, START + timedelta(days=day), time(hour, minute))


async def test_two_participants_in_two_programmes_each_get_exactly_their_own(app: App) -> None:
    both = SideBySide(app)
    gitte = await both.enrol("Gitte", "+4520000001", "arbejdsliv_uden_stress", GITTE)
    tor = await both.enrol("Tor", "+4520000002", "tre_metoden", TOR)
    assert (gitte.programme.id, tor.programme.id) == ("arbejdsliv_uden_stress", "tre_metoden")

    await both.run_until(at(gitte.programme, 3, 12))  # Thursday of the first week
    assert gitte.lines() == [
        "Mon 16.03 10:00 | Velkommen til forløbet \"Et arbejdsliv uden stress\". Den første uge begynder med en "
        "screening: et spørgeskema om, hvordan du har haft det, og en indledende samtale med en stresscoach, der "
        "kontakter dig om tidspunktet.",
        "Mon 16.03 10:00 | Det er tid til en måling af, hvordan du har det. Den tager 5-10 minutter.",
        f"Mon 16.03 10:00 | {PSS10_INTRO} Svar med tallet ud for dit svar. Der er ingen rigtige eller forkerte "
        "svar. Du kan altid skrive HJÆLP, TILBAGE eller PAUSE.",
        "Mon 16.03 10:00 | (1/10) Hvor ofte inden for den sidste måned er du blevet oprevet over noget, der skete "
        "uventet?",
        "Tue 17.03 10:00 | I de første fire uger mødes du med en gruppe på op til 15 deltagere to gange om ugen, tre "
        "timer ad gangen. I arbejder med grænsesætning, energiforvaltning og realistiske mål. Du møder op, som du "
        "er, uden krav om præstation.",
    ]
    assert tor.lines() == [
        "Mon 16.03 10:00 | Velkommen til TRE-forløbet. Du lærer TRE-metoden sammen med en gruppe på 10: syv fysiske "
        "øvelser, der frembringer rystelser i kroppen og sænker stressniveauet. Du behøver ikke at tale om din indre "
        "verden.",
        "Mon 16.03 10:00 | Det er tid til en måling af, hvordan du har det. Den tager 5 minutter.",
        f"Mon 16.03 10:00 | {WHO5_INTRO} Svar med tallet ud for det svar, der passer bedst. Der er ingen rigtige "
        "eller forkerte svar. Du kan altid skrive HJÆLP, TILBAGE eller PAUSE.",
        "Mon 16.03 10:00 | (1/5) I de sidste 2 uger har jeg været glad og i godt humør",
        "Mon 16.03 19:00 | Tid til dine TRE-øvelser. Skriv TRE, når du har lavet dem, så gemmer jeg det.",
        "Wed 18.03 19:00 | Tid til dine TRE-øvelser. Skriv TRE, når du har lavet dem, så gemmer jeg det.",
    ]
    # the screening's PSS-10 of 16 is below the entry criterion: a task for Gitte's coach, and nothing said to her
    [task] = await app.storage.coach_tasks()
    assert (task.participant_id, task.kind, dict(task.detail)) == (
        gitte.participant.id, "entry_criterion_not_met",
        {"wave": "screening", "score": "pss10.total", "now": 16.0, "at_least": 17.0})
    assert not any("adgang" in text.lower() or "kriteri" in text.lower() for text in gitte.heard)

    # The programme's own words: Tor's TRE logs a session; Gitte's programme has no TRE, modules or exercise times
    for word in ("TRE", "MINE", "FÆRDIG 1", "TIDER"):
        assert await both.say(gitte, word) == [NO_RUN], word
    [help_gitte] = (await both.say(gitte, "HJÆLP"))[-1:]
    assert help_gitte == ("Du kan også skrive:\nPAUSE 7: ingen påmindelser i 7 dage (START slår dem til igen)\n"
                          "STOP: ingen flere påmindelser")
    [help_tor] = (await both.say(tor, "HJÆLP"))[-1:]
    assert help_tor == ("Du kan også skrive:\nTRE: log en TRE-øvelse\nMINE: se din TRE-log\nTIDER: skift dine "
                        "øvelsespåmindelser\nPAUSE 7: ingen påmindelser i 7 dage (START slår dem til igen)\n"
                        "STOP: ingen flere påmindelser")
    assert (await both.say(tor, "TRE"))[0].startswith("TRE-log: et par korte spørgsmål om din øvelse.")
    for answer in ("1", "15", "7", "3", "nej", "nej"):
        replies = await both.say(tor, answer)
    assert replies[-1].startswith("Tak, din øvelse er gemt: 15 minutter, spænding 7 → 3.")

    await both.run_until(at(gitte.programme, 215, 12))  # seven months on
    assert [line for line in gitte.lines() if line[:9] in ("Mon 13.04", "Mon 08.06")][:3] == [
        "Mon 13.04 10:00 | Gruppeforløbet er slut. De næste op til otte uger har du individuelle, coachende samtaler "
        "med en stresscoach, hvor du i dit eget tempo arbejder med det, der fylder mest. Din coach aftaler "
        "tidspunkterne med dig.",
        "Mon 08.06 10:00 | Det er tid til en måling af, hvordan du har det. Den tager 5-10 minutter.",  # day 84
        f"Mon 08.06 10:00 | {PSS10_INTRO} Svar med tallet ud for dit svar. Der er ingen rigtige eller forkerte "
        "svar. Du kan altid skrive HJÆLP, TILBAGE eller PAUSE.",
    ]
    assert len(gitte.lines()) == 9 and gitte.lines()[-1].startswith("Mon 08.06 10:00 | (1/10)")  # and nothing more
    assert [line for line in tor.lines() if "10:00" in line[:15]][4:] == [  # after the first day's measurement
        "Mon 13.04 10:00 | Nu kender du øvelserne. TRE er en selvhjælpsmetode: brug øvelserne på egen hånd, når du "
        "har brug for det. Jeg minder dig stadig om dem på de dage og det tidspunkt, du har valgt. Skriv TIDER for "
        "at ændre dem.",
        "Mon 14.09 10:00 | Det er tid til en måling af, hvordan du har det. Den tager 5 minutter.",  # day 182
        f"Mon 14.09 10:00 | {WHO5_INTRO} Svar med tallet ud for det svar, der passer bedst. Der er ingen rigtige "
        "eller forkerte svar. Du kan altid skrive HJÆLP, TILBAGE eller PAUSE.",
        "Mon 14.09 10:00 | (1/5) I de sidste 2 uger har jeg været glad og i godt humør",
    ]
    reminders = [line for line in tor.lines() if "Tid til dine TRE-øvelser" in line]
    assert len(reminders) == 78 and {line[:3] for line in reminders} == {"Mon", "Wed", "Fri"}  # 26 weeks, 3 a week
    assert {line[10:15] for line in reminders} == {"19:00"} and reminders[-1].startswith("Fri 11.09")
    assert [line for line in tor.lines() if "Sun" in line[:3]] == [
        "Sun 22.03 18:00 | Din TRE-uge: øvelser: 1, minutters rysten: 15, gennemsnitlig ændring i spænding: -4."]

    # nothing of the other programme reached either of them, ever
    assert not [t for t in gitte.heard if any(w in t for w in ("TRE", "WHO", "udsagn", "Modul", "gruppe på 10"))]
    assert not [t for t in tor.heard if any(w in t for w in ("10 spørgsmål", "op til 15", "stresscoach", "Modul",
                                                               "Et arbejdsliv"))]
    marks = {p: [m.key for m in await app.storage.marks(p.participant.id) if m.kind == "wave_done"]
             for p in (gitte, tor)}
    assert marks == {gitte: ["screening", "end"], tor: ["before", "after"]}
    gitte_scores = {s.flow_id for s in await app.storage.flow_scores(gitte.participant.id, "who5")}
    assert gitte_scores == set() and len(await app.storage.flow_scores(tor.participant.id, "pss10")) == 0
    kinds = {p: {r.kind for r in await app.storage.schedule_of(p.participant.id)} for p in (gitte, tor)}
    assert kinds[gitte] <= {"phase", "wave_open", "wave_remind", "wave_close", "run_expiry"}
    assert {"exercise", "tre_summary", "phase"} <= kinds[tor] and "module" not in kinds[tor]
    assert [t.kind for t in await app.storage.coach_tasks()] == ["entry_criterion_not_met"]  # Tor has no criterion


async def test_enrolment_names_a_programme_or_gets_the_default_and_a_wrong_name_is_refused(app: App) -> None:
    library = app.registry.library
    assert sorted(library.programmes) == ["arbejdsliv_uden_stress", "stress_programme", "tre_metoden"]
    now = app.clock.now()

    async def enrolled(name: str, programme: str | None) -> tuple[str | None, set[str]]:
        invite = await enrol(app.storage, EnrolmentRequest(name, "+452000000" + str(len(name)), programme=programme),
                             [], now, "", library.programme, programmes=library.programmes)
        pid = invite.participant.id
        return await app.storage.programme_of(pid), {r.kind for r in await app.storage.schedule_of(pid)}

    # the default (seed 002's) is recorded, not left blank, and planned with its modules and check-ins
    assert await enrolled("Ann", None) == ("stress_programme", {"wave_open", "module", "exercise", "checkin",
                                                                "tre_summary"})
    assert await enrolled("Bent", " tre_metoden ") == ("tre_metoden", {"wave_open", "phase", "exercise",
                                                                        "tre_summary"})
    with pytest.raises(EnrolmentError, match=r"programme 'gentofte' is not one of this deployment's: "
                                             r"arbejdsliv_uden_stress, stress_programme, tre_metoden"):
        await enrolled("Carla", "gentofte")
    assert len(await app.storage.participant_ids()) == 2  # nothing stored for a refused row
    with pytest.raises(EnrolmentError, match="choose a programme: arbejdsliv_uden_stress, stress_programme, "
                                             "tre_metoden"):  # several programmes and none is the default
        await enrol(app.storage, EnrolmentRequest("Dorte", "+4520000099"), [], now, "", None,
                    programmes=library.programmes)
    assert len(await app.storage.participant_ids()) == 2


async def test_a_programme_whose_file_breaks_holds_only_its_own_participants(tmp_path: Path) -> None:
    """Tor was enrolled in the TRE course; then its file is edited into a mistake and the bot restarted. His events
    wait for the fix (never another programme's messages in its place); Gitte's course goes on as before."""
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows" / "definitions", flows / "definitions")
    shutil.copytree(ROOT / "flows" / "programmes", flows / "programmes")
    broken = flows / "programmes" / "tre_metoden.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("weeks: 26 ", "weeks: many "), encoding="utf-8")
    tre, problems = load_programme(ROOT / "flows" / "programmes" / "tre_metoden.yaml")
    assert tre is not None and not problems
    clock = FakeClock(datetime(2026, 3, 15, 12, 0).astimezone())
    async with open_app(str(tmp_path / "bot.db"), clock, flows_dir=flows / "definitions",
                        deployment_path=without_consent(tmp_path), coach_channels={}) as app:
        assert sorted(app.registry.library.programmes) == ["arbejdsliv_uden_stress", "stress_programme"]
        assert [p.message for p in app.registry.problems if p.path == str(broken)] == [
            "weeks of the programme must be a whole number from 1, not 'many'"]
        both = SideBySide(app)
        gitte = await both.enrol("Gitte", "+4520000001", "arbejdsliv_uden_stress", GITTE)
        enrolled = await app.storage.enroll(Enrollment("p-tor", "Tor", "da", START, programme="tre_metoden"),
                                            clock.now())  # as the enrolment did while the file was good
        await schedule_programme(app.storage, tre, enrolled.id, START, clock.now())
        tor = both.people[enrolled.id] = Person(enrolled, tre, TOR)

        await both.run_until(at(tre, 0, 14))
        assert len(gitte.lines()) == 4 and gitte.lines()[0].startswith("Mon 16.03 10:00 | Velkommen til forløbet")
        assert tor.heard == []
        rows = [r for r in await app.storage.schedule_of(enrolled.id) if r.status is ScheduleStatus.PENDING]
        assert {r.reason for r in rows if r.due_at <= clock.now() + timedelta(hours=1)} == {
            "no usable programme file"}


async def test_retention_counts_from_the_end_of_each_persons_own_programme(app: App) -> None:
    """Seed 001's course ends with its closing measurement (day 84, closed on day 94); the TRE course and seed 002's
    (the default, for someone with none recorded) only after their 6-month measurement closes (day 196)."""
    library = app.registry.library
    now = app.clock.now()
    people = {}
    for ref, chosen in (("p-gitte", "arbejdsliv_uden_stress"), ("p-tor", "tre_metoden"), ("p-old", None),
                        ("p-gone", "a_programme_since_removed")):
        people[ref] = await app.storage.enroll(Enrollment(ref, ref, "da", START, programme=chosen), now)
    assert [programme_days(library.programmes[p]) for p in ("arbejdsliv_uden_stress", "tre_metoden",
                                                            "stress_programme")] == [94, 196, 196]

    async def due_on(day: int) -> list[str]:
        found = await retention.due(app.storage, library.programme, 0, START + timedelta(days=day),
                                    library.programmes)
        return [d.participant.ref for d in found]

    assert await due_on(94) == []
    assert await due_on(95) == ["p-gitte"]  # only hers is over: the others' run on
    assert await due_on(197) == ["p-gitte", "p-tor", "p-old", "p-gone"]  # one no longer loaded: the longest


async def test_a_randomised_cohort_of_another_programme_gives_its_control_arm_that_programmes_waves(app: App) -> None:
    """Seed 001's course run as a trial: whoever is drawn to control gets its screening and closing measurements
    (with the entry criterion, which is about the screening) and none of its phases or group sessions; the others all
    of it, the group course's reminders included."""
    library = app.registry.library
    key = b"a key for this test of 16+ chars"
    now = app.clock.now()
    await app.storage.randomise_cohort(RandomisedCohort("gentofte-trial", SCHEME, key_id(key), "admin:lead", now))
    kinds = {}
    for i in range(4):
        invite = await enrol(app.storage, EnrolmentRequest(f"Person {i}", f"+452012340{i}", start_date=START,
                                                           cohort="gentofte-trial", programme="arbejdsliv_uden_stress"),
                             [], now, "", library.programme, allocation_key=key, programmes=library.programmes)
        assert invite.allocation is not None
        pid = invite.participant.id
        assert await app.storage.programme_of(pid) == "arbejdsliv_uden_stress"
        kinds[invite.allocation.arm] = {r.kind for r in await app.storage.schedule_of(pid)}
    assert kinds == {CONTROL: {"wave_open"}, PROGRAMME: {"wave_open", "phase", "appointment"}}


async def test_a_cohort_s_group_sessions_go_only_to_the_members_of_the_programme_that_declares_them(app: App) -> None:
    """Seed 001's file declares its group course; someone enrolled into the same cohort name but seed 002's programme
    (a mistake, or two courses sharing a name) gets none of its sessions."""
    library = app.registry.library
    now = app.clock.now()
    kinds = {}
    pids = {}
    for ref, chosen in (("Sten", "stress_programme"), ("Gitte", "arbejdsliv_uden_stress")):  # his first: hers books
        invite = await enrol(app.storage, EnrolmentRequest(ref, telegram=False, phone="+452012340" + str(len(kinds)),
                                                           start_date=START, cohort="efterår", programme=chosen),
                             [], now, "", library.programme, programmes=library.programmes)
        pids[ref] = invite.participant.id
        kinds[ref] = set()
    for ref, pid in pids.items():
        kinds[ref] = {r.kind for r in await app.storage.schedule_of(pid)}
    assert "appointment" in kinds["Gitte"] and "appointment" not in kinds["Sten"]
