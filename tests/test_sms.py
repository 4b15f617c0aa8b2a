"""SMS end to end: signed Twilio webhooks into the bot over HTTP, replies out through the real twilio SDK to a
fake Twilio REST server on localhost, status callbacks back in. Nothing here is a mock of our own code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import App, open_app
from bot.channels.sms import SmsChannel, TwilioSender
from bot.clock import FakeClock
from bot.rendering import Catalogs
from bot.web import create_web_app
from flows.inputs import StartFlow
from storage.admin_records import RECEIVED, STATUS
from storage.records import AddressStatus, Enrollment
from tests.conftest import without_consent
from tests.fakes.twilio import FakeTwilio, serve

PHONE = "+4512345678"
OUR_NUMBER = "+4570000000"


@dataclass
class Sms:
    app: App
    fake: FakeTwilio
    channel: SmsChannel
    url: str
    http: httpx.AsyncClient

    async def text(self, body: str, sender: str = PHONE, sid: str | None = None) -> httpx.Response:
        """The participant sends an SMS: Twilio posts it, signed, to our public webhook URL."""
        headers, form = self.fake.signed_inbound(f"{self.url}/twilio/sms", From=sender, To=OUR_NUMBER, Body=body,
                                                 MessageSid=sid)
        return await self.http.post(f"{self.url}/twilio/sms", data=form, headers=headers)

    async def replies(self) -> list[str]:
        """Send what the outbox holds and return the texts that reached Twilio since the last call."""
        before = len(self.fake.sent)
        await self.channel.deliver_pending()
        return [m["body"] for m in self.fake.sent[before:]]


@pytest.fixture
async def sms(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Sms]:
    async with running_sms(tmp_path, clock, consent=False) as ready:
        yield ready


@asynccontextmanager
async def running_sms(tmp_path: Path, clock: FakeClock, consent: bool) -> AsyncIterator[Sms]:
    deployment = None if consent else without_consent(tmp_path)
    async with FakeTwilio() as fake, open_app(str(tmp_path / "bot.db"), clock, coach_channels={},
                                              deployment_path=deployment) as app:
        await app.storage.enroll(Enrollment("p-sms", "Test Person", "da", phone=PHONE), clock.now())
        sender = TwilioSender(fake.account_sid, fake.auth_token, OUR_NUMBER, api_base_url=fake.url)
        channel = SmsChannel(app.storage, app.loop, sender, Catalogs(), clock, None, segments_per_second=1000,
                             safety=app.safety)
        web = create_web_app(app.storage, channel, fake.auth_token, public_base_url="",
                             twilio_account_sid=fake.account_sid)
        try:
            async with serve(web) as url, httpx.AsyncClient(timeout=30) as http:  # Twilio waits 15 s
                channel.status_callback_url = f"{url}/twilio/status"
                web.state.public_base_url = url
                yield Sms(app, fake, channel, url, http)
        finally:
            await sender.close()


async def test_a_pss10_over_sms_with_digits_and_the_choices_listed(sms: Sms) -> None:
    participant = await sms.app.storage.participant_by_address("sms", PHONE)
    assert participant is not None
    await sms.app.loop.handle(participant, StartFlow("pss10"), "sms")
    intro, first = await sms.replies()
    assert intro.startswith("Nu kommer 10 spørgsmål")
    assert first.startswith("(1/10) Hvor ofte inden for den sidste måned er du blevet oprevet")
    assert first.endswith("0 = Aldrig\n1 = Næsten aldrig\n2 = Ind i mellem\n3 = Ret ofte\n4 = Meget ofte")
    for answer in ["2"] * 2:
        assert (await sms.text(answer)).status_code == 200
    third = (await sms.replies())[-1]
    assert 'nervøs og "stresset"?' in third  # curly quotes replaced: the message stays GSM-7
    assert sms.fake.sent[-1]["num_segments"] == 2
    for _ in range(8):
        await sms.text("2")
    assert "Din score er 20 ud af 40." in (await sms.replies())[-1]
    scores = await sms.app.storage.export_scores()
    assert [(s["participant"], s["value"]) for s in scores] == [("p-sms", 20)]


async def test_forged_requests_are_refused_and_nothing_is_stored(sms: Sms) -> None:
    headers, form = sms.fake.signed_inbound(f"{sms.url}/twilio/sms", From=PHONE, To=OUR_NUMBER, Body="2")
    tampered = await sms.http.post(f"{sms.url}/twilio/sms", data={**form, "Body": "4"}, headers=headers)
    unsigned = await sms.http.post(f"{sms.url}/twilio/sms", data=form)
    wrong_url = sms.fake.signed_inbound("https://elsewhere.example/twilio/sms", From=PHONE, To=OUR_NUMBER, Body="2")
    elsewhere = await sms.http.post(f"{sms.url}/twilio/sms", data=wrong_url[1], headers=wrong_url[0])
    assert [tampered.status_code, unsigned.status_code, elsewhere.status_code] == [403, 403, 403]
    not_a_form = await sms.http.post(f"{sms.url}/twilio/sms", content=b"\x00\xff" * 10, headers=headers)
    huge = await sms.http.post(f"{sms.url}/twilio/sms", data={"Body": "x" * 100_000}, headers=headers)
    assert (not_a_form.status_code, huge.status_code) == (415, 413)
    assert await sms.replies() == [] and await sms.app.storage.export_answers() == []


async def test_a_captured_webhook_cannot_be_replayed_as_a_new_message(sms: Sms) -> None:
    """Twilio's signature joins names and values without separators: a captured request re-signs with a different
    MessageSid when a field is folded into it. Everything Twilio always sends must be there and look like Twilio's,
    from our account, before anything is stored."""
    headers, form = sms.fake.signed_inbound(f"{sms.url}/twilio/sms", From=PHONE, To=OUR_NUMBER, Body="hej")
    assert (await sms.http.post(f"{sms.url}/twilio/sms", data=form, headers=headers)).status_code == 200
    folded = {name: value for name, value in form.items() if name != "NumMedia"}
    folded["MessageSid"] = form["MessageSid"] + "NumMedia0"  # "MessageSid" + value + "NumMedia" + "0": the same text
    assert sms.fake.sign(f"{sms.url}/twilio/sms", folded) == headers["X-Twilio-Signature"]  # the signature holds
    replayed = await sms.http.post(f"{sms.url}/twilio/sms", data=dict(sorted(folded.items())), headers=headers)
    assert replayed.status_code == 400
    _, other = sms.fake.signed_inbound(f"{sms.url}/twilio/sms", From=PHONE, To=OUR_NUMBER, Body="hej")
    other = {**other, "AccountSid": "AC" + "0" * 32}
    resigned = {"X-Twilio-Signature": sms.fake.sign(f"{sms.url}/twilio/sms", other)}
    assert (await sms.http.post(f"{sms.url}/twilio/sms", data=other, headers=resigned)).status_code == 403
    assert len(await sms.replies()) == 1  # the first one only


async def test_a_retried_webhook_is_processed_once(sms: Sms) -> None:
    first = await sms.text("hej", sid="SM" + "1" * 32)
    again = await sms.text("hej", sid="SM" + "1" * 32)
    assert first.status_code == again.status_code == 200
    assert len(await sms.replies()) == 1


async def test_unknown_numbers_get_one_polite_reply_and_nothing_else(sms: Sms) -> None:
    response = await sms.text("hvem er du?", sender="+4599999999")
    assert response.status_code == 200
    assert "Dette nummer kender dig ikke" in response.text and "This number does not know you" in response.text
    again = await sms.text("hallo?", sender="+4599999999")  # an auto-responder would loop forever
    assert again.status_code == 200 and "<Message>" not in again.text
    assert await sms.app.storage.participant_by_address("sms", "+4599999999") is None
    assert await sms.replies() == []


async def test_stop_opts_out_start_opts_back_in(sms: Sms) -> None:
    participant = await sms.app.storage.participant_by_address("sms", PHONE)
    assert participant is not None
    await sms.app.loop.handle(participant, StartFlow("pss10"), "sms")
    await sms.replies()
    await sms.text("STOP")
    assert await sms.replies() == ["Du får ikke flere sms'er fra os. Skriv START for at få dem igen."]
    [address] = await sms.app.storage.addresses(participant.id)
    assert address.status is AddressStatus.OPTED_OUT
    await sms.app.loop.handle(participant, StartFlow("who5"), "sms")
    assert await sms.replies() == []  # nothing reaches an opted-out number
    await sms.text("START")
    back = await sms.replies()
    assert back[0] == "Velkommen tilbage. Du får vores sms'er igen. Skriv STOP for at stoppe dem."
    await sms.text("HJÆLP")
    assert "TILBAGE: ret dit forrige svar" in (await sms.replies())[0]


async def test_stop_outside_a_questionnaire_stops_reminders_and_start_brings_them_back(sms: Sms) -> None:
    participant = await sms.app.storage.participant_by_address("sms", PHONE)
    assert participant is not None
    await sms.text("STOP")  # no questionnaire open: the programme's reminders stop too
    await sms.replies()
    assert (await sms.app.loop.state_of(participant)).progress.stopped
    await sms.text("START")
    assert (await sms.replies())[0] == "Velkommen tilbage. Du får vores sms'er igen. Skriv STOP for at stoppe dem."
    assert not (await sms.app.loop.state_of(participant)).progress.stopped


async def test_delivery_reports_and_a_carrier_opt_out(sms: Sms) -> None:
    participant = await sms.app.storage.participant_by_address("sms", PHONE)
    assert participant is not None
    await sms.text("hej")
    await sms.replies()
    sid = sms.fake.sent[-1]["sid"]
    response = await sms.fake.deliver_status(sid, "delivered")
    assert response.status_code == 204
    row = await sms.app.storage.outbox_by_provider_id(sid)
    assert row is not None
    sms.fake.fail_next(1, status=400, code=21610)
    await sms.text("hej igen")
    assert await sms.replies() == []
    [address] = await sms.app.storage.addresses(participant.id)
    assert address.status is AddressStatus.OPTED_OUT


async def test_rate_limits_are_retried_later(sms: Sms, clock: FakeClock) -> None:
    from datetime import timedelta

    sms.fake.fail_next(1, status=429, code=20429)
    await sms.text("hej")
    assert await sms.replies() == []
    clock.advance(timedelta(seconds=5))
    assert len(await sms.replies()) == 1


async def test_a_risky_sms_gets_the_safety_reply(sms: Sms) -> None:
    await sms.text("jeg tænker på selvmord")
    safety, offer = await sms.replies()
    assert safety.startswith("Tak, fordi du fortæller mig det.") and "Livslinien: 70 201 201." in safety
    assert offer.startswith("Vil du svare på nogle få korte spørgsmål")
    assert len(await sms.app.storage.escalations()) == 1


async def test_an_undelivered_message_is_sent_again(sms: Sms, clock: FakeClock) -> None:
    from datetime import timedelta

    await sms.text("hej")
    [first] = await sms.replies()
    await sms.fake.deliver_status(sms.fake.sent[-1]["sid"], "undelivered", error_code=30003)
    assert await sms.replies() == []  # not at once: after a back-off
    clock.advance(timedelta(seconds=5))
    assert await sms.replies() == [first]


async def test_terms_first_and_yes_is_an_answer_not_an_opt_in(tmp_path: Path, clock: FakeClock) -> None:
    async with running_sms(tmp_path, clock, consent=True) as sms:
        await sms.text("hej")
        [terms] = await sms.replies()
        assert terms.startswith("Forløbets beskeder bruges til") and "Siger du ja til det?" in terms
        await sms.text("yes")
        assert (await sms.replies())[0].startswith("Tak. Du kan altid trække dit samtykke tilbage")
        participant = await sms.app.storage.participant_by_address("sms", PHONE)
        assert participant is not None
        profile = await sms.app.storage.profile(participant.id)
        assert profile is not None and profile.consent_version == "draft-1"


async def test_a_replayed_start_cannot_undo_a_later_stop(sms: Sms) -> None:
    await sms.text("STOP", sid="SM" + "a" * 32)
    await sms.text("START", sid="SM" + "b" * 32)
    await sms.text("STOP", sid="SM" + "c" * 32)
    await sms.text("START", sid="SM" + "b" * 32)  # Twilio retries an old webhook
    participant = await sms.app.storage.participant_by_address("sms", PHONE)
    assert participant is not None
    [address] = await sms.app.storage.addresses(participant.id)
    assert address.status is AddressStatus.OPTED_OUT


async def test_after_stop_help_and_crisis_contacts_still_get_through(sms: Sms) -> None:
    await sms.text("STOP")
    await sms.replies()
    await sms.text("hjælp")
    assert (await sms.replies())[0].startswith("Du har ikke noget spørgeskema i gang lige nu. Du får en besked")
    await sms.text("jeg vil tage mit eget liv")
    replies = await sms.replies()
    assert replies and replies[0].startswith("Tak, fordi du fortæller mig det.") and "112" in replies[0]
    await sms.text("2")
    assert await sms.replies() == []  # routine replies stay stopped


async def test_a_coach_gets_the_risk_alert_by_sms(tmp_path: Path, clock: FakeClock) -> None:
    from bot.channels.sms import SmsCoachChannel

    config = without_consent(tmp_path).read_text(encoding="utf-8").replace(
        "    name: Coach (demo)\n    channels: [console]", '    name: Coach (demo)\n    channels: ["sms:+4588888888"]')
    (tmp_path / "coach-sms.yaml").write_text(config, encoding="utf-8")
    coach_channels: dict[str, object] = {}
    async with FakeTwilio() as fake, open_app(str(tmp_path / "bot.db"), clock, coach_channels=coach_channels,  # type: ignore[arg-type]
                                              deployment_path=tmp_path / "coach-sms.yaml") as app:
        sender = TwilioSender(fake.account_sid, fake.auth_token, OUR_NUMBER, api_base_url=fake.url)
        coach_channels["sms"] = SmsCoachChannel(sender)
        participant = await app.storage.enroll(Enrollment("p-sms", "Test", "da", phone=PHONE), clock.now())
        try:
            await app.loop.handle(participant, StartFlow("pss10"), "sms")
            from flows.inputs import Text

            await app.loop.handle(participant, Text("jeg vil tage mit liv i nat"), "sms")
            await app.loop.settle()
        finally:
            await sender.close()
        [alert] = [m for m in fake.sent if m["to"] == "+4588888888"]
        assert alert["body"].startswith("Risikoalarm #1 (høj) for deltager p-sms")


async def test_the_last_webhook_and_delivery_report_are_kept_at_most_once_a_minute(sms: Sms, clock: FakeClock) -> None:
    """For the administrators' channel health page: only a genuine Twilio request counts, and a busy number writes
    one small row a minute, not one per message."""
    _, form = sms.fake.signed_inbound(f"{sms.url}/twilio/sms", From=PHONE, To=OUR_NUMBER, Body="2")
    assert (await sms.http.post(f"{sms.url}/twilio/sms", data=form)).status_code == 403  # unsigned
    assert await sms.app.storage.heartbeats() == []

    start = clock.now()
    await sms.text("hej")
    clock.advance(timedelta(seconds=40))
    await sms.text("hej igen")  # within the minute: not written again
    assert [(h.signal, h.seen_at) for h in await sms.app.storage.heartbeats()] == [(RECEIVED, start)]
    clock.advance(timedelta(seconds=30))
    await sms.text("og igen")
    await sms.replies()
    await sms.fake.deliver_status(sms.fake.sent[-1]["sid"], "delivered")
    assert [(h.channel, h.signal, h.seen_at) for h in await sms.app.storage.heartbeats()] == [
        ("sms", RECEIVED, start + timedelta(seconds=70)), ("sms", STATUS, start + timedelta(seconds=70))]
