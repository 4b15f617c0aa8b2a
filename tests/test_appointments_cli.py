"""`appointments book|list|import` as an administrator uses them: separate processes on one database file, a Danish
Excel CSV (`;`, dates like 24-12-2026 14:00 and 24.12.2026 kl. 14.00), and a file with a problem saving nothing."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import bot

NOW = {"BOT_FIXED_NOW": "2026-11-24T11:00:00+00:00"}  # Tuesday noon in Copenhagen


def test_a_danish_csv_is_booked_whole_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    refs = [bot("enroll", "--name", name, "--phone", phone, "--new-cohort", "gentofte-1", db=db, env=NOW)
            .stdout.strip().split("\t")[0] for name, phone in (("Anna Test", "12345678"), ("Bo Test", "23456789"))]
    bot("enroll", "--name", "Carl Test", "--phone", "34567890", db=db, env=NOW)
    broken = tmp_path / "broken.csv"
    broken.write_text("kind;time;minutes;place;video;people;cohort\n"
                      "group;01-12-2026 09:00;180;Rådhuset, sal B;;;gentofte-1\n"
                      f"screening;26.11.2026 kl. 14.00;45;;https://video.example.dk/a;{refs[0]};\n"
                      "coaching;31-11-2026 10:00;60;Jobcentret;;p-nobody;\n"  # no 31 November, no such person
                      "group;02-12-2026 09:00;1x;Rådhuset;;;gentofte-1\n", encoding="utf-8")  # minutes not a number
    refused = bot("appointments", "import", str(broken), db=db, env=NOW, check=False)
    assert refused.returncode == 2
    assert [line for line in refused.stderr.splitlines() if not line.startswith("WARNING")] == [
        "nothing was booked; fix these and import the file again:",
        "line 4: time '31-11-2026 10:00' is not a date and time like 24-12-2026 14:00",
        "line 4: no participant 'p-nobody'",
        "line 5: minutes '1x' is not a whole number",
    ]
    assert bot("appointments", "list", db=db, env=NOW).stdout == ""

    fixed = tmp_path / "fixed.csv"
    fixed.write_text("\ufeffkind;time;minutes;place;video;people;cohort\n"
                     "group;01-12-2026 09:00;180;Rådhuset, sal B;;;gentofte-1\n"
                     f"screening;26.11.2026 kl. 14.00;45;;https://video.example.dk/a;{refs[0]};\n", encoding="utf-8")
    assert bot("appointments", "import", str(fixed), db=db, env=NOW).stdout.strip() == (
        "booked 2 appointments: 1, 2")
    bot("appointments", "book", "--kind", "coaching", "--time", "2026-12-03 10:30", "--place", "Jobcentret",
        refs[1], db=db, env=NOW)
    listing = bot("appointments", "list", db=db, env=NOW).stdout.splitlines()
    assert listing == [
        "2  Thursday 26 November at 14:00  45 min  screening  https://video.example.dk/a",
        f"    {refs[0]}  no answer",
        "1  Tuesday 1 December at 09:00  180 min  group  Rådhuset, sal B",
        *sorted(f"    {ref}  no answer" for ref in refs),
        "3  Thursday 3 December at 10:30  60 min  coaching  Jobcentret",
        f"    {refs[1]}  no answer",
    ]


GENTOFTE = {**NOW, "BOT_FIXED_NOW": "2026-03-13T11:00:00+00:00",  # Friday noon, before the course begins
            "BOT_PROGRAMME": "tests/programmes/gentofte_groups.yaml"}


def test_a_cohorts_group_sessions_booked_at_enrolment_checked_again_moved_and_cancelled(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    people = (("Anna Test", "12345678", "--new-cohort"), ("Bo Test", "23456789", "--cohort"))  # she starts it
    refs = [bot("enroll", "--name", name, "--phone", phone, cohort, "gentofte-1", "--start-date", "2026-03-16",
                db=db, env=GENTOFTE).stdout.strip() for name, phone, cohort in people]
    again = bot("appointments", "sessions", "--cohort", "gentofte-1", db=db, env=GENTOFTE)
    assert again.stdout.splitlines() == ["cohort gentofte-1, group sessions 'group_course': 0 booked, 0 places given, "
                                         "8 ahead"]
    listing = bot("appointments", "list", db=db, env=GENTOFTE).stdout.splitlines()
    assert listing[:3] == ["1  Monday 16 March at 09:00  180 min  group  Gentofte Rådhus, mødelokale 2",
                           *sorted(f"    {ref}  no answer" for ref in refs)]
    assert len([row for row in listing if not row.startswith(" ")]) == 8

    moved = bot("appointments", "move", "3", "--time", "27-03-2026 09:00", db=db, env=GENTOFTE)
    assert moved.stdout.strip() == "moved appointment 3 to Friday 27 March at 09:00; its attendees are told"
    assert bot("appointments", "cancel", "4", db=db, env=GENTOFTE).stdout.strip() == (
        "cancelled appointment 4; its attendees are told")
    refused = bot("appointments", "cancel", "4", db=db, env=GENTOFTE, check=False)
    assert (refused.returncode, refused.stderr.splitlines()[-1]) == (2, "appointment 4 is already cancelled")
    listing = bot("appointments", "list", db=db, env=GENTOFTE).stdout.splitlines()
    cancelled = "4  Thursday 26 March at 09:00  180 min  group  Gentofte Rådhus, mødelokale 2"
    assert listing[listing.index(cancelled) + 1] == "    cancelled"
    assert "3  Friday 27 March at 09:00  180 min  group  Gentofte Rådhus, mødelokale 2" in listing
    # booking again neither revives the cancelled session nor books the moved one at its old time
    assert bot("appointments", "sessions", "--cohort", "gentofte-1", db=db, env=GENTOFTE).stdout.splitlines() == [
        "cohort gentofte-1, group sessions 'group_course': 0 booked, 0 places given, 7 ahead"]

    unknown = bot("appointments", "sessions", "--cohort", "gentofte-2", db=db, env=GENTOFTE, check=False)
    assert (unknown.returncode, unknown.stderr.splitlines()[-1]) == (2, "no cohort 'gentofte-2' (cohorts: gentofte-1)")
    shipped = bot("appointments", "sessions", "--cohort", "gentofte-1", db=db, env=NOW, check=False)
    assert (shipped.returncode, shipped.stderr.splitlines()[-1]) == (
        2, "the programme file declares no group_sessions (see docs/programme.md)")
