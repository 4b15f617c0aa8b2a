"""The programme file and local time: the shipped file is valid, mistakes get a precise line and hint, and
times stay at the same local wall-clock time across daylight saving, outside quiet hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from flows.checker import check_files, flow_paths
from flows.programme import Kind, Programme
from flows.programme_loader import check_programme, load_programme, read_programme_text
from flows.timing import allowed_from, at_local, exercise_plan, initial_plan, local, wall

ROOT = Path(__file__).resolve().parents[2]
FLOWS = {f.id: f for f in check_files(flow_paths([ROOT / "flows" / "definitions"])).flows}


def shipped() -> Programme:
    programme, problems = load_programme(ROOT / "flows" / "programmes" / "stress_programme.yaml")
    assert programme is not None and not problems
    return programme


def test_the_shipped_programme_is_valid_and_matches_seed_002() -> None:
    programme = shipped()
    assert check_programme(programme, FLOWS) == []
    assert [m.number for m in programme.modules] == list(range(1, 9))
    assert programme.module(3) is not None and programme.module(3).title.get("da") == (  # type: ignore[union-attr]
        "Eksponeringsøvelser: søvn og motion")
    assert [(w.id, w.day) for w in programme.waves] == [("baseline", 0), ("week4", 28), ("end", 84), ("month6", 182)]
    assert programme.wave("baseline").flows == (  # type: ignore[union-attr]
        "pss10", "who5", "life_satisfaction", "work_status", "safety_check")


def problems_of(text: str) -> list[str]:
    base = (ROOT / "flows" / "programmes" / "stress_programme.yaml").read_text(encoding="utf-8")
    programme, problems = read_programme_text(base.replace(*text.split(" => ")), "programme.yaml")
    found = [f"{p.line}: {p.message}" for p in problems]
    if programme is not None:
        found += [f"{p.line}: {p.message}" for p in check_programme(programme, FLOWS)]
    return found


@pytest.mark.parametrize(("change", "expected"), [
    ('send_time: "10:00" => send_time: 10:00', "put the time in quotes"),
    ('send_time: "10:00" => send_time: "22:00"', "send_time falls in the quiet hours"),
    ("flows: [pss10, work_status]\n => flows: [pss11, work_status]\n",
     "names flow 'pss11', which is not a usable flow file"),
    ("    5: []\n => ", "days must give a value for each answer of 'days'"),
    ("  exercise: 3h =>   exercise: soon", "late limit of exercise must be a duration such as 3h or 2d"),
    ("    1: [mon, wed, fri] =>     1: [mon, wod, fri]", "is not a weekday"),
    ("  worse_by: 3 => ", "evaluation has no 'worse_by'"),
    ("    reminder: *release\n  - number: 4 =>     reminder: *release\n  - number: 3", "module number 3 is used twice"),
    ("  item: wellbeing =>   item: words", "'words' must be a question with a number"),
])
def test_mistakes_are_reported_with_their_line(change: str, expected: str) -> None:
    found = problems_of(change)
    assert any(expected in p for p in found), found
    assert all(not p.startswith("0:") for p in found), found  # every problem points at a line


def test_module_reminder_may_only_use_known_placeholders() -> None:
    found = problems_of("Du finder det her: {link} => Du finder det her: {url}")
    assert any("uses {url}; only {link}, {number}, {title} can be filled in" in p for p in found), found


def copenhagen(moment: datetime) -> str:
    return local(shipped(), moment).strftime("%Y-%m-%d %H:%M %Z")


def test_local_times_survive_both_daylight_saving_changes() -> None:
    programme = shipped()
    # the last Sundays of March and October 2026 are the 29th and the 25th
    for day in (date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 10, 24), date(2026, 10, 25),
                date(2026, 10, 26)):
        assert local(programme, at_local(programme, day, time(18, 0))).strftime("%H:%M") == "18:00"
    assert copenhagen(at_local(programme, date(2026, 3, 28), time(18))) == "2026-03-28 18:00 CET"
    assert copenhagen(at_local(programme, date(2026, 3, 30), time(18))) == "2026-03-30 18:00 CEST"


def test_quiet_hours_and_the_clock_change_hour_move_a_moment_to_when_writing_is_allowed() -> None:
    programme = shipped()
    assert copenhagen(at_local(programme, date(2026, 5, 4), time(21, 30))) == "2026-05-05 08:00 CEST"
    assert copenhagen(at_local(programme, date(2026, 5, 4), time(6, 59))) == "2026-05-04 08:00 CEST"
    assert copenhagen(at_local(programme, date(2026, 5, 4), time(20, 59))) == "2026-05-04 20:59 CEST"
    night_owls = replace(programme, quiet_start=time(23, 0), quiet_end=time(1, 0))  # only the DST hour is left
    on_spring_night = allowed_from(night_owls, wall(night_owls, date(2026, 3, 29), time(1, 30)))
    assert local(night_owls, on_spring_night).strftime("%H:%M") == "01:30"
    moved = allowed_from(night_owls, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST, the first one
    assert local(night_owls, moved).strftime("%Y-%m-%d %H:%M %Z") == "2026-10-25 03:00 CET"


def test_exercise_reminders_follow_the_chosen_days_and_stop_with_the_programme() -> None:
    programme = shipped()
    start = date(2026, 3, 16)  # a Monday
    moment, days = wall(programme, start, time.min), []
    while (plan := exercise_plan(programme, start, (1, 3), time(19), moment)) is not None:  # Tuesday, Thursday
        days.append(local(programme, plan.due_at).strftime("%a %H:%M"))
        moment = plan.due_at
    assert len(days) == 24 and set(days) == {"Tue 19:00", "Thu 19:00"}


def test_initial_plan_has_each_wave_and_the_first_of_everything_that_follows_on() -> None:
    plans = initial_plan(shipped(), date(2026, 3, 16))
    kinds = [p.kind for p in plans]
    assert kinds.count(Kind.WAVE_OPEN) == 4 and kinds.count(Kind.WAVE_CLOSE) == 0  # closings follow the openings
    assert kinds.count(Kind.MODULE) == kinds.count(Kind.EXERCISE) == kinds.count(Kind.CHECKIN) == 1
    assert kinds.count(Kind.TRE_SUMMARY) == 1
    assert len({p.key for p in plans}) == len(plans) == 8
    assert kinds.index(Kind.WAVE_OPEN) < kinds.index(Kind.MODULE)  # baseline before module 1 on day 0
