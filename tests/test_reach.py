"""The coach can reach the person (issue 11, point 8): name and number on the alert, SHOW and PERSON, for
coaches allowed to see them; the alerted duty coach can open the person's page; FIND by name or number; a
declined consent on the page. Every look audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.deployment import Coach
from bot.inbound import Inbound
from flows.inputs import RequireConsent, Text
from storage.records import Enrollment
from tests.conftest import app_without_consent

PHONE = "+4512345678"


class Inbox:
    """A coach channel that keeps what it was given (the alert text)."""

    name = "console"

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        self.texts.append(text)


@pytest.fixture
async def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def app(tmp_path: Path, inbox: Inbox) -> AsyncIterator[App]:
    monday = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # 10:00 in Copenhagen
    async with app_without_consent(tmp_path, monday, {"console": inbox}) as opened:
        yield opened


async def test_the_alert_show_and_person_carry_the_name_and_number(app: App, inbox: Inbox) -> None:
    person = await app.storage.enroll(Enrollment("p-ida", "Ida Holm", "da", None, "coach", phone=PHONE),
                                      app.clock.now())
    await app.loop.handle(person, Text("jeg vil ikke leve mere"), "sms")
    await app.loop.settle()
    assert inbox.texts and "p-ida (Ida Holm, tlf. +4512345678)" in inbox.texts[0]
    [alert] = await app.storage.escalations()
    shown = await app.desk.handle("coach", f"VIS {alert.id}")
    assert shown is not None and "Kontakt: Ida Holm, tlf. +4512345678" in shown
    page = await app.desk.handle("coach", "PERSON p-ida")
    assert page is not None and "Kontakt: Ida Holm, tlf. +4512345678" in page
    actions = [(e.actor, e.action, e.subject) for e in await app.storage.audit_entries()]
    assert ("coach:coach", "escalation.viewed", "participant:p-ida") in actions
    assert ("coach:coach", "overview.viewed", "participant:p-ida") in actions
    assert all(PHONE not in str(e.detail) and "Ida" not in e.subject for e in await app.storage.audit_entries())


async def test_whoever_may_act_on_an_alert_can_open_the_persons_page(app: App) -> None:
    person = await app.storage.enroll(Enrollment("p-bo", "Bo Hansen", "da", None, "backup", phone=PHONE),
                                      app.clock.now())
    assert await app.desk.handle("coach", "PERSON p-bo") == "p-bo er ikke en af dine deltagere."  # not theirs
    await app.loop.handle(person, Text("jeg har tænkt på selvmord"), "sms")
    await app.loop.settle()
    [alert] = await app.storage.escalations()
    assert await app.desk.handle("coach", f"OK {alert.id}") is not None  # the coach on duty takes the alert
    page = await app.desk.handle("coach", "PERSON p-bo")
    assert page is not None and page.startswith("p-bo (Bo Hansen)") and "tlf. +4512345678" in page


async def test_find_by_name_or_number_among_those_the_coach_may_see(app: App) -> None:
    await app.storage.enroll(Enrollment("p-ida", "Ida Holm", "da", None, "coach", phone=PHONE), app.clock.now())
    await app.storage.enroll(Enrollment("p-eva", "Eva Holm", "da", None, "backup", phone="+4587654321"),
                             app.clock.now())
    by_name = await app.desk.handle("coach", "SØG holm")
    assert by_name == "p-ida: Ida Holm, tlf. +4512345678"  # Eva is not theirs and has no alert
    by_number = await app.desk.handle("coach", "søg 12 34 56 78")
    assert by_number == "p-ida: Ida Holm, tlf. +4512345678"
    everyone = await app.desk.handle("lead", "FIND holm")  # role: admin
    assert everyone is not None and sorted(everyone.splitlines()) == [
        "p-eva: Eva Holm, tlf. +4587654321", "p-ida: Ida Holm, tlf. +4512345678"]
    assert await app.desk.handle("coach", "SØG ab") == (
        'Ingen, du må se, passer til "ab" (mindst 3 bogstaver, eller et telefonnummer).')
    actions = [(e.actor, e.action, e.subject) for e in await app.storage.audit_entries()]
    assert ("coach:coach", "overview.found", "participant:p-ida") in actions
    assert ("coach:coach", "overview.found", "participant:p-eva") not in actions


async def test_a_first_ja_to_the_sms_invite_is_no_consent_to_terms_never_shown(tmp_path: Path, inbox: Inbox) -> None:
    """Enrolment sends the invite; the terms come with the first conversation. A "ja", "1" or "yes" before they were
    shown is no answer to them: the terms are shown, and only an answer to them is recorded as consent."""
    clock = FakeClock(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    async with open_app(str(tmp_path / "invite.db"), clock, coach_channels={"console": inbox}) as app:
        for number, first in enumerate(("ja", "1", "yes")):
            phone = f"+45123456{70 + number}"
            person = await app.storage.enroll(Enrollment(f"p-{number}", "Jo", "da", None, "coach", phone=phone),
                                              clock.now())
            await app.loop.handle(person, RequireConsent(), "sms")
            await app.loop.receive(Inbound.text("sms", phone, first))
            profile = await app.storage.profile(person.id)
            assert profile is not None and profile.consent_version is None, first
            state = await app.loop.state_of(person)
            assert state.consent_given is None and state.consent_shown == state.consent_needed is not None
            await app.loop.receive(Inbound.text("sms", phone, "ja"))  # now an answer to the terms shown
            profile = await app.storage.profile(person.id)
            assert profile is not None and profile.consent_version is not None and profile.consent_channel == "sms"


async def test_a_declined_consent_shows_on_the_persons_page(tmp_path: Path, inbox: Inbox) -> None:
    clock = FakeClock(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    async with open_app(str(tmp_path / "consent.db"), clock, coach_channels={"console": inbox}) as app:
        person = await app.storage.enroll(Enrollment("p-jo", "Jo Lund", "da", None, "coach", phone=PHONE),
                                          clock.now())
        page = await app.desk.handle("coach", "PERSON p-jo")
        assert page is not None and "Samtykke: ikke besvaret endnu" in page
        await app.loop.handle(person, RequireConsent(), "sms")
        await app.loop.receive(Inbound.text("sms", PHONE, "hej"))  # the terms are shown first
        await app.loop.receive(Inbound.text("sms", PHONE, "nej"))
        page = await app.desk.handle("coach", "PERSON p-jo")
        assert page is not None and "Samtykke: afslået 16.03. Personen har sagt nej til forløbets vilkår." in page
        await app.loop.receive(Inbound.text("sms", PHONE, "ja"))  # changed their mind
        page = await app.desk.handle("coach", "PERSON p-jo")
        assert page is not None and "Samtykke: givet 16.03" in page
