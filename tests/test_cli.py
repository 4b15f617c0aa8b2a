"""The command line as a person uses it: separate processes on one database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bot(*args: str, stdin: str = "", db: Path | None = None, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if db is not None:
        full_env["BOT_DB"] = str(db)
    result = subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                            cwd=ROOT, env=full_env, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_the_commands() -> None:
    out = bot("--help").stdout
    for command in ("chat", "flows", "export"):
        assert command in out
    assert "--db PATH" in bot("chat", "--help").stdout
    assert "--db PATH" in bot("export", "--help").stdout


def test_flows_check_ok_and_broken(tmp_path: Path) -> None:
    assert bot("flows", "check").stdout.strip().endswith(
        "8 flows OK, risk word list OK, programme 'arbejdsliv_uden_stress' OK, programme 'stress_programme' (the "
        "default) OK, programme 'tre_metoden' OK")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nversion: 1\nlanguages: [da]\ntitle: X\nsteps:\n  - id: q1\n    type: sliders\n"
                      "    text: Hej\n", encoding="utf-8")
    result = bot("flows", "check", str(tmp_path), check=False)
    assert result.returncode == 1
    assert f"{broken}:7: error: step 'q1' has unknown type 'sliders'" in result.stdout
    assert "1 error(s) in 1 file(s)" in result.stdout


def test_pause_then_resume_in_a_new_process(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = bot("chat", "--participant", "carl", "--start", "pss10", stdin="2\n3\nPAUSE\n", db=db).stdout
    assert "(3/10)" in first and "Vi holder pause her. Dine svar er gemt." in first
    second = bot("chat", "--participant", "carl", stdin="\n".join(["1"] * 8) + "\n", db=db).stdout
    assert second.startswith("Velkommen tilbage. Vi fortsætter, hvor du slap.\n\n(3/10)")
    assert "Din score er" in second
    scores = json.loads(bot("export", "scores", "--format", "json", db=db).stdout)
    # q1=2, q2=3, q3..q10=1 with q4, q5, q7, q8 reversed to 3: 2 + 3 + 4*1 + 4*3 = 21
    assert [(s["participant"], s["score_id"], s["value"], s["band"]) for s in scores] == [
        ("carl", "total", 21, "entry_criterion")]
    answers = bot("export", "answers", "--format", "csv", db=db).stdout.splitlines()
    assert answers[0] == "participant,flow_id,flow_version,run_seq,item_id,value,raw_text,answered_at"
    assert len(answers) == 11 and answers[1].startswith("carl,pss10,2,1,q1,2,2,")


def test_new_participant_starts_with_the_baseline_questionnaire(tmp_path: Path) -> None:
    out = bot("chat", "--participant", "dora", "--lang", "en", stdin="", db=tmp_path / "bot.db").stdout
    assert out.startswith("Here are 10 questions") and "(1/10)" in out


def test_crash_after_commit_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    crashed = bot("chat", "--participant", "eva", "--start", "pss10", stdin="2\n", db=db,
                  env={"BOT_CRASH_AT": "after-commit"}, check=False)
    assert crashed.returncode == 137
    assert "(2/10)" not in crashed.stdout  # it died after committing the answer, before showing the reply
    restarted = bot("chat", "--participant", "eva", stdin="", db=db).stdout
    # the reply committed before the crash is shown once, then the bot picks up the conversation
    assert restarted.count("(2/10)") == 2 and restarted.index("(2/10)") < restarted.index("Velkommen tilbage")
    answers = json.loads(bot("export", "answers", "--format", "json", db=db).stdout)
    assert [(a["item_id"], a["value"]) for a in answers] == [("q1", 2)]
    again = bot("chat", "--participant", "eva", stdin="", db=db).stdout
    assert again.count("(2/10)") == 1  # nothing left over in the outbox


def test_crash_before_the_coach_is_told_still_tells_the_coach_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    risky = "jeg vil tage mit liv i nat\n"
    crashed = bot("chat", "--participant", "ida", stdin=risky, db=db, env={"BOT_CRASH_AT": "before-notify"},
                  check=False)
    assert crashed.returncode == 137 and "Risikoalarm" not in crashed.stderr
    assert "Tak, fordi du fortæller mig det." not in crashed.stdout  # died before the reply was shown
    restarted = bot("chat", "--participant", "ida", stdin="", db=db)
    assert restarted.stdout.count("Tak, fordi du fortæller mig det.") == 1  # the safety reply, once
    assert restarted.stdout.index("Er du i akut fare, så ring 112.") < restarted.stdout.index("Livslinien")
    assert restarted.stderr.count("Risikoalarm #1 (høj) for deltager ida") == 1  # the coach, once
    again = bot("chat", "--participant", "ida", stdin="", db=db)
    assert "Risikoalarm" not in again.stderr and "Tak, fordi du fortæller mig det." not in again.stdout
    listing = bot("escalations", "list", "--open", db=db).stdout
    assert listing.startswith("#1\thigh\topen\tparticipant ida")


def test_coach_desk_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    bot("chat", "--participant", "jon", stdin="I want to kill myself\nno\n", db=db)
    desk = bot("coach", "--coach", "coach", stdin="VIS 1\nOK 1\nLUK 1\nLUK 1 Talked on the phone, plan agreed\n",
               db=db).stdout
    assert desk.startswith("#1 moderat, åben, deltager jon")
    assert "»I want to kill myself«" in desk and "Kvitteret for #1" in desk and "#1 er lukket" in desk
    assert "For at lukke skal du skrive kort" in desk
    assert bot("escalations", "list", "--open", db=db).stdout.strip() == "no escalations"
    refused = bot("coach", "--coach", "jon", stdin="LIST\n", db=db, check=False)
    assert refused.returncode == 1 and "#1" not in refused.stdout


def test_flows_check_with_a_database_finds_an_edit_without_a_new_version(tmp_path: Path) -> None:
    db, flows = tmp_path / "bot.db", tmp_path / "flows"
    flows.mkdir()
    source = (ROOT / "flows" / "definitions" / "life_satisfaction.yaml").read_text(encoding="utf-8")
    (flows / "life_satisfaction.yaml").write_text(source, encoding="utf-8")
    bot("chat", "--participant", "kim", "--start", "life_satisfaction", stdin="7\n", db=db,
        env={"BOT_FLOWS_DIR": str(flows)})
    assert bot("flows", "check", str(flows), "--db", str(db)).returncode == 0
    (flows / "life_satisfaction.yaml").write_text(source.replace("for tiden?", "lige nu?"), encoding="utf-8")
    result = bot("flows", "check", str(flows), "--db", str(db), check=False)
    version_line = next(n for n, row in enumerate(source.splitlines(), 1) if row.startswith("version:"))
    assert result.returncode == 1
    assert f"life_satisfaction.yaml:{version_line}: error: the file was changed after version 1" in result.stdout


def test_enrol_one_participant_and_a_csv_with_bad_rows(tmp_path: Path) -> None:
    db, now = tmp_path / "bot.db", {"BOT_FIXED_NOW": "2026-11-23T09:00:00+00:00"}
    one = bot("enroll", "--name", "Anna Test", "--phone", "12 34 56 78", "--telegram", db=db,
              env={"TELEGRAM_BOT_USERNAME": "stress_test_bot", **now})
    ref, link = one.stdout.strip().split("\t")
    assert ref.startswith("p-") and link.startswith("https://t.me/stress_test_bot?start=")
    assert f"{ref}: the Telegram link is on its way to their phone by SMS" in one.stderr
    assert "12345678" not in one.stdout + one.stderr  # a phone number is never echoed
    people = tmp_path / "people.csv"
    people.write_text("name,phone,telegram,lang,start_date,coach\n"
                      "Bo,+45 87 65 43 21,,en,2026-12-01,coach\n"
                      ",11111111,,da,,\n"  # no name
                      "Cai,1234,,da,,\n"  # not a phone number
                      "Dan,12345678,,da,,\n"  # Anna's number
                      "Eva,,,da,,\n"  # no way to reach her
                      "Finn,22222222,,da,2026-31-12,\n"  # no 31st month
                      "Gry,33333333,,da,,nobody\n", encoding="utf-8")  # an unknown coach
    many = bot("enroll", "--csv", str(people), db=db, env=now, check=False)
    assert many.returncode == 1
    assert "no one was enrolled: 6 problem(s) to fix first" in many.stderr  # Bo is fine, but not alone
    for row in (3, 4, 5, 6, 7, 8):
        assert f"row {row}: " in many.stderr
    assert "row 2: " not in many.stderr and "participant " + ref in many.stderr  # whose number it is, by ref
    assert "87654321" not in many.stdout + many.stderr and "12345678" not in many.stderr
    people.write_text("name,phone,telegram,lang,start_date,coach\nBo,+45 87 65 43 21,,en,2026-12-01,coach\n",
                      encoding="utf-8")
    assert "1 enrolled" in bot("enroll", "--csv", str(people), db=db, env=now).stderr  # Bo was not enrolled before


def test_flows_check_warns_about_long_sms(tmp_path: Path) -> None:
    long_text = "Dette er en meget lang besked. " * 20
    (tmp_path / "long.yaml").write_text(
        "id: long\nversion: 1\nlanguages: [da]\ntitle: Lang\nsteps:\n  - id: hello\n    type: message\n"
        f"    text: \"{long_text.strip()}\"\n", encoding="utf-8")
    result = bot("flows", "check", str(tmp_path), env={"SMS_MAX_SEGMENTS": "3"})
    warning = "warning: step 'hello' in 'da' takes 5 SMS segments (more than 3)"
    assert f"{tmp_path / 'long.yaml'}:6: {warning}" in result.stdout
    assert result.stdout.strip().endswith("1 flows OK, risk word list OK, no programme file")


def test_programme_preview_prints_the_whole_timeline_in_local_time() -> None:
    out = bot("programme", "preview", "--start", "2026-03-16").stdout.splitlines()
    assert out[0].startswith("date") and "channel" in out[0]
    assert out[1] == ("Mon 16.03.2026 10:00  sms       Modul 1 er klar: Introduktion og teori. Du finder det her: "
                      "https://stressforloeb.example.dk/modul/1")
    assert out[3] == ("Mon 16.03.2026 10:00  sms       Det er tid til en måling af, hvordan du har det. "
                      "Den tager 5-10 minutter.")
    assert any(line.startswith("Mon 30.03.2026 10:00  sms       Modul 3 er klar") for line in out)  # after DST
    assert any(line.startswith("Mon 14.09.2026 10:00  sms       Det er tid til en måling") for line in out)
    times = [line[15:20] for line in out[1:-1] if line[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")]
    assert times and all("08:00" <= t < "21:00" for t in times)
    assert out[-1].endswith("messages")
    english = bot("programme", "preview", "--start", "2026-03-16", "--lang", "en", "--channel", "telegram").stdout
    assert "Mon 16.03.2026 10:00  telegram  It is time to measure how you are." in english


def test_enrolment_plans_the_programme_from_the_start_date(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    bot("enroll", "--name", "Jens Test", "--phone", "+4512345679", "--start-date", "2026-03-16", db=db,
        env={"BOT_FIXED_NOW": "2026-03-13T12:00:00+01:00"})  # the Friday before
    listing = bot("tasks", "list", "--coach", "coach", db=db).stdout
    assert listing.strip() == "Ingen åbne opgaver."
    assert bot("tasks", "list", "--coach", "nobody", db=db, check=False).returncode == 2
    ticked = bot("programme", "tick", db=db, env={"BOT_FIXED_NOW": "2026-03-16T09:00:00+00:00"})
    assert "2 scheduled events handled" in ticked.stderr  # the baseline measurement and module 1 (deferred)
