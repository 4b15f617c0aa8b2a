"""The programme over time, through the real scheduler, loop and SQLite file, with a fake clock.

Twelve weeks and the six-month wave run in about a second. Every message the bot writes first is checked
with its local (Copenhagen) time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from flows.inputs import StartFlow
from flows.timing import local
from storage.records import ScheduleStatus
from tests.conftest import app_without_consent
from tests.programme_world import CHANNEL, Responder, World

START = date(2026, 3, 16)  # a Monday; the clocks go forward on Sunday 29 March, in week 2
ANSWERS = {  # what the participant answers, by flow and question
    ("pss10", None): "2", ("who5", None): "3", ("life_satisfaction", None): "6", ("safety_check", None): "nej",
    ("exercise_plan", "days"): "1", ("exercise_plan", "time"): "4",  # Monday, Wednesday, Friday at 19:00
    ("checkin", "wellbeing"): "7", ("checkin", "exercise"): "1", ("checkin", "words"): "En rolig uge",
    ("checkin", "work_status"): "4", ("work_status", "work_status"): "1", ("work_status", "work_since_days"): "5",
}


def answers(flow_id: str, step_id: str) -> str | None:
    return ANSWERS.get((flow_id, step_id)) or ANSWERS.get((flow_id, None))


def answering(days: str, at: str) -> Responder:
    """The same participant, choosing other exercise days and time (the plan's answer numbers)."""
    chosen = {("exercise_plan", "days"): days, ("exercise_plan", "time"): at}
    return lambda flow_id, step_id: chosen.get((flow_id, step_id)) or answers(flow_id, step_id)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with app_without_consent(tmp_path, datetime(2026, 3, 15, 12, 0).astimezone()) as opened:
        yield opened


async def test_twelve_weeks_and_the_six_month_wave_exactly_as_the_participant_sees_them(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START + timedelta(days=200), 0))
    lines = world.lines()
    assert lines[:16] == [  # the first two weeks, the clocks change in between
        "Mon 16.03 10:00 | Modul 1 er klar: Introduktion og teori. Du finder det her: "
        "https://stressforloeb.example.dk/modul/1",
        "Mon 16.03 10:00 | Det er tid til en måling af, hvordan du har det. Den tager 5-10 minutter.",
        "Mon 16.03 10:00 | Nu kommer 10 spørgsmål om, hvordan du har haft det inden for den sidste måned. Svar "
        "med tallet ud for dit svar. Der er ingen rigtige eller forkerte svar. Du kan altid skrive HJÆLP, "
        "TILBAGE eller PAUSE.",
        "Mon 16.03 10:00 | (1/10) Hvor ofte inden for den sidste måned er du blevet oprevet over noget, der "
        "skete uventet?",
        "Mon 16.03 19:00 | Tid til ugens øvelser fra modul 1 (Introduktion og teori) og dine TRE-øvelser. Skriv "
        "TRE, når du har lavet TRE, så gemmer jeg det.",
        "Wed 18.03 19:00 | Tid til ugens øvelser fra modul 1 (Introduktion og teori) og dine TRE-øvelser. Skriv "
        "TRE, når du har lavet TRE, så gemmer jeg det.",
        "Fri 20.03 10:00 | En påmindelse om modul 1: Introduktion og teori. Skriv FÆRDIG 1, når du har "
        "gennemgået det.",
        "Fri 20.03 19:00 | Tid til ugens øvelser fra modul 1 (Introduktion og teori) og dine TRE-øvelser. Skriv "
        "TRE, når du har lavet TRE, så gemmer jeg det.",
        "Mon 23.03 10:00 | Modul 2 er klar: Værdiafklaring. Du finder det her: https://stressforloeb.example.dk/modul/2",
        "Mon 23.03 10:00 | Ugens check-in: 4 korte spørgsmål. Din coach ser dine svar før jeres næste samtale.",
        "Mon 23.03 10:00 | (1/5) Hvordan har du haft det i denne uge, alt i alt?",
        "Mon 23.03 19:00 | Tid til ugens øvelser fra modul 2 (Værdiafklaring) og dine TRE-øvelser. Skriv TRE, "
        "når du har lavet TRE, så gemmer jeg det.",
        "Wed 25.03 19:00 | Tid til ugens øvelser fra modul 2 (Værdiafklaring) og dine TRE-øvelser. Skriv TRE, "
        "når du har lavet TRE, så gemmer jeg det.",
        "Fri 27.03 10:00 | En påmindelse om modul 2: Værdiafklaring. Skriv FÆRDIG 2, når du har gennemgået det.",
        "Fri 27.03 19:00 | Tid til ugens øvelser fra modul 2 (Værdiafklaring) og dine TRE-øvelser. Skriv TRE, "
        "når du har lavet TRE, så gemmer jeg det.",
        "Mon 30.03 10:00 | Modul 3 er klar: Eksponeringsøvelser: søvn og motion. Du finder det her: "
        "https://stressforloeb.example.dk/modul/3",
    ]
    kinds = Counter(_kind(line) for line in lines)
    # each wave and check-in also shows its first question: 4 x (intro + question 1) + 12 x question 1
    assert kinds == {"module": 8, "nudge": 8, "exercise": 35, "wave": 4, "checkin": 12, "question": 20}, kinds
    # the exercise reminders stay at 19:00 in Copenhagen on both sides of the clock change
    assert {line[10:15] for line in lines if _kind(line) == "exercise"} == {"19:00"}
    assert all("08:00" <= line[10:15] < "21:00" for line in lines)
    per_day = Counter(line[:9] for line in lines if not line.split(" | ")[1].startswith(("(1/", "Nu kommer")))
    assert max(per_day.values()) <= 3
    rows = await world.rows()
    assert [r for r in rows if r.status is ScheduleStatus.PENDING] == []
    assert len({r.key for r in rows}) == len(rows)  # one row per event, never two
    marks = await app.storage.marks(world.participant.id)
    assert [m.key for m in marks if m.kind == "wave_done"] == ["baseline", "week4", "end", "month6"]
    assert [m.kind for m in marks].count("wave_missed") == 0
    assert await app.storage.coach_tasks() == []  # answers unchanged: no referral, no ending, no fall


def _kind(line: str) -> str:
    text = line.split(" | ", 1)[1]
    for prefix, kind in (("Modul ", "module"), ("En påmindelse om modul", "nudge"), ("Tid til ugens", "exercise"),
                         ("Det er tid til en måling", "wave"), ("Ugens check-in", "checkin")):
        if text.startswith(prefix):
            return kind
    return "question"


@pytest.mark.parametrize("start", [date(2026, 3, 23), date(2026, 10, 19)])  # weeks with the clock changes
async def test_daylight_saving_weekends_keep_reminders_at_the_same_local_time_and_send_once(
        app: App, start: date) -> None:
    world = await World.open(app, start)
    world.responder = answering(days="4", at="1")  # every day at 08:30
    await world.run_until(world.at(start + timedelta(days=14), 0))
    exercise = [line[:15] for line in world.lines() if _kind(line) == "exercise"]
    days = [start + timedelta(days=n) for n in range(1, 14)]
    assert exercise == [f"{local(world.programme, world.at(d, 8, 30)):%a %d.%m} 08:30" for d in days]
    keys = [r.key for r in await world.rows() if r.kind == "exercise"]
    assert len(keys) == len(set(keys))


async def test_a_module_marked_done_gets_no_more_reminders(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    assert (await world.say("færdig"))[0] == (
        "Godt gået! Modul 1 er markeret som færdigt. Du har gennemført 1 af 8 moduler.")
    assert (await world.say("FÆRDIG 1"))[0] == "Modul 1 var allerede markeret som færdigt."
    await world.run_until(world.at(START + timedelta(days=8), 12))
    assert not [line for line in world.lines() if "En påmindelse om modul 1" in line]
    nudge = next(r for r in await world.rows() if r.key == "nudge:1")
    assert (nudge.status, nudge.reason) == (ScheduleStatus.SKIPPED, "module already marked done")
    assert any("Modul 2 er klar" in line for line in world.lines())  # the next module still comes
    marks = await app.storage.marks(world.participant.id)
    assert [(m.kind, m.key) for m in marks if m.kind == "module_done"] == [("module_done", "1")]


async def test_pause_for_some_days_and_stop_and_start_again(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    assert (await world.say("PAUSE 6"))[0] == (
        "Du får ingen påmindelser de næste 6 dage. Skriv START, hvis du vil have dem igen før.")
    await world.run_until(world.at(START + timedelta(days=7), 9))
    assert world.lines(since=world.at(START, 12)) == []
    skipped = {r.key: r.reason for r in await world.rows() if r.status is ScheduleStatus.SKIPPED}
    assert skipped["exercise:2026-03-18"] == skipped["nudge:1"] == "paused by the participant"
    await world.run_until(world.at(START + timedelta(days=7), 11))  # the pause is over: module 2 comes
    assert world.lines(since=world.at(START + timedelta(days=7), 0))[0].startswith("Mon 23.03 10:00 | Modul 2")
    assert (await world.say("stop"))[0].startswith("Du får ikke flere påmindelser fra mig.")
    await world.run_until(world.at(START + timedelta(days=21), 12))
    assert [line for line in world.lines(since=world.at(START + timedelta(days=7), 11))
            if not line.startswith("Mon 23.03")] == []
    assert (await world.say("START"))[0] == "Påmindelserne er slået til igen."
    await world.run_until(world.at(START + timedelta(days=28), 12))
    assert any("Modul 5 er klar" in line for line in world.lines())


async def test_stop_in_a_questionnaire_ends_it_and_says_a_second_stop_ends_the_reminders(app: App) -> None:
    """STOP means two things: a person who wanted the reminders gone was not told that the first only ended the form."""
    world = await World.open(app, START)
    await app.loop.handle(world.participant, StartFlow("who5"), CHANNEL)
    said = await world.say("STOP")
    assert said[0].startswith("Du har stoppet spørgeskemaet.")
    assert said[1] == "Hvis du heller ikke vil have flere påmindelser, så skriv STOP igen."
    assert (await world.say("STOP"))[0].startswith("Du får ikke flere påmindelser fra mig.")


async def test_quiet_hours_hold_back_what_is_still_useful_until_morning(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answering(days="1", at="5")  # Monday, Wednesday, Friday at 20:30
    await world.run_until(world.at(START + timedelta(days=7), 9))
    world.set_clock(world.at(START + timedelta(days=7), 22))  # down all Monday of week 2, back at 22:00
    await world.tick()
    assert world.lines(since=world.at(START + timedelta(days=7), 0)) == []  # nothing in the quiet hours
    rows = {r.key: r for r in await world.rows()}
    assert (rows["module:2"].status, rows["module:2"].reason, world.local(rows["module:2"].due_at)) == (
        ScheduleStatus.PENDING, "quiet hours", "Tue 24.03 08:00")
    assert (rows["exercise:2026-03-23"].reason, world.local(rows["exercise:2026-03-23"].due_at)) == (
        "quiet hours", "Tue 24.03 08:00")
    await world.run_until(world.at(START + timedelta(days=8), 9))
    assert world.lines(since=world.at(START + timedelta(days=7), 0)) == [
        "Tue 24.03 08:00 | Modul 2 er klar: Værdiafklaring. Du finder det her: https://stressforloeb.example.dk/modul/2",
        "Tue 24.03 08:00 | Ugens check-in: 4 korte spørgsmål. Din coach ser dine svar før jeres næste samtale.",
        "Tue 24.03 08:00 | (1/5) Hvordan har du haft det i denne uge, alt i alt?"]  # 22 h late: still useful
    rows = {r.key: r for r in await world.rows()}
    assert rows["exercise:2026-03-23"].status is ScheduleStatus.SKIPPED  # 11.5 hours late: no use any more
    assert rows["exercise:2026-03-23"].reason == "too late: planned for 2026-03-23T19:30:00+00:00"
    assert all("08:00" <= line[10:15] < "21:00" for line in world.lines())


async def test_downtime_over_a_due_reminder_sends_it_once_or_skips_it_with_a_reason(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    world.set_clock(world.at(START + timedelta(days=9), 11))  # down from Tuesday to Wednesday of week 2
    await world.tick()
    late = world.lines(since=world.at(START + timedelta(days=9), 0))
    assert late == ["Wed 25.03 11:00 | Modul 2 er klar: Værdiafklaring. Du finder det her: "
                    "https://stressforloeb.example.dk/modul/2"]  # still useful: sent once, 2 days late
    skipped = {r.key: r.reason for r in await world.rows() if r.status is ScheduleStatus.SKIPPED}
    assert skipped["checkin:1"] == "too late: planned for 2026-03-23T09:00:00+00:00"  # 2 days is the limit
    assert skipped["exercise:2026-03-16"] == "too late: planned for 2026-03-16T18:00:00+00:00"
    exercise = sorted(r.key for r in await world.rows() if r.kind == "exercise")
    assert exercise == ["exercise:2026-03-16", "exercise:2026-03-25"]  # missed ones are not replayed
    world.set_clock(world.at(START + timedelta(days=22), 12))  # down for two weeks: module 3 is stale
    await world.tick()
    modules = [line for line in world.lines(since=world.at(START + timedelta(days=22), 0)) if "Modul" in line]
    assert modules == ["Tue 07.04 12:00 | Modul 4 er klar: Eksponeringsøvelser: bekymringer. Du finder det her: "
                       "https://stressforloeb.example.dk/modul/4"]
    assert {r.key: r.reason for r in await world.rows()}["module:3"] == "replaced: the next module is out"
    await world.tick()
    assert len(world.lines()) == len(set(world.lines()))  # and a second tick sends nothing again


async def test_an_unanswered_wave_is_reminded_then_closed_as_missed_and_the_coach_is_told(app: App) -> None:
    world = await World.open(app, START)
    await world.run_until(world.at(START + timedelta(days=8), 0))
    reminders = [line for line in world.lines() if "Du mangler stadig at svare på målingen" in line]
    assert [line[:15] for line in reminders] == ["Wed 18.03 10:00", "Fri 20.03 10:00"]
    marks = await app.storage.marks(world.participant.id)
    assert [(m.kind, m.key) for m in marks] == [("wave_started", "baseline"), ("wave_missed", "baseline")]
    tasks = await app.storage.coach_tasks()
    assert [(t.kind, t.detail["wave"]) for t in tasks] == [("wave_missed", "baseline")]


def pss_by_wave(world: World, baseline: str, week4: str) -> Responder:
    """Every PSS-10 item answered `baseline` at the start and `week4` from day 28 on."""
    def respond(flow_id: str, step_id: str) -> str | None:
        if flow_id == "pss10":
            return week4 if world.now() >= world.at(START + timedelta(days=28), 0) else baseline
        return answers(flow_id, step_id)
    return respond


@pytest.mark.parametrize(("week4", "task", "told"), [
    ("4", "consider_referral", True),  # 20 -> 24: 4 points worse (the margin is 3)
    ("0", "consider_ending", False),  # 20 -> 16: under the entry criterion of 17 and better
    ("3", None, False),  # 20 -> 22: a little worse, within the margin
])
async def test_week_4_evaluation_compares_pss10_with_baseline(app: App, week4: str, task: str | None,
                                                              told: bool) -> None:
    world = await World.open(app, START)
    world.responder = pss_by_wave(world, baseline="2", week4=week4)
    await world.run_until(world.at(START + timedelta(days=29), 0))
    tasks = [t for t in await app.storage.coach_tasks() if t.kind in ("consider_referral", "consider_ending")]
    expected_now = {"4": 24.0, "0": 16.0, "3": 22.0}[week4]
    assert [(t.kind, t.detail["baseline"], t.detail["now"]) for t in tasks] == (
        [(task, 20.0, expected_now)] if task else [])
    message = ("Tak for dine svar. Din coach kigger på dem og tager kontakt til dig om, hvordan dit forløb skal "
               "fortsætte.")
    assert (message in world.heard) is told  # the participant hears only what the programme file says


async def test_a_tre_session_that_overwhelms_gives_guidance_and_a_coach_task(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    world.responder = None
    script = [("TRE", "(1/8) Hvilke øvelser lavede du?"), ("1", "(2/8) Hvor mange minutter rystede du"),
              ("12", "(3/8) Hvor spændt eller stresset var du FØR øvelsen?"),
              ("4", "(4/8) Hvor spændt eller stresset var du EFTER øvelsen?"),
              ("5", "(5/8) Oplevede du noget ubehageligt"), ("ja", "(6/8) Hvad skete der?"),
              ("3", "(7/8) Beskriv kort, hvad der skete."),
              ("Det blev pludselig for meget, jeg rystede over det hele", "Stop øvelsen, når det sker"),
              ("nej", "Tak, din øvelse er gemt: 12 minutter, spænding 4 → 5. Skriv MINE for at se din historik.")]
    for said, expected in script:
        replies = "\n".join(await world.say(said))
        assert expected in replies, (said, replies)
    tasks = await app.storage.coach_tasks()
    assert [(t.kind, t.detail["flow_id"]) for t in tasks] == [("tre_checkin", "tre_log")]
    history = "\n".join(await world.say("MINE"))
    assert history == ("Dine seneste TRE-øvelser:\n16/3: 12 min., spænding 4 → 5\n"
                       "Øvelser i alt: 1, i gennemsnit 1 om ugen. Gennemsnitlig ændring i spænding pr. øvelse: 1.")


async def test_a_rise_in_tension_of_3_also_gives_guidance_and_a_task_and_sundays_sum_up_the_week(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    world.responder = None
    for said in ("tre", "2", "20", "2", "5", "nej"):
        replies = "\n".join(await world.say(said))
    assert "Stop øvelsen, når det sker" in replies  # tension 2 -> 5, nothing unpleasant reported
    await world.say("Mærkede meget uro bagefter")
    assert [t.kind for t in await app.storage.coach_tasks()] == ["tre_checkin"]
    await world.run_until(world.at(START + timedelta(days=7), 0))
    summary = [line for line in world.lines() if "TRE-uge" in line]
    assert summary == ["Sun 22.03 18:00 | Din TRE-uge: øvelser: 1, minutters rysten: 20, gennemsnitlig ændring i "
                       "spænding: 3."]


async def test_apscheduler_ticks_the_scheduler_in_the_running_event_loop(app: App) -> None:
    world = await World.open(app, START)
    world.set_clock(world.at(START, 10))
    world.scheduler.start(every_seconds=0.05)
    try:
        for _ in range(100):  # real time, at most 5 s: the ticker runs on its own
            rows = {r.key: r.status for r in await world.rows()}
            if rows["wave:baseline:open"] is ScheduleStatus.SENT:
                break
            await asyncio.sleep(0.05)
    finally:
        world.scheduler.stop()
    assert rows["wave:baseline:open"] is ScheduleStatus.SENT
    sent = [text.splitlines()[0] for text in await world._drain()]
    assert "Det er tid til en måling af, hvordan du har det. Den tager 5-10 minutter." in sent


async def test_a_high_risk_hold_holds_back_reminders_and_measurements_until_a_coach_releases_it(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    world.responder = None
    replies = "\n".join(await world.say("jeg vil tage mit liv i nat"))
    assert "112" in replies  # the safety reply, at once
    assert (await app.loop.state_of(world.participant)).hold
    await world.run_until(world.at(START + timedelta(days=8), 0))
    assert [line for line in world.lines(since=world.at(START, 12)) if "Modul" in line or "check-in" in line] == []
    held = {r.key: r.reason for r in await world.rows() if r.status is ScheduleStatus.PENDING}
    assert held["module:2"] == "safety path open"
    [escalation] = await app.storage.escalations()
    assert "OK 1" in await app.desk.release("coach", escalation)  # nobody has taken it yet: take it first
    assert (await app.loop.state_of(world.participant)).hold
    await app.desk.acknowledge("coach", escalation)
    [escalation] = await app.storage.escalations()
    await app.desk.release("coach", escalation)
    await world.run_until(world.at(START + timedelta(days=8), 20))
    assert any("Modul 2 er klar" in line for line in world.lines(since=world.at(START + timedelta(days=8), 0)))


async def test_check_in_words_are_scanned_for_risk_and_a_fall_in_well_being_makes_a_coach_task(app: App) -> None:
    world = await World.open(app, START)
    low = {("checkin", "wellbeing"): "3", ("checkin", "words"): "Jeg har tænkt på selvmord"}
    world.responder = answers
    await world.run_until(world.at(START + timedelta(days=7), 12))  # first check-in: well-being 7
    world.responder = lambda flow_id, step_id: low.get((flow_id, step_id)) or answers(flow_id, step_id)
    await world.run_until(world.at(START + timedelta(days=14), 12))
    offer = await world.say("nej")  # the words signalled risk: the safety check was offered; not now, thanks
    assert "Vil du fortsætte med det spørgeskema" in "\n".join(offer)  # issue 11: asked first, not carried on at once
    assert "Tak for din check-in." in "\n".join(await world.say("ja"))  # the check-in finishes where it was set aside
    tasks = [(t.kind, t.detail) for t in await app.storage.coach_tasks()]
    assert ("wellbeing_fall", {"from": 7.0, "to": 3.0}) in tasks
    [escalation] = await app.storage.escalations()
    assert escalation.level == "moderate"


async def test_new_exercise_times_after_the_days_reminder_start_the_next_day(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers  # Monday, Wednesday, Friday at 19:00
    await world.run_until(world.at(START + timedelta(days=2), 20))  # Wednesday's reminder has gone
    world.responder = None
    await world.say("TIDER")
    await world.say("4")
    assert "Tak. Du får påmindelserne" in "\n".join(await world.say("5"))  # every day at 20:30
    await world.run_until(world.at(START + timedelta(days=6), 22))
    exercise = [line[:15] for line in world.lines(since=world.at(START + timedelta(days=2), 20)) if
                _kind(line) == "exercise"]
    assert exercise == ["Thu 19.03 20:30", "Fri 20.03 20:30", "Sat 21.03 20:30", "Sun 22.03 20:30"]


async def test_exercise_times_chosen_before_the_start_are_used_from_the_first_reminder(app: App) -> None:
    world = await World.open(app, START)
    world.set_clock(world.at(START - timedelta(days=3), 12))  # enrolled; the programme starts on Monday
    await world.say("TIDER")
    await world.say("2")
    await world.say("2")  # Tuesday, Thursday, Saturday at 12:00
    world.responder = answers
    await world.run_until(world.at(START + timedelta(days=6), 22))
    exercise = [line[:15] for line in world.lines() if _kind(line) == "exercise"]
    assert exercise == ["Tue 17.03 12:00", "Thu 19.03 12:00", "Sat 21.03 12:00"]


async def test_a_long_pause_postpones_the_module_and_start_ends_the_pause_early(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START + timedelta(days=6), 12))
    await world.say("PAUSE 7")  # over module 2 (day 7), ending 6 days after it: its lateness limit
    await world.run_until(world.at(START + timedelta(days=16), 12))
    modules = [line[:15] for line in world.lines(since=world.at(START + timedelta(days=6), 12)) if "Modul" in line]
    # module 2 when the pause ended (7 x 24 hours: 13:00 after the clocks went forward), then module 3
    assert modules == ["Sun 29.03 13:00", "Mon 30.03 10:00"]
    await world.run_until(world.at(START + timedelta(days=20), 12))
    await world.say("PAUSE 30")  # Sunday; module 4 is due on Monday
    await world.run_until(world.at(START + timedelta(days=22), 12))
    assert not [line for line in world.lines() if "Modul 4" in line]
    assert (await world.say("START"))[0] == "Påmindelserne er slået til igen."
    await world.run_until(world.at(START + timedelta(days=23), 0))
    assert [line[:9] for line in world.lines() if "Modul 4 er klar" in line] == ["Tue 07.04"]  # the same day


async def test_an_unanswered_offer_of_the_safety_check_lapses_after_a_day_for_the_programme(app: App) -> None:
    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START, 12))
    world.responder = None
    replies = "\n".join(await world.say("jeg har tænkt på selvmord"))  # moderate: no hold, the check is offered
    assert "Vil du svare på nogle få spørgsmål" in replies or "spørgsmål" in replies
    await world.run_until(world.at(START + timedelta(days=8), 12))
    assert any("Modul 2 er klar" in line for line in world.lines())  # held back a day, not for ever


async def test_a_programme_button_on_a_free_text_question_is_a_keyword_not_the_answer(app: App) -> None:
    from flows.inputs import Command

    world = await World.open(app, START)
    world.responder = answers
    await world.run_until(world.at(START + timedelta(days=7), 9))
    world.responder = None
    await world.run_until(world.at(START + timedelta(days=7), 11))  # the check-in: 7, then "Godt"
    await world.say("7")
    await world.say("1")
    await world.say("4")  # work unchanged: now on "a few words"
    await app.loop.handle(world.participant, Command("FÆRDIG 2"), "console")
    replies = await world._drain()
    assert replies[0] == "Godt gået! Modul 2 er markeret som færdigt. Du har gennemført 1 af 8 moduler."
    assert replies[1].startswith("(5/5) Skriv med et par ord")  # the open question again, unanswered
    assert "FÆRDIG" not in str(await app.storage.export_answers())


async def test_someone_who_has_not_opened_the_telegram_invite_yet_is_waited_for(app: App) -> None:
    from bot.scheduler import address_channel

    world = await World.open(app, START)
    world.scheduler.channel_for = address_channel(app.storage)  # no address at all: the link is not opened
    await world.run_until(world.at(START, 12))
    rows = {r.key: r for r in await world.rows()}
    assert (rows["module:1"].status, rows["module:1"].reason) == (ScheduleStatus.PENDING, "not linked yet")
    assert world.lines() == []
