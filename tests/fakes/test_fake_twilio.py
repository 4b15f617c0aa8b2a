"""The Twilio fake, exercised with the real twilio SDK, so the SMS channel's tests can trust it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.twilio import FakeTwilio, RedirectingAsyncHttpClient, RedirectingHttpClient, count_segments, serve

BOT = "+4570000000"
PARTICIPANT = "+4520000001"


async def read_form(request: Request) -> dict[str, str]:
    # Starlette's request.form() needs python-multipart, which the project does not depend on.
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as running:
        yield running


@pytest.fixture
async def client(fake: FakeTwilio) -> AsyncIterator[Client]:
    async with RedirectingAsyncHttpClient(fake.url) as http:
        yield Client(fake.account_sid, fake.auth_token, http_client=http)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("Hej", 1),
        ("æøåÆØÅ" * 26 + "æøåæ", 1),  # 160 GSM-7 characters, Danish letters included
        ("æ" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("”" * 70, 1),  # curly quotes force UCS-2
        ("a" * 70 + "–", 2),  # so does an en dash
        ("–" * 134, 2),
        ("–" * 135, 3),
        ("🙂" * 35, 1),  # surrogate pairs count as two UTF-16 units
        ("🙂" * 36, 2),
    ],
)
def test_segments_follow_gsm7_and_ucs2_limits(text: str, segments: int) -> None:
    assert count_segments(text) == segments


async def test_async_send_is_recorded_with_segments(fake: FakeTwilio, client: Client) -> None:
    body = "Hvordan har du det i dag? Svar med et tal: 0 = Aldrig, 1 = Næsten aldrig, 2 = Nogle gange. " * 2
    first = await client.messages.create_async(to=PARTICIPANT, from_=BOT, body=body, status_callback="http://x/cb")
    second = await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Tak!")

    assert first.sid.startswith("SM") and len(first.sid) == 34 and first.sid != second.sid
    assert (first.status, first.num_segments, first.account_sid) == ("queued", "2", fake.account_sid)
    assert [s["sid"] for s in fake.sent] == [first.sid, second.sid]
    assert fake.sent[0] | {"at": None} == {
        "sid": first.sid,
        "to": PARTICIPANT,
        "from": BOT,
        "body": body,
        "num_segments": 2,
        "status_callback": "http://x/cb",
        "at": None,
    }
    assert fake.sent[0]["at"] <= fake.sent[1]["at"] <= time.monotonic()


async def test_messaging_service_send_is_accepted_like_twilio(fake: FakeTwilio, client: Client) -> None:
    message = await client.messages.create_async(to=PARTICIPANT, messaging_service_sid="MG" + "0" * 32, body="Hej")
    assert (message.status, message.num_segments, message.from_) == ("accepted", "0", None)
    assert fake.sent[0]["num_segments"] == 1 and fake.sent[0]["from"] == "MG" + "0" * 32


async def test_sync_client_works_too(fake: FakeTwilio) -> None:
    def send() -> str:
        http = RedirectingHttpClient(fake.url)
        try:
            sync_client = Client(fake.account_sid, fake.auth_token, http_client=http)
            return str(sync_client.messages.create(to=PARTICIPANT, from_=BOT, body="Hej").sid)
        finally:
            assert http.session is not None
            http.session.close()

    sid = await asyncio.to_thread(send)  # the fake runs on this loop, so the blocking call goes to a thread
    assert fake.sent[0]["sid"] == sid


async def test_injected_21610_raises_and_only_once(fake: FakeTwilio, client: Client) -> None:
    fake.fail_next(status=400, code=21610)
    with pytest.raises(TwilioRestException) as raised:
        await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej")
    assert (raised.value.status, raised.value.code) == (400, 21610)
    assert "unsubscribed recipient" in raised.value.msg
    assert fake.sent == [] and fake.rejected[0]["code"] == 21610

    await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej igen")
    assert len(fake.sent) == 1


async def test_recipient_fault_persists_until_cleared(fake: FakeTwilio, client: Client) -> None:
    fake.fail_recipient(PARTICIPANT)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej")
        assert raised.value.code == 21610
    await client.messages.create_async(to="+4520000002", from_=BOT, body="Hej")
    fake.clear_faults()
    await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej")
    assert [s["to"] for s in fake.sent] == ["+4520000002", PARTICIPANT]


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500)])
async def test_injected_http_errors(fake: FakeTwilio, client: Client, status: int, code: int) -> None:
    fake.fail_next(2, status=status, code=code)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej")
        assert (raised.value.status, raised.value.code) == (status, code)
    assert [r["http_status"] for r in fake.rejected] == [status, status]


async def test_wrong_auth_token_is_401(fake: FakeTwilio) -> None:
    async with RedirectingAsyncHttpClient(fake.url) as http:
        wrong = Client(fake.account_sid, "0" * 32, http_client=http)
        with pytest.raises(TwilioRestException) as raised:
            await wrong.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej")
    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert fake.sent == fake.rejected == []


def test_signed_inbound_validates_and_tampering_is_detected() -> None:
    fake = FakeTwilio()  # signing needs no server
    url = "https://bot.example.dk/twilio/sms"
    headers, form = fake.signed_inbound(url, From=PARTICIPANT, To=BOT, Body="STOP")
    validator = RequestValidator(fake.auth_token)
    signature = headers["X-Twilio-Signature"]

    assert form["MessageSid"].startswith("SM") and form["SmsSid"] == form["MessageSid"]
    assert (form["AccountSid"], form["From"], form["To"], form["Body"], form["NumMedia"]) == (
        fake.account_sid, PARTICIPANT, BOT, "STOP", "0"
    )  # fmt: skip
    assert validator.validate(url, form, signature)
    assert not validator.validate(url, {**form, "Body": "START"}, signature)
    assert not validator.validate("http://127.0.0.1:8000/twilio/sms", form, signature)
    assert not RequestValidator("another-token").validate(url, form, signature)

    _, again = fake.signed_inbound(url, From=PARTICIPANT, To=BOT, Body="HJÆLP", MessageSid=form["MessageSid"])
    assert again["MessageSid"] == form["MessageSid"]  # for duplicate-delivery tests


@pytest.mark.parametrize(("status", "error_code"), [("delivered", None), ("undelivered", 30003), ("failed", 30008)])
async def test_status_callback_is_signed_for_the_callback_url(
    fake: FakeTwilio, client: Client, status: str, error_code: int | None
) -> None:
    received: list[tuple[dict[str, str], bool]] = []

    async def status_hook(request: Request) -> PlainTextResponse:
        form = await read_form(request)
        valid = RequestValidator(fake.auth_token).validate(
            str(request.url), form, request.headers.get("X-Twilio-Signature", "")
        )
        received.append((form, valid))
        return PlainTextResponse("", status_code=204 if valid else 403)

    async with serve(Starlette(routes=[Route("/twilio/status", status_hook, methods=["POST"])])) as base:
        message = await client.messages.create_async(
            to=PARTICIPANT, from_=BOT, body="Hej", status_callback=f"{base}/twilio/status"
        )
        response = await fake.deliver_status(message.sid, status, error_code)

    assert response.status_code == 204
    form, valid = received[0]
    assert valid
    assert (form["MessageSid"], form["MessageStatus"], form["To"]) == (message.sid, status, PARTICIPANT)
    assert form.get("ErrorCode") == (str(error_code) if error_code else None)


async def test_status_callback_can_be_posted_past_a_proxy(fake: FakeTwilio, client: Client) -> None:
    public = "https://bot.example.dk/twilio/status"
    message = await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej", status_callback=public)

    async def status_hook(request: Request) -> PlainTextResponse:
        form = await read_form(request)
        ok = RequestValidator(fake.auth_token).validate(public, form, request.headers["X-Twilio-Signature"])
        return PlainTextResponse("", status_code=204 if ok else 403)

    async with serve(Starlette(routes=[Route("/twilio/status", status_hook, methods=["POST"])])) as base:
        response = await fake.deliver_status(message.sid, "delivered", post_to=f"{base}/twilio/status")
    assert response.status_code == 204


async def test_send_without_callback_cannot_be_called_back(fake: FakeTwilio, client: Client) -> None:
    message = await client.messages.create_async(to=PARTICIPANT, from_=BOT, body="Hej")
    with pytest.raises(ValueError, match="without a StatusCallback"):
        await fake.deliver_status(message.sid, "delivered")
    async with httpx.AsyncClient() as http:  # the fake is a real server: plain HTTP reaches it too
        response = await http.post(f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json")
    assert (response.status_code, response.json()["code"]) == (401, 20003)
