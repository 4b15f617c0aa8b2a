"""Data protection end to end (issue 6): what the database file holds after real use over SMS and Telegram, the
person export and erase as an administrator runs them (a separate process, while the bot has the file open), the
research export, retention, and consent.

The file checks read the raw bytes of the SQLite file and its WAL (and shared-memory index): what a stolen disk
or backup would show.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.clock import FakeClock
from bot.dataprotection import DataProtection
from bot.deployment import DEFAULT_PATH, DeploymentError, load_deployment
from bot.retention import programme_days, run_daily
from flows.inputs import RequireConsent, StartFlow
from storage.crypto import DATA_KEY, LOOKUP_KEY, RESEARCH_KEY, new_key_values
from storage.records import AnswerRecord, Enrollment, MarkRecord, ScoreRecord, StepRecord
from tests.conftest import T0
from tests.test_cli import bot
from tests.test_sms import PHONE, running_sms
from tests.test_telegram import running, until

NAME = "Test Person"  # what tests/test_sms.py enrols with
PHONE_FORMS = (PHONE, PHONE.removeprefix("+"), PHONE.removeprefix("+45"), "12 34 56 78", "+45 12 34 56 78")
CHAT_ID = 7391846250
FIXED_NOW = {"BOT_FIXED_NOW": T0.isoformat()}


_READ_FILES = """
import json, os, sys
raw = b"".join(open(path, "rb").read() for path in sys.argv[2:] if os.path.exists(path))
print(json.dumps([secret for secret in json.loads(sys.argv[1]) if secret.encode("utf-8") in raw]))
"""


def traces(db: Path, *secrets: str) -> list[str]:
    """Which of `secrets` the database's files hold, byte for byte. Read by another process: closing a file
    descriptor of the database here would drop the POSIX locks SQLite holds on it for the connections open in
    this process, and they could then read a stale file."""
    files = [str(db), f"{db}-wal", f"{db}-shm"]
    found = subprocess.run([sys.executable, "-c", _READ_FILES, json.dumps(secrets), *files], capture_output=True,
                           text=True, check=True, timeout=60)
    return list(json.loads(found.stdout))


async def cli(*args: str, db: Path, stdin: str = "", env: dict[str, str] | None = None, check: bool = True) -> Any:
    """`python -m bot ...` in its own process, as an administrator runs it next to the running bot (at the tests'
    fixed time, so the audit log is in order)."""
    return await asyncio.to_thread(bot, *args, "--db", str(db), stdin=stdin, env={**FIXED_NOW, **(env or {})},
                                   check=check)


def deployment_with(tmp_path: Path, **settings: object) -> Path:
    """The shipped configuration with other data-protection settings."""
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    for key, value in settings.items():
        start = text.index(f"  {key}:")
        end = text.index("\n", start)
        text = text[:start] + f"  {key}: {json.dumps(value)}" + text[end:]
    path = tmp_path / "deployment.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_deployment(path).data_protection.retention_days_after_end is not None
    return path


# --- SMS: consent first, nothing in plaintext, export and erase ---


async def test_nothing_is_collected_before_consent_and_the_consent_records_its_channel(
        tmp_path: Path, clock: FakeClock) -> None:
    async with running_sms(tmp_path, clock, consent=True) as sms:
        storage = sms.app.storage
        participant = await storage.participant_by_address("sms", PHONE)
        assert participant is not None
        await sms.app.loop.handle(participant, RequireConsent(), "sms")  # as `bot enroll` does
        await sms.app.loop.handle(participant, StartFlow("pss10"), "sms")  # waits for the terms
        await sms.text("2")  # would be the answer to question 1: but the terms come first
        replies = await sms.replies()
        assert "Siger du ja til det?" in replies[-1] and not any("(1/10)" in r for r in replies)
        assert await storage.export_answers() == [] and await storage.export_scores() == []
        assert (await storage.profile(participant.id)).consent_version is None  # type: ignore[union-attr]
        clock.advance(timedelta(minutes=1))
        await sms.text("ja")
        thanks, _, first = await sms.replies()
        assert thanks.startswith("Tak.") and first.startswith("(1/10)")
        profile = await storage.profile(participant.id)
        assert profile is not None
        assert (profile.consent_version, profile.consent_at, profile.consent_channel) == ("draft-1", clock.now(), "sms")
        await sms.text("2")
        assert [a["item_id"] for a in await storage.export_answers()] == ["q1"]  # from now on


async def test_after_sms_use_the_file_names_nobody_and_export_and_erase_are_complete(
        tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "bot.db"
    async with running_sms(tmp_path, clock, consent=True) as sms:
        storage = sms.app.storage
        await sms.text("hej")
        await sms.text("ja")
        participant = await storage.participant_by_address("sms", PHONE)
        assert participant is not None
        await sms.app.loop.handle(participant, StartFlow("pss10"), "sms")
        for _ in range(10):
            await sms.text("2")
        await sms.text("jeg tænker på selvmord i nat")
        await sms.replies()
        for message in sms.fake.sent:
            await sms.fake.deliver_status(message["sid"], "delivered")
        await sms.app.loop.settle()
        assert traces(db, NAME, *PHONE_FORMS) == []  # in use, the file names nobody and holds no number
        assert traces(db, participant.ref) == [participant.ref]  # (the pseudonym is there: the search works)

        # The person's copy: everything, readable, owner-only.
        out = tmp_path / "anna.json"
        await cli("person", "export", participant.ref, "--out", str(out), db=db)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        document = json.loads(out.read_text(encoding="utf-8"))
        tables = document["tables"]
        assert document["participant"] == participant.ref
        assert document["consent"]["version"] == "draft-1" and document["consent"]["channel"] == "sms"
        assert [p["name"] for p in tables["profiles"]] == [NAME]
        assert [(a["channel"], a["address"]) for a in tables["addresses"]] == [("sms", PHONE)]
        current = [(a["item_id"], a["value"]) for a in tables["answers"] if not a["superseded"]]
        assert current == [(a["item_id"], a["value"]) for a in await storage.export_answers()]
        assert [(sc["score_id"], sc["value"]) for sc in tables["scores"]] == [
            (sc["score_id"], sc["value"]) for sc in await storage.export_scores()]
        assert {o["provider_id"] for o in tables["outbox"]} == {m["sid"] for m in sms.fake.sent}
        assert {o["delivery_status"] for o in tables["outbox"]} == {"delivered"}
        assert len(tables["inbox"]) == 13  # hej, ja, ten answers, the risk message
        [trigger] = tables["escalation_triggers"]
        assert "selvmord i nat" in trigger["trigger"]["text"]
        assert tables["conversations"][0]["state"]["consent_given"] == "draft-1"
        assert {"consent.recorded", "run.completed", "escalation.opened"} <= {e["action"] for e in tables["audit_log"]}
        exported = (await storage.audit_entries())[0]
        assert (exported.action, exported.subject) == ("person.exported", f"participant:{participant.ref}")
        assert exported.detail["rows"]["answers"] == len(tables["answers"])  # what, never the content

        # Erased by an administrator while the bot runs: nothing of them is left in the file, WAL included.
        await cli("person", "erase", participant.ref, "--yes", db=db)
        assert traces(db, NAME, *PHONE_FORMS, participant.ref, "selvmord i nat") == []
        assert await storage.participant_by_address("sms", PHONE) is None
        assert await storage.person_data(participant.id) is None
        assert await storage.export_answers() == [] and await storage.escalations() == []
        erased = next(e for e in await storage.audit_entries() if e.action == "person.erased")
        assert erased.subject == "participant:erased" and erased.detail["reason"] == "request"
        assert participant.ref not in json.dumps([erased.actor, dict(erased.detail)])
        # the number can write again: it is a stranger now, answered politely and stored nowhere
        await sms.text("hej igen")
        assert await storage.participant_by_address("sms", PHONE) is None


async def test_erase_asks_for_the_ref_to_be_typed_again(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "bot.db"
    async with open_app(str(db), clock) as app:
        participant = await app.storage.enroll(Enrollment("p-typed", NAME, "da", phone=PHONE), clock.now())
    refused = await cli("person", "erase", "p-typed", db=db, stdin="p-other\n", check=False)
    assert refused.returncode == 1 and "nothing erased" in refused.stderr
    unknown = await cli("person", "erase", "p-nobody", "--yes", db=db, check=False)
    assert unknown.returncode == 1
    async with open_app(str(db), clock) as app:
        assert await app.storage.person_data(participant.id) is not None
    await cli("person", "erase", "p-typed", db=db, stdin="p-typed\n")
    async with open_app(str(db), clock) as app:
        assert await app.storage.person_data(participant.id) is None


# --- Telegram: the chat id is nowhere in plaintext ---


async def test_after_telegram_use_no_chat_id_is_stored_in_plaintext(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "bot.db"
    async with running(tmp_path, clock, consent=True) as tg:
        participant, code = await tg.enrol("Mette Kirstine Sørensen")
        await tg.app.loop.handle(participant, RequireConsent(), "telegram")
        await tg.channel.deliver_pending()  # not linked yet: nowhere to send; /start asks again
        tg.fake.user_sends_command(CHAT_ID, CHAT_ID, f"/start {code}")
        [terms] = await tg.fake.wait_sent(CHAT_ID)  # the welcome and the terms: one message
        tg.fake.user_presses_button(CHAT_ID, CHAT_ID, terms.message_id, terms.data_for("Ja"))
        await tg.fake.wait_sent(CHAT_ID, 2)
        profile = await tg.app.storage.profile(participant.id)
        assert profile is not None and (profile.consent_version, profile.consent_channel) == ("draft-1", "telegram")
        await tg.start_flow(participant, "pss10")
        question = (await tg.fake.wait_sent(CHAT_ID, 4))[-1]
        tg.fake.user_presses_button(CHAT_ID, CHAT_ID, question.message_id, question.data_for("Aldrig"))
        await until(lambda: len(tg.fake.sent_to(CHAT_ID)) >= 5)
        data = await tg.app.storage.person_data(participant.id)
        assert data is not None and [a["address"] for a in data["addresses"]] == [str(CHAT_ID)]
        assert all(str(CHAT_ID) not in str(o["provider_id"]) for o in data["outbox"])
        assert traces(db, str(CHAT_ID), "Mette Kirstine Sørensen") == []
        await tg.app.storage.erase_participants([participant.id], "admin:test", "request", clock.now())
        assert traces(db, str(CHAT_ID), "Mette Kirstine Sørensen", participant.ref) == []


# --- the research export ---


async def populated(db: Path, clock: FakeClock) -> tuple[str, str]:
    """Two enrolled participants with a baseline (an answer, a free-text answer, a score); their refs."""
    async with open_app(str(db), clock) as app:
        refs = []
        for i, (name, phone) in enumerate((("Anna Jensen", "+4520123456"), ("Bo Hansen", "+4520654321"))):
            participant = await app.storage.enroll(Enrollment(f"p-res{i}", name, "da", date(2026, 1, 5), None, phone),
                                                   clock.now())
            step = StepRecord(participant.id, 0, {}, clock.now(),
                              answers=[AnswerRecord(1, "pss10", 1, "q1", 2 + i, str(2 + i), clock.now()),
                                       AnswerRecord(1, "checkin", 1, "note", f"svært med {name}", "x", clock.now())],
                              scores=[ScoreRecord(1, "pss10", 1, "total", 20.0 + i, None, clock.now())],
                              marks=[MarkRecord("wave_run", "baseline", {"flow_id": "pss10", "run_seq": 1},
                                                clock.now())])
            await app.storage.commit_step(step)
            refs.append(participant.ref)
        return refs[0], refs[1]


async def test_the_research_export_has_stable_pseudonyms_and_no_identifiers(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "bot.db"
    anna, bo = await populated(db, clock)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    await cli("export", "research", "--format", "json", "--out", str(first), db=db)
    await cli("export", "research", "--format", "json", "--out", str(second), db=db)
    one, two = (json.loads(path.read_text(encoding="utf-8")) for path in (first, second))
    names = [row["pseudonym"] for row in one["answers"]]
    assert names == [row["pseudonym"] for row in two["answers"]]  # stable across exports
    assert len(set(names)) == 2 and len({row["pseudonym"] for row in one["scores"]}) == 2
    async with open_app(str(db), clock) as app:
        assert set(names) == {app.storage.keys.pseudonym(anna), app.storage.keys.pseudonym(bo)}
    assert [(r["item"], r["value"], r["wave"], r["date"]) for r in one["answers"]] == [
        ("q1", 2, "baseline", "2026-11-23"), ("q1", 3, "baseline", "2026-11-23")]
    assert sorted(r["value"] for r in one["scores"]) == [20.0, 21.0]
    raw = first.read_text(encoding="utf-8")
    for identifier in (anna, bo, "Anna Jensen", "Bo Hansen", "+4520123456", "20123456", "svært med"):
        assert identifier not in raw
    assert stat.S_IMODE(first.stat().st_mode) == 0o600

    table = (await cli("export", "research", "--with-free-text", db=db)).stdout
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["raw_text"] for r in rows if r["record"] == "answer" and r["item"] == "note"] == ["x", "x"]
    assert "svært med Anna Jensen" in table  # asked for: the free text is there
    assert anna not in table and "+4520123456" not in table
    async with open_app(str(db), clock) as app:
        audited = [e for e in await app.storage.audit_entries() if e.action == "export.research"]
    assert [e.detail["with_free_text"] for e in audited] == [True, False, False]


# --- retention ---


async def test_retention_dry_run_lists_and_the_real_run_erases(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "bot.db"
    config = {"BOT_DEPLOYMENT": str(deployment_with(tmp_path, retention_days_after_end=30))}
    async with open_app(str(db), clock) as app:
        length = programme_days(app.registry.library.programme)
        assert length > 12 * 7  # the six-month measurement comes after the twelve weeks
        ended_long_ago = (T0 - timedelta(days=length + 31)).date()
        within = (T0 - timedelta(days=length + 29)).date()
        old = await app.storage.enroll(Enrollment("p-old", "Old", "da", ended_long_ago, phone="+4520000001"), T0)
        recent = await app.storage.enroll(Enrollment("p-recent", "Recent", "da", within, phone="+4520000002"), T0)
        await app.storage.get_or_create_participant("demo", "da", T0)  # never enrolled: counts from today

    dry = await cli("person", "retention", "--dry-run", db=db, env=config)
    assert [line.split("\t")[0] for line in dry.stdout.splitlines()] == ["p-old"]
    assert "1 participant(s) would be erased" in dry.stderr
    async with open_app(str(db), clock) as app:
        assert await app.storage.person_data(old.id) is not None  # a dry run changes nothing

    await cli("person", "retention", db=db, env=config)
    async with open_app(str(db), clock) as app:
        assert await app.storage.person_data(old.id) is None
        assert await app.storage.person_data(recent.id) is not None
        assert [p.ref for p, _ in await app.storage.start_dates()] == ["p-recent", "demo"]
        actions = [(e.action, e.subject) for e in await app.storage.audit_entries()]
    assert ("person.erased", "participant:erased") in actions
    assert actions[0][0] == "retention.erased" and ("retention.listed", "participants") in actions
    assert traces(db, "p-old", "+4520000001") == []


async def test_the_daily_job_erases_what_is_past_the_period_and_can_keep_scores(tmp_path: Path,
                                                                                 clock: FakeClock) -> None:
    path = deployment_with(tmp_path, retention_days_after_end=0, keep_anonymised_scores=True)
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=path) as app:
        start = (T0 - timedelta(days=programme_days(app.registry.library.programme) + 1)).date()
        old = await app.storage.enroll(Enrollment("p-old", "Old", "da", start, phone="+4520000001"), T0)
        await app.storage.commit_step(StepRecord(old.id, 0, {}, T0, scores=[
            ScoreRecord(1, "pss10", 1, "total", 25.0, None, T0)]))
        settings = app.deployment.data_protection
        job = asyncio.create_task(run_daily(app.storage, app.registry.library.programme, settings, clock,
                                            every=timedelta(milliseconds=10)))
        try:
            deadline = asyncio.get_running_loop().time() + 5
            while await app.storage.person_data(old.id) is not None:
                assert asyncio.get_running_loop().time() < deadline, "the job did not erase in time"
                await asyncio.sleep(0.01)
        finally:
            job.cancel()
        [score] = await app.storage.export_scores()
        assert score["participant"].startswith("anon-") and score["value"] == 25.0  # the figures keep it
        assert await app.storage.start_dates() == []


async def test_the_research_export_needs_a_research_key_in_production(
        tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = new_key_values()
    monkeypatch.setenv(DATA_KEY, keys[DATA_KEY])
    monkeypatch.setenv(LOOKUP_KEY, keys[LOOKUP_KEY])
    monkeypatch.delenv(RESEARCH_KEY, raising=False)
    db = tmp_path / "bot.db"
    await populated(db, clock)
    refused = await cli("export", "research", "--out", str(tmp_path / "r.csv"), db=db, check=False)
    assert refused.returncode == 2 and RESEARCH_KEY in refused.stderr
    assert not (tmp_path / "r.csv").exists()
    done = await cli("export", "research", db=db, env={RESEARCH_KEY: keys[RESEARCH_KEY]})
    assert len(done.stdout.splitlines()) == 1 + 4  # header, two answers and two scores (no free text)


def test_data_protection_settings_are_checked(tmp_path: Path) -> None:
    assert load_deployment().data_protection.keep_anonymised_scores is False
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "retention_days_after_end: 365", "retention_days_after_end: -1").replace(
        "keep_anonymised_scores: false", "keep_anonymised_scores: perhaps")
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DeploymentError) as refused:
        load_deployment(path)
    assert "retention_days_after_end must be a whole number" in str(refused.value)
    assert "keep_anonymised_scores must be true or false" in str(refused.value)
    start, end = text.index("data_protection:"), text.index("escalation:\n")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert load_deployment(path).data_protection == DataProtection()  # without the block: erase nothing by time
