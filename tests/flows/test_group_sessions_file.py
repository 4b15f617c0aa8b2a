"""A programme file's `group_sessions:` (seed 001's group course): read into sessions whose dates follow the
cohort's calendar at the same local time across daylight saving, and every mistake an administrator makes reported by
`flows check` with file and line."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from flows.group_sessions import occurrences
from flows.programme_loader import load_programme, read_programme_text
from flows.timing import local
from tests.test_cli import ROOT, bot
from tests.test_flows_check import edit, line_of

GENTOFTE = ROOT / "tests" / "programmes" / "gentofte_groups.yaml"


def test_seed_001s_group_course_is_eight_sessions_in_weeks_1_to_4_at_nine_local_time() -> None:
    programme, problems = load_programme(GENTOFTE)
    assert problems == [] and programme is not None
    [course] = programme.group_sessions
    assert (course.id, course.kind, course.weeks, course.weekdays, course.at, course.minutes, course.max_size) == (
        "group_course", "group", (1, 2, 3, 4), (0, 3), time(9, 0), 180, 15)
    # the cohort's first member starts on Wednesday 25 March 2026: week 1 is Wed 25 - Tue 31 March, and the
    # clocks go forward on Sunday 29 March (09:00 is 08:00 UTC before, 07:00 after)
    found = occurrences(course, date(2026, 3, 25), programme.timezone)
    assert [(o.key, local(programme, o.starts_at).strftime("%a %d.%m %H:%M")) for o in found] == [
        ("w1-thu", "Thu 26.03 09:00"), ("w1-mon", "Mon 30.03 09:00"),
        ("w2-thu", "Thu 02.04 09:00"), ("w2-mon", "Mon 06.04 09:00"),
        ("w3-thu", "Thu 09.04 09:00"), ("w3-mon", "Mon 13.04 09:00"),
        ("w4-thu", "Thu 16.04 09:00"), ("w4-mon", "Mon 20.04 09:00"),
    ]
    assert [o.starts_at.hour for o in found[:2]] == [8, 7]


def problems_of(old: str, new: str) -> list[str]:
    text = GENTOFTE.read_text(encoding="utf-8")
    assert old in text, old
    _, problems = read_programme_text(text.replace(old, new, 1), "gentofte_groups.yaml")
    return [p.message for p in problems]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    weeks: 1-4\n", "    weeks: [1, 2, 13]\n",
     "weeks of group session 'group_course': week 13 is outside the programme's 12 weeks"),
    ("    weeks: 1-4\n", "    weeks: 4-1\n", "weeks of group session 'group_course': '4-1' runs backwards"),
    ("    weeks: 1-4\n", "    weeks: first\n",
     "weeks of group session 'group_course': 'first' is not a week number (write e.g. 1-4, or [1, 2])"),
    ("    weeks: 1-4\n", "", "group session 'group_course' has no 'weeks' (e.g. 1-4, or [1, 2, 3, 4])"),
    ("    weekdays: [mon, thu]\n", "    weekdays: []\n",
     "weekdays of group session 'group_course' is empty: name at least one (e.g. [mon, thu])"),
    ("    kind: group\n", "    kind: yoga\n",
     "kind of group session 'group_course' must be one of screening, group, coaching, counselling, follow_up, "
     "not 'yoga'"),
    ("    minutes: 180\n", "    minutes: 600\n",
     "minutes of group session 'group_course' must be at most 480, not 600"),
    ("    place: Gentofte Rådhus, mødelokale 2\n", "",
     "group session 'group_course' needs a place or a video link (or both)"),
    ("    place: Gentofte Rådhus, mødelokale 2\n", "    video: video.example.dk/gruppe\n",
     "video of group session 'group_course' must be a link starting with https://"),
    ("    max_size: 15\n", "    max_size: 0\n",
     "max_size of group session 'group_course' must be a whole number from 1, not 0"),
    ("    max_size: 15\n", "    max_size: 15\n    room: B\n", "unknown key 'room' in group session 1"),
    ("  - id: group_course ", "  - id: Group Course ",
     "group session 1 id 'Group Course' must be lower-case letters, digits and _ (e.g. q1)"),
])
def test_each_mistake_is_named(old: str, new: str, expected: str) -> None:
    assert expected in "\n".join(problems_of(old, new))


def test_the_same_session_id_twice_is_refused() -> None:
    text = GENTOFTE.read_text(encoding="utf-8")
    section = text[text.index("  - id: group_course"):]
    _, problems = read_programme_text(text + section, "gentofte_groups.yaml")
    assert [p.message for p in problems] == ["group session id 'group_course' is used twice"]


def test_flows_check_names_file_and_line_of_an_unquoted_time_a_danish_weekday_and_week_20(tmp_path: Path) -> None:
    folder = tmp_path / "gentofte"
    shutil.copytree(ROOT / "flows" / "definitions", folder / "definitions")
    programme = folder / "programme.yaml"
    shutil.copy(GENTOFTE, programme)
    edit(programme, 'time: "09:00"', "time: 10:00")  # YAML reads 10:00 as 600 (09:00 it leaves a text)
    edit(programme, "weekdays: [mon, thu]", "weekdays: [man, tor]")
    edit(programme, "weeks: 1-4", "weeks: [1, 20]")
    result = bot("flows", "check", str(folder), check=False)
    assert result.returncode == 1
    errors = [row for row in result.stdout.splitlines() if ": error: " in row]
    assert errors == [
        f"{programme}:{line_of(programme, 'weeks: [1, 20]')}: error: weeks of group session 'group_course': week 20 "
        "is outside the programme's 12 weeks",
        f"{programme}:{line_of(programme, 'weekdays: [man, tor]')}: error: weekdays of group session "
        "'group_course': 'man' is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
        f"{programme}:{line_of(programme, 'time: 10:00')}: error: time of group session 'group_course': put the "
        "time in quotes, e.g. \"10:00\" (without quotes YAML reads 10:00 as a number)",
    ]
    assert result.stdout.splitlines()[-1] == "3 error(s) in 1 file(s)"
