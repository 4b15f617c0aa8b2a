"""`programme simulate`: a scratch participant driven through time, as an administrator tries a programme.

The transcripts below are the command's own output (run in this process, so six months take about a second): a
participant who answers everything by itself, one answering from a file, and an administrator typing lines, a risk
sentence among them. Whatever happens, the real database is never opened and nobody is told.
"""

from __future__ import annotations

import io
import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.commands.main import build_parser
from bot.commands.simulate import simulate
from bot.desk.simulations import Simulations, TooManySimulations
from bot.preview import Line, side_by_side
from bot.simulator import NOTE, PARTICIPANT, Simulation
from tests.test_cli import bot

START = "2026-03-16"  # a Monday; the clocks go forward on Sunday 29 March
LINE = re.compile(r"^(\w{3} \d\d\.\d\d\.\d{4} \d\d:\d\d)  day (\d+) +(bot|participant|simulator) +(.*)$")


async def transcript(*args: str, stdin: str = "") -> list[str]:
    out = io.StringIO()
    code = await simulate(build_parser().parse_args(["programme", "simulate", "--start", START, *args]),
                          io.StringIO(stdin), out)
    assert code == 0
    return out.getvalue().splitlines()


def said(lines: list[str]) -> list[tuple[str, int, str, str]]:
    """(local time, day, who, label and text) of each entry's first line."""
    return [(m[1], int(m[2]), m[3], m[4]) for line in lines if (m := LINE.match(line))]


@pytest.fixture(autouse=True)
def real_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the real database would be: the simulator must never make or open it."""
    path = tmp_path / "real.db"
    monkeypatch.setenv("BOT_DB", str(path))
    yield path
    assert not path.exists()


async def test_six_months_answered_by_the_participant_in_about_a_second() -> None:
    started = time.process_time()  # this process's CPU time: what a runaway loop burns, whatever runs beside it
    lines = await transcript("--days", "200", "--auto")
    took = time.process_time() - started
    entries = said(lines)
    assert lines[0].startswith("Simulated participant, start Mon 16.03.2026 (day 0), language da, sms.")
    assert entries[:4] == [
        ("Mon 16.03.2026 09:00", 0, "bot", "enrolment             Hej. Du er nu tilmeldt stressforløbets sms'er. "
         "Vi skriver, når der er noget til dig. Skriv HJÆLP for at få hjælp og STOP, hvis du ikke vil have flere "
         "beskeder."),
        ("Mon 16.03.2026 10:00", 0, "bot", "measurement baseline  Det er tid til en måling af, hvordan du har det. "
         "Den tager 5-10 minutter."),
        ("Mon 16.03.2026 10:00", 0, "bot", "measurement baseline  Forløbets beskeder bruges til dine spørgeskemaer "
         "og påmindelser. Dine svar gemmes sikkert og ses kun af din coach og forløbets fagpersoner. Du kan til "
         "enhver tid trække dit samtykke tilbage."),  # the terms come with the first measurement
        ("Mon 16.03.2026 10:00", 0, "participant", "ja"),
    ]
    notes = [text for _, _, who, text in entries if who == "simulator"]
    assert notes == [f"measurement {wave} answered" for wave in ("baseline", "week4", "end", "month6")]
    month6 = [e for e in entries if e[3].startswith("measurement month6")]
    assert month6[0][:2] == ("Mon 14.09.2026 10:00", 182)  # six months on, after the clocks went back
    modules = [e for e in entries if re.match(r"module \d {2,}", e[3])]  # "module 3", not "module 3 reminder"
    assert [e[3].split()[1] for e in modules] == [str(n) for n in range(1, 9)]
    assert {e[1] for e in modules[1:]} == {7, 14, 21, 28, 35, 42, 49}  # weekly, each on its Monday
    assert all("08:00" <= at[-5:] < "21:00" for at, _, who, _ in entries if who == "bot")
    counts = Counter(who for _, _, who, _ in entries)
    assert lines[-1] == (f"day 200: {counts['bot']} messages from the bot, {counts['participant']} from the "
                         f"participant, {counts['simulator']} notes")
    # 2-3 s of CPU; the bound only catches a runaway loop. Not wall time: on a loaded 2-core machine the same run
    # took 18-34 s while this process had the CPU for 2.3 s of them
    assert took < 20, took


async def test_answers_from_a_file_choose_the_exercise_days_and_time(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("# Monday, Wednesday and Friday at 19:00 (the plan's choices 1 and 4)\n"
                       "exercise_plan.days: 1\nexercise_plan.time: 4\npss10: 3\nconsent: ja\n", encoding="utf-8")
    entries = said(await transcript("--days", "20", "--answers", str(answers), "--auto"))  # --auto: the rest
    exercises = [(at, day) for at, day, _, text in entries if text.startswith("exercises")]
    assert len(exercises) == 9  # days 2 to 20 (the plan is asked after the baseline measurement on day 0)
    assert all(at.endswith("19:00") and at[:3] in ("Mon", "Wed", "Fri") for at, _ in exercises)
    answered = [text for _, _, who, text in entries if who == "participant"]
    assert answered[:12] == ["ja", *["3"] * 10, "2"]  # the terms, PSS-10 from the file, WHO-5 by itself

    alone = said(await transcript("--days", "1", "--answers", str(answers)))  # without --auto: only the file's
    assert [text for _, _, who, text in alone if who == "participant"] == ["ja", *["3"] * 10]
    who5 = next(i for i, (_, _, who, text) in enumerate(alone) if text.startswith("reply                 (1/5)"))
    assert [who for _, _, who, _ in alone[who5:]] == ["bot"] * len(alone[who5:])  # asked, left unanswered

    bad = tmp_path / "bad.yaml"
    bad.write_text("- pss10\n", encoding="utf-8")
    args = build_parser().parse_args(["programme", "simulate", "--days", "1", "--answers", str(bad)])
    assert await simulate(args, io.StringIO(), io.StringIO()) == 2


async def test_an_administrator_types_a_risk_sentence_and_moves_the_clock_to_six_months() -> None:
    lines = await transcript(stdin="\nja\nJeg har besluttet at tage mit liv i nat\n:week\n:release\n:to 182\n:quit\n"
                                   "never read\n")
    entries = said(lines)
    crisis = next(i for i, e in enumerate(entries) if e[3].startswith("CRISIS REPLY"))
    assert entries[crisis - 1] == ("Mon 16.03.2026 10:01", 0, "participant", "Jeg har besluttet at tage mit liv i nat")
    alert = next(e for e in entries if e[2] == "simulator" and e[3].startswith("ALERT"))
    # high: within 15 minutes (bot/deployment.yaml), to the coach on duty in office hours
    assert "(high risk) would be raised and sent to Coach (demo), to be answered by Mon 16.03.2026 10:16" in alert[3]
    assert "In the simulator nobody is told." in alert[3]
    assert any(line.strip() == "Er du i akut fare, så ring 112." for line in lines)
    notes = [(day, text) for _, day, who, text in entries if who == "simulator"]
    assert notes[:2] == [(0, alert[3]), (0, "questionnaires and reminders are held back until a coach releases the "
                                           "hold (here: type :release)")]
    held_week = [text for _, day, who, text in entries if who == "bot" and 0 < day < 7]
    assert not [text for text in held_week if text.startswith(("measurement", "check-in"))]  # held back
    assert (7, "a coach released the hold: the programme goes on") in notes
    assert any(day == 182 and text.startswith("measurement month6") for _, day, _, text in entries)
    assert not any("never read" in line for line in lines)  # :quit ends it


async def test_the_simulator_refuses_a_day_past_its_end_and_says_so() -> None:
    lines = await transcript(stdin=":to 401\n:to 2\n")
    refused = lines.index("a simulation ends on day 400: start a new one")
    assert [day for _, day, _, _ in said(lines[:refused])] == [0]  # the invite; the refused move moved nothing
    assert max(day for _, day, _, _ in said(lines[refused:])) == 2


def test_the_command_is_listed_and_runs_in_a_process(tmp_path: Path) -> None:
    assert "simulate" in bot("programme", "--help").stdout
    out = bot("programme", "simulate", "--start", START, "--days", "1", "--auto", "--lang", "en",
              db=tmp_path / "real.db").stdout
    assert "It is time to measure how you are." in out and "participant" in out
    assert not (tmp_path / "real.db").exists()


def test_two_languages_pair_message_by_message() -> None:
    at = datetime(2026, 3, 16, 10, tzinfo=UTC)
    da = [Line(at, "sms", "Modul 1", "module", "1"), Line(at, "sms", "Måling", "wave_open", "baseline"),
          Line(at + timedelta(hours=8), "sms", "Øvelser", "exercise")]
    en = [Line(at, "sms", "Module 1", "module", "1"), Line(at, "sms", "Measurement", "wave_open", "baseline"),
          Line(at + timedelta(hours=9), "sms", "Exercises", "exercise")]
    assert [(a.text if a else None, b.text if b else None) for a, b in side_by_side(da, en)] == [
        ("Modul 1", "Module 1"), ("Måling", "Measurement"), ("Øvelser", None), (None, "Exercises")]


async def test_an_administrators_simulation_sleeps_between_clicks_and_is_thrown_away_when_unused() -> None:
    clock = FakeClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    simulations = Simulations(clock, idle=timedelta(minutes=30), most=1)

    def create() -> object:
        return Simulation.create(date(2026, 11, 30))

    held = await simulations.start("lead", create)  # type: ignore[arg-type]
    folder = held.simulation.scratch.folder
    assert not held.simulation.scratch.awake and folder.exists()
    async with held.simulation.awake() as simulation:
        await simulation.next_message()
        shown = await simulation.answer_for_me()
    assert [e.who for e in shown][:1] == [PARTICIPANT] and not held.simulation.scratch.awake
    with pytest.raises(TooManySimulations):
        await simulations.start("other-admin", create)  # type: ignore[arg-type]
    clock.advance(timedelta(minutes=29))
    assert simulations.get("lead") is held  # used: kept 30 minutes more
    clock.advance(timedelta(minutes=30))
    assert await simulations.sweep() == 1
    assert simulations.get("lead") is None and not folder.exists()
    again = await simulations.start("other-admin", create)  # type: ignore[arg-type]
    assert [e.kind for e in again.simulation.entries if e.who != NOTE] == ["enrolment"]
    await simulations.close()
    assert not again.simulation.scratch.folder.exists()
