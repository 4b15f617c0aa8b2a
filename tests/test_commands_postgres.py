"""The command line on PostgreSQL: `BOT_DB=postgresql+psycopg://...` for every command, in separate processes, on
a database of the test's own on the run's throwaway server (tests/postgres_cluster.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from storage.crypto import new_key_values
from tests.postgres_cluster import PostgresCluster

ROOT = Path(__file__).resolve().parent.parent


def commands_on(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process on `url`: keys from the environment (a server database has no key file),
    run from `workdir` so that any file a command made would show there."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB": url, **new_key_values(), **extra}


def bot(env: dict[str, str], workdir: Path, *args: str, stdin: str = "",
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                            cwd=workdir, env=env, timeout=120, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_enrol_answer_export_report_and_erase_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    env = commands_on(postgres_url, tmp_path)
    anna = bot(env, tmp_path, "enroll", "--name", "Anna", "--phone", "+4512345678", "--new-cohort", "north",
               "--start-date", "2026-11-23", "--allow-past").stdout.strip()
    assert anna.startswith("p-")
    chat = bot(env, tmp_path, "chat", "--participant", "carl", "--start", "pss10", stdin="2\n3\n" + "1\n" * 8).stdout
    assert "Din score er" in chat

    scores = json.loads(bot(env, tmp_path, "export", "scores", "--format", "json").stdout)
    assert [(s["participant"], s["score_id"], s["value"]) for s in scores] == [("carl", "total", 21)]
    answers = bot(env, tmp_path, "export", "answers").stdout.splitlines()
    assert len(answers) == 11 and answers[1].startswith("carl,pss10,2,1,q1,2,2,")
    assert bot(env, tmp_path, "escalations", "list").stdout.strip() == "no escalations"

    report = json.loads(bot(env, tmp_path, "report", "outcomes", "--cohort", "north", "--format", "json").stdout)
    figures = {figure["key"]: figure["value"] for figure in report["figures"]}
    assert figures["participants.enrolled"] == 1  # Anna; carl came in through the console, in no cohort
    unknown = bot(env, tmp_path, "report", "outcomes", "--cohort", "south", check=False)
    assert unknown.returncode == 1 and "cohorts: north" in unknown.stderr

    document = json.loads(bot(env, tmp_path, "person", "export", anna).stdout)
    assert document["participant"] == anna
    assert [row["cohort"] for row in document["tables"]["profiles"]] == ["north"]
    erased = bot(env, tmp_path, "person", "erase", anna, "--yes")
    assert f"{anna} erased:" in erased.stderr
    gone = bot(env, tmp_path, "person", "export", anna, check=False)
    assert gone.returncode == 1 and f"no participant with the ref {anna!r}" in gone.stderr

    # the rows are in PostgreSQL, and nothing fell back to a SQLite file in the working directory
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        refs = [ref for (ref,) in conn.execute("SELECT ref FROM participants ORDER BY ref")]
    assert refs == ["carl"]
    assert list(tmp_path.iterdir()) == []


def test_a_server_database_is_not_made_by_a_typo_and_needs_its_keys(postgres_cluster: PostgresCluster,
                                                                     tmp_path: Path) -> None:
    missing = commands_on(postgres_cluster.url("no_such_database"), tmp_path)
    result = bot(missing, tmp_path, "export", "answers", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("the database failed: connection failed")
    assert 'database "no_such_database" does not exist' in result.stderr
    assert "Traceback" not in result.stderr

    without_keys = {name: value for name, value in commands_on(postgres_cluster.url(), tmp_path).items()
                    if name not in new_key_values()}
    result = bot(without_keys, tmp_path, "escalations", "list", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("configuration: set BOT_DATA_KEY and BOT_LOOKUP_KEY: a database that is not "
                                     "a local file gets no key file")
