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
