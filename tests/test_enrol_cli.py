"""`python -m bot enrol` as an administrator met it (issue 15): a Danish Excel file, a start date eleven months ago,
a cohort typo, the bot's @name from BotFather, and the question where the Telegram link goes. Separate processes on
one database file, the clock pinned to Monday 23 November 2026, 10:00 in Copenhagen."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import bot

NOW = {"BOT_FIXED_NOW": "2026-11-23T09:00:00+00:00", "TELEGRAM_BOT_USERNAME": "@stress_test_bot"}


def test_a_danish_excel_file_with_semicolons_a_byte_order_mark_and_danish_dates(tmp_path: Path) -> None:
    db, people = tmp_path / "bot.db", tmp_path / "deltagere.csv"
    people.write_bytes("\ufeffNavn;Telefon;Telegram;Sprog;Startdato;Vejleder;Hold\r\n"
                       "Søren Ærø;12 34 56 78;ja;da;23-11-2026;coach;bornholm-2026-4\r\n"
                       "Bo Berg;87654321;;en;30.11.2026;backup;bornholm-2026-4\r\n"
                       ";;;;;;\r\n".encode())
    enrolled = bot("enrol", "--csv", str(people), "--new-cohort", "bornholm-2026-4", db=db, env=NOW)
    lines = enrolled.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("p-") and "\thttps://t.me/stress_test_bot?start=" in lines[0]
    soren, bo = lines[0].split("\t")[0], lines[1]
    assert f"{soren}: the Telegram link is on its way to their phone by SMS; it works once, until 7 December at " \
           "10:00" in enrolled.stderr
    assert f"{bo}: an SMS invite is on its way to their phone" in enrolled.stderr
    assert enrolled.stderr.strip().endswith("2 enrolled")
    assert "12345678" not in enrolled.stdout + enrolled.stderr and "Søren" not in enrolled.stderr

    windows = tmp_path / "windows-1252.csv"  # Excel's "CSV (semikolonsepareret)"
    windows.write_bytes("navn;telefon;startdato\r\nÅse Øby;23456789;1.12.2026\r\n".encode("cp1252"))
    assert bot("enrol", "--csv", str(windows), "--cohort", "bornholm-2026-4", db=db, env=NOW).stdout.startswith("p-")


def test_a_start_date_eleven_months_ago_is_refused_until_allowed_and_does_what_it_said(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    refused = bot("enrol", "--name", "Ida Test", "--phone", "+4512345678", "--start-date", "23.12.2025", db=db,
                  env=NOW, check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "no one was enrolled" in refused.stderr
    assert ("the start date 2025-12-23 is 335 days in the past; the measurements baseline (day 0), week4 (day 28), "
            "end (day 84), month6 (day 182) would at once be recorded as missed, with 4 task(s) for the coach; "
            "modules 1, 2, 3, 4, 5, 6, 7, 8 would never be sent; add --allow-past to enrol anyway") in refused.stderr
    assert bot("tasks", "list", "--coach", "coach", db=db, env=NOW).stdout.strip() == "Ingen åbne opgaver."

    allowed = bot("enrol", "--name", "Ida Test", "--phone", "+4512345678", "--start-date", "23.12.2025",
                  "--coach", "coach", "--allow-past", db=db, env=NOW)
    assert "note: the start date 2025-12-23 is 335 days in the past" in allowed.stderr
    bot("programme", "tick", db=db, env=NOW)
    tasks = bot("tasks", "list", "--coach", "coach", db=db, env=NOW).stdout
    assert tasks.count("en måling blev ikke besvaret") == 4  # what the refusal said, no more and no less


def test_a_cohort_typo_is_refused_and_a_new_cohort_is_started_on_purpose(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    bot("enrol", "--name", "Anna Test", "--phone", "12345678", "--new-cohort", "bornholm-2026-4", db=db, env=NOW)
    typo = bot("enrol", "--name", "Bo Test", "--phone", "23456789", "--cohort", "bornholm-2026-l", db=db, env=NOW,
               check=False)
    assert typo.returncode == 1
    assert ("there is no cohort bornholm-2026-l yet: check the spelling, or add --new-cohort bornholm-2026-l to "
            "start it") in typo.stderr
    assert bot("enrol", "--name", "Bo Test", "--phone", "23456789", "--cohort", "bornholm-2026-4", db=db,
               env=NOW).stdout.startswith("p-")
    both = bot("enrol", "--name", "Cai", "--phone", "34567890", "--cohort", "a", "--new-cohort", "b", db=db,
               env=NOW, check=False)
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_telegram_only_participant_gets_a_link_to_hand_over_without_the_at_sign(tmp_path: Path) -> None:
    shown = bot("enrol", "--name", "Jo", "--telegram", db=tmp_path / "bot.db", env=NOW)
    ref, link = shown.stdout.strip().split("\t")
    assert link.startswith("https://t.me/stress_test_bot?start=") and "@" not in link
    assert (f"{ref}: no message was sent (there is no phone number): give them the Telegram link yourself, printed "
            "or as a QR code (the desk's enrolment page shows one); it works once, until 7 December at 10:00"
            ) in shown.stderr
    unset = bot("enrol", "--name", "Jo", "--telegram", db=tmp_path / "bot.db",
                env={**NOW, "TELEGRAM_BOT_USERNAME": ""}, check=False)
    assert unset.returncode == 1 and "A Telegram invite needs the bot's username: set TELEGRAM_BOT_USERNAME" \
        in unset.stderr
