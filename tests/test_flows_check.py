"""`flows check` on a folder as an administrator keeps it: every file checked as what it is (flows, the programme,
the risk word list, a deployment file), with file and line; and a flow edited without a new `version:` refused by
the published texts' fingerprints, with or without a database."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bot.file_check import FileKind, kind_of
from flows.fingerprints import (
    FingerprintFileError,
    PublishedFlow,
    compare_with_published,
    dump_fingerprints,
    fingerprint,
    parse_fingerprints,
    with_recorded,
)
from tests.test_cli import ROOT, bot

FLOWS = ROOT / "flows"
DEFINITIONS = FLOWS / "definitions"


def line_of(path: Path, start: str) -> int:
    """The line (1-based) of the first row of `path` starting with `start`, found by hand in the file."""
    rows = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, row in enumerate(rows, 1) if row.strip().startswith(start))


def copy_of_the_shipped_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "municipality"
    shutil.copytree(FLOWS, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.copy(ROOT / "bot" / "deployment.yaml", folder / "deployment.yaml")
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_folder_is_checked_file_by_file_without_bogus_errors() -> None:
    result = bot("flows", "check", "flows/", "bot/deployment.yaml")
    assert " error: " not in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "8 flows OK, risk word list OK, programme 'arbejdsliv_uden_stress' OK, programme 'stress_programme' "
        "(the default) OK, programme 'tre_metoden' OK, deployment OK")


def test_a_copied_folder_shows_the_real_mistakes_of_each_file(tmp_path: Path) -> None:
    folder = copy_of_the_shipped_folder(tmp_path)
    programme, deployment = folder / "programmes" / "stress_programme.yaml", folder / "deployment.yaml"
    edit(programme, 'send_time: "10:00"', "send_time: 10:00")
    edit(programme, "    day: 7\n", "    day: 200\n")  # module 2
    edit(programme, "weekday: sun", "weekday: man")
    edit(deployment, "  out_of_hours: [coach]", "  out_of_hours: [nobody]")
    edit(folder / "risk_terms.yaml", "\nwindow: 5\n", "\nwindow: 99\n")
    result = bot("flows", "check", str(folder), check=False)
    assert result.returncode == 1
    errors = [row for row in result.stdout.splitlines() if ": error: " in row]
    words = folder / "risk_terms.yaml"
    assert errors == [
        f"{programme}:{line_of(programme, 'send_time:')}: error: send_time of the programme: put the time in "
        "quotes, e.g. \"10:00\" (without quotes YAML reads 10:00 as a number)",
        f"{programme}:{line_of(programme, 'day: 200')}: error: module 2 is released on day 200, after the "
        "programme's last day",
        f"{programme}:{line_of(programme, '- number: 3')}: error: module 3 is released before module 2",
        f"{programme}:{line_of(programme, 'weekday: man')}: error: weekday of tre_summary: 'man' is not a weekday "
        "(mon, tue, wed, thu, fri, sat, sun)",
        f"{words}:{line_of(words, 'window: 99')}: error: window must be a whole number of words from 0 to 30, "
        "not 99",
        f"{deployment}:{line_of(deployment, 'out_of_hours: [nobody]')}: error: roster out_of_hours names "
        "'nobody', who is not in coaches",
    ]
    assert "in the flow" not in result.stdout  # nothing is checked as a flow that is not one
    assert result.stdout.splitlines()[-1] == "6 error(s) in 3 file(s)"


def test_an_edited_flow_needs_a_new_version_even_without_a_database(tmp_path: Path) -> None:
    folder = copy_of_the_shipped_folder(tmp_path)
    pss10, record_file = folder / "definitions" / "pss10.yaml", folder / "definitions" / "fingerprints.json"
    published = record_file.read_text(encoding="utf-8")
    version_line = line_of(pss10, "version:")
    v = int(re.search(r"^version: (\d+)", pss10.read_text(encoding="utf-8"), re.M).group(1))  # type: ignore[union-attr]
    edit(pss10, "da: Ind i mellem,", "da: Indimellem,")  # the administrator rewords a question, version unchanged
    refused = bot("flows", "check", str(folder), check=False)
    assert refused.returncode == 1
    assert f"{pss10}:{version_line}: error: flow 'pss10' was changed but version {v} was already published with " \
           f"another text ({record_file}): raise version to {v + 1}, then run `flows check --record`; or undo the " \
           "change" in refused.stdout
    not_recorded = bot("flows", "check", "--record", str(folder), check=False)
    assert not_recorded.returncode == 1 and "nothing recorded: fix the errors first" in not_recorded.stderr
    assert record_file.read_text(encoding="utf-8") == published

    edit(pss10, f"version: {v}", f"version: {v + 1}")
    raised = bot("flows", "check", str(folder))
    assert f"{pss10}:{version_line}: warning: flow 'pss10' version {v + 1} is not in {record_file} yet" \
        in raised.stdout
    recorded = bot("flows", "check", "--record", str(folder))
    assert f"recorded pss10 v{v + 1} in {record_file}" in recorded.stdout
    versions = json.loads(record_file.read_text(encoding="utf-8"))["pss10"]
    assert versions == {**json.loads(published)["pss10"], str(v + 1): fingerprint(pss10.read_text(encoding="utf-8"))}
    assert "pss10" not in bot("flows", "check", str(folder)).stdout  # recorded: nothing more to say about it

    edit(pss10, f"version: {v + 1}", f"version: {v}")  # going back to a published number with the new text
    back = bot("flows", "check", str(folder), check=False)
    assert f"error: flow 'pss10' was changed but version {v} was already published" in back.stdout
    assert f"raise version to {v + 2}" in back.stdout


def test_every_shipped_flow_is_the_text_published_under_its_version() -> None:
    """Fails when someone edits a shipped flow without raising `version:` (or forgets `flows check --record`)."""
    recorded = parse_fingerprints((DEFINITIONS / "fingerprints.json").read_text(encoding="utf-8"))
    shipped = []
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        flow_id = path.stem
        version = int(text.split("\nversion:", 1)[1].split()[0])
        shipped.append(PublishedFlow(flow_id, version, text, str(path)))
    assert len(shipped) == 8
    assert compare_with_published(shipped, recorded, "fingerprints.json") == []


def test_each_file_is_recognised_by_its_keys_and_by_its_name_only_when_they_do_not_say(tmp_path: Path) -> None:
    assert kind_of(DEFINITIONS / "pss10.yaml") is FileKind.FLOW
    assert kind_of(FLOWS / "programmes" / "tre_metoden.yaml") is FileKind.PROGRAMME
    assert kind_of(FLOWS / "risk_terms.yaml") is FileKind.WORD_LIST
    assert kind_of(ROOT / "bot" / "deployment.yaml") is FileKind.DEPLOYMENT
    renamed = tmp_path / "gentofte.yaml"
    shutil.copy(FLOWS / "programmes" / "stress_programme.yaml", renamed)
    assert kind_of(renamed) is FileKind.PROGRAMME
    (tmp_path / "programme.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    assert kind_of(tmp_path / "programme.yaml") is FileKind.PROGRAMME
    (tmp_path / "other.yaml").write_text("id: x\n", encoding="utf-8")
    assert kind_of(tmp_path / "other.yaml") is FileKind.FLOW


def test_a_recorded_fingerprint_is_never_replaced() -> None:
    v1 = PublishedFlow("checkin", 1, "id: checkin\nversion: 1\n", "checkin.yaml")
    recorded, added = with_recorded({}, [v1])
    assert added == ["checkin v1"] and parse_fingerprints(dump_fingerprints(recorded)) == recorded
    assert with_recorded(recorded, [v1]) == (recorded, [])
    with pytest.raises(FingerprintFileError, match="checkin v1 is recorded with another text"):
        with_recorded(recorded, [PublishedFlow("checkin", 1, "id: checkin\nversion: 1\n# edited\n", "checkin.yaml")])
    assert fingerprint("a\r\nb\n") == fingerprint("a\nb\n")  # as the bot reads it on every system
    with pytest.raises(FingerprintFileError):
        parse_fingerprints('{"checkin": {"one": "abc"}}')
