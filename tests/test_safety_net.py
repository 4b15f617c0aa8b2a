"""The safety path without a writable database or a known sender (issue 11, point 9), end to end: signed
Twilio webhooks and a fake Telegram, a real SQLite file locked by another connection, the spool on disk."""

from __future__ import annotations

import logging
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.safety_net import UNKNOWN_SENDERS
from tests.test_sms import PHONE, Sms, running_sms
from tests.test_telegram import STRANGER, running


@pytest.fixture
async def sms(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Sms]:
    async with running_sms(tmp_path, clock, consent=False) as ready:
        yield ready


RISK = "jeg kan ikke mere, jeg vil bare ikke være her. jeg tager alle pillerne i nat"
STRANGE_NUMBER = "+4522334455"


async def test_a_risk_sms_during_a_database_lock_gets_the_contacts_in_the_twiml_and_an_escalation_after(
        sms: Sms, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = sqlite3.connect(tmp_path / "bot.db", isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock for longer than we wait
    try:
        with caplog.at_level(logging.CRITICAL):
            response = await sms.text(RISK, sid="SM" + "7" * 32)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 200  # answered: Twilio would give up retrying long before the lock ends
    assert "Livslinien: 70 201 201." in response.text and "112" in response.text  # the person has help now
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert critical and not any("piller" in line or PHONE in line for line in critical)  # no body, no number
    spool = tmp_path / "bot.db.spool"
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600 and b"piller" not in spool.read_bytes()  # sealed
    assert await sms.app.storage.escalations() == []

    assert await sms.app.safety.replay() == 1  # the database is writable again
    [escalation] = await sms.app.storage.escalations()
    assert escalation.level == "high" and not spool.exists()
    assert await sms.app.safety.replay() == 0
    await sms.text(RISK, sid="SM" + "7" * 32)  # Twilio's own late retry of the same message: still one
    assert len(await sms.app.storage.escalations()) == 1


async def test_a_risk_sms_from_an_unknown_number_reaches_the_duty_coach_with_the_number(sms: Sms) -> None:
    response = await sms.text("jeg vil ikke leve mere", sender=STRANGE_NUMBER)
    assert response.status_code == 200
    stranger = await sms.app.storage.participant_by_address("sms", STRANGE_NUMBER)
    assert stranger is not None
    [escalation] = await sms.app.storage.escalations()
    assert escalation.participant_id == stranger.id
    replies = await sms.replies()
    assert replies and "Livslinien: 70 201 201." in replies[0]  # the crisis contacts, to that number
    assert sms.fake.sent[0]["to"] == STRANGE_NUMBER
    profile = await sms.app.storage.profile(stranger.id)
    assert profile is not None and profile.coach_id is None  # no own coach: the duty roster is alerted
    assert profile.cohort == UNKNOWN_SENDERS  # kept out of the cohorts of the outcome report
    again = await sms.text("hallo? er der nogen", sender=STRANGE_NUMBER)  # later words reach the same record
    assert again.status_code == 200 and "Dette nummer kender dig ikke" not in again.text


async def test_an_everyday_sms_from_an_unknown_number_still_gets_only_the_polite_reply(sms: Sms) -> None:
    response = await sms.text("hej, er det her tandlægen?", sender=STRANGE_NUMBER)
    assert "Dette nummer kender dig ikke" in response.text
    assert await sms.app.storage.participant_by_address("sms", STRANGE_NUMBER) is None


async def test_a_risk_message_from_an_unknown_telegram_chat(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock) as tg:
        tg.fake.user_sends_text(STRANGER, STRANGER, "I don't want to be here anymore")
        [contacts, *_] = await tg.fake.wait_sent(STRANGER, 1)
        assert "Livslinien" in contacts.text
        stranger = await tg.app.storage.participant_by_address("telegram", str(STRANGER))
        assert stranger is not None
        [escalation] = await tg.app.storage.escalations()
        assert escalation.participant_id == stranger.id
