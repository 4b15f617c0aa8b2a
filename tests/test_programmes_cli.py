"""Several programmes from the command line, as an administrator runs them (separate processes on one database file):
enrolment chooses one (`--programme`, a CSV column), and the preview, the outcome report and `flows check` work per
programme; a deployment from before keeps working with its one programme file (BOT_PROGRAMME, programme.yaml)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from storage import open_storage
from tests.test_cli import ROOT, bot

PROGRAMMES = ROOT / "flows" / "programmes"
CHOICES = "arbejdsliv_uden_stress, stress_programme, tre_metoden"


async def test_enrolment_by_csv_and_option_records_each_choice_and_plans_only_that_programme(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    rows = tmp_path / "people.csv"
    rows.write_text("name,phone,start_date,programme\n"
                    "Gitte,+4520000001,2026-03-16,arbejdsliv_uden_stress\n"
                    "Tor,+4520000002,2026-03-16,tre_metoden\n"
                    "Ulla,+4520000003,2026-03-16,\n"
                    "Vera,+4520000004,2026-03-16,gentofte\n", encoding="utf-8")
    refused = bot("enroll", "--csv", str(rows), "--programme", "arbejdsliv_uden_stress", "--allow-past", db=db,
                  check=False)
    assert refused.returncode == 1  # a list with a problem enrols no one: the corrected file enrols no one twice
    assert f"row 5: There is no programme gentofte in this deployment. The programmes are: {CHOICES}." in (
        refused.stderr)
    assert "no one was enrolled" in refused.stderr
    rows.write_text("\n".join(rows.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")
    result = bot("enroll", "--csv", str(rows), "--programme", "arbejdsliv_uden_stress", "--allow-past", db=db)
    assert "3 enrolled" in result.stderr
    assert result.stderr.count(": programme arbejdsliv_uden_stress") == 2  # Gitte by her row, Ulla by --programme
    bot("enroll", "--name", "Sanne", "--phone", "+4520000005", "--start-date", "2026-03-16", "--allow-past",
        db=db)  # the default
    storage = await open_storage(db)
    try:
        chosen = {}
        for pid in await storage.participant_ids():
            profile = await storage.profile(pid)
            assert profile is not None
            kinds = {r.kind for r in await storage.schedule_of(pid) if r.kind != "run_expiry"}
            chosen[profile.name] = (await storage.programme_of(pid), kinds)
    finally:
        await storage.close()
    assert chosen == {
        "Gitte": ("arbejdsliv_uden_stress", {"phase", "wave_open"}),
        "Tor": ("tre_metoden", {"phase", "wave_open", "exercise", "tre_summary"}),
        "Ulla": ("arbejdsliv_uden_stress", {"phase", "wave_open"}),
        "Sanne": ("stress_programme", {"module", "wave_open", "exercise", "checkin", "tre_summary"}),
    }

    # each programme's report reads its own participants only, and says which programme it is
    gentofte = json.loads(bot("report", "outcomes", "--programme", "arbejdsliv_uden_stress", "--format", "json",
                              db=db).stdout)
    assert gentofte["filters"]["programme"] == "arbejdsliv_uden_stress"
    figures = {f["key"]: f["value"] for f in gentofte["figures"]}
    assert figures["participants.enrolled"] == 2
    default = json.loads(bot("report", "outcomes", "--format", "json", db=db).stdout)
    assert default["filters"]["programme"] == "stress_programme"
    assert {f["key"]: f["value"] for f in default["figures"]}["participants.enrolled"] == 1
    text = bot("report", "outcomes", "--programme", "tre_metoden", db=db).stdout.splitlines()
    assert text[2] == "Forløb: TRE-metoden (grupper af 10) (tre_metoden)"
    wrong = bot("report", "outcomes", "--programme", "tre", db=db, check=False)
    assert wrong.returncode == 1 and f"no programme 'tre': choose one of {CHOICES}" in wrong.stderr


def test_the_preview_is_per_programme() -> None:
    gentofte = bot("programme", "preview", "--programme", "arbejdsliv_uden_stress", "--start", "2026-03-16").stdout
    lines = gentofte.splitlines()
    assert lines[1].startswith("Mon 16.03.2026 10:00  sms       Velkommen til forløbet \"Et arbejdsliv uden stress\".")
    assert any(line.startswith("Mon 13.04.2026 10:00  sms       Gruppeforløbet er slut.") for line in lines)
    assert "Modul" not in gentofte and "TRE" not in gentofte and lines[-1] == "21 messages"
    wrong = bot("programme", "preview", "--programme", "bornholm", check=False)
    assert wrong.returncode == 1 and f"no usable programme 'bornholm': choose one of {CHOICES}" in wrong.stderr


def test_flows_check_checks_the_programmes_together(tmp_path: Path) -> None:
    folder = tmp_path / "programmes"
    shutil.copytree(PROGRAMMES, folder)
    tre = folder / "tre_metoden.yaml"
    tre.write_text(tre.read_text(encoding="utf-8").replace("id: tre_metoden", "id: stress_programme\ndefault: true"),
                   encoding="utf-8")
    result = bot("flows", "check", str(folder), check=False)
    assert result.returncode == 1
    errors = [row for row in result.stdout.splitlines() if ": error: " in row]
    assert errors == [
        f"{folder / 'stress_programme.yaml'}:1: error: programme id 'stress_programme' is also the id of {tre}: each "
        "programme needs an id of its own (participants are recorded with it), so neither file is used",
        f"{tre}:1: error: programme id 'stress_programme' is also the id of {folder / 'stress_programme.yaml'}: each "
        "programme needs an id of its own (participants are recorded with it), so neither file is used",
    ]
    tre.write_text(tre.read_text(encoding="utf-8").replace("id: stress_programme", "id: tre_metoden"),
                   encoding="utf-8")
    two = bot("flows", "check", str(folder), check=False)
    assert two.returncode == 1 and two.stdout.count("are all marked `default: true`: only one can be the default") == 2
    (folder / "stress_programme.yaml").unlink()
    tre.write_text(tre.read_text(encoding="utf-8").replace("default: true\n", ""), encoding="utf-8")
    none = bot("flows", "check", str(folder))
    assert ("2 programmes (arbejdsliv_uden_stress, tre_metoden) and none is marked `default: true`: every "
            "enrolment must name one (--programme)") in none.stdout
    assert none.stdout.splitlines()[-1].endswith("programme 'arbejdsliv_uden_stress' OK, programme 'tre_metoden' OK")


async def test_a_deployment_with_one_programme_file_keeps_working(tmp_path: Path) -> None:
    """BOT_PROGRAMME naming one file, or a programme.yaml beside the flows folder: that one programme, the default
    whether marked or not, and enrolment needs no --programme."""
    single = tmp_path / "mine.yaml"
    single.write_text((PROGRAMMES / "tre_metoden.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {"BOT_PROGRAMME": str(single)}
    assert bot("flows", "check", env=env).stdout.splitlines()[-1].endswith(
        "risk word list OK, programme 'tre_metoden' OK")
    preview = bot("programme", "preview", "--start", "2026-03-16", env=env).stdout.splitlines()
    assert preview[1].startswith("Mon 16.03.2026 10:00  sms       Velkommen til TRE-forløbet.")

    flows = tmp_path / "municipality" / "definitions"
    shutil.copytree(ROOT / "flows" / "definitions", flows)
    shutil.copy(PROGRAMMES / "arbejdsliv_uden_stress.yaml", flows.parent / "programme.yaml")
    beside = {"BOT_FLOWS_DIR": str(flows)}
    db = tmp_path / "bot.db"
    bot("enroll", "--name", "Gitte", "--phone", "+4520000001", db=db, env=beside)
    storage = await open_storage(db)
    try:
        assert [await storage.programme_of(pid) for pid in await storage.participant_ids()] == [
            "arbejdsliv_uden_stress"]
    finally:
        await storage.close()
    preview = bot("programme", "preview", "--start", "2026-03-16", env=beside).stdout.splitlines()
    assert preview[1].startswith("Mon 16.03.2026 10:00  sms       Velkommen til forløbet")
