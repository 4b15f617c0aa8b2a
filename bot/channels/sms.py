"""SMS through Twilio: signed inbound webhooks into the loop, and the outbox out, paced and retried.

Inbound: the signature is checked against the public URL, the MessageSid is the dedupe key, and the
message is committed (inbox row and the whole step) before Twilio gets its 200. Unknown numbers get one
polite reply and nothing else. STOP-words opt the number out: nothing more is sent to it but the
confirmation, until the person writes START.

Outbound: the one dispatcher (bot/dispatcher.py) hands this channel one row at a time; the channel sends it at most
`segments_per_second` (Twilio's rate for the number; coach alerts draw on the same budget, first), with a status
callback so delivery is recorded, and reports the outcome. Twilio error 21610 (the recipient has opted out at the
carrier) marks the number opted out; rate limits and server errors are retried; other refusals are given up.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.channels.base import Delivery, Failed, Sent, as_plain_text
from bot.channels.pacing import PriorityPacer
from bot.clock import Clock
from bot.conversation import ConversationLoop
from bot.deployment import Coach
from bot.dispatcher import Dispatcher
from bot.gsm import segments, to_gsm
from bot.heartbeats import Heartbeat
from bot.inbound import Inbound
from bot.phone import PhoneNumberError, masked, normalize
from bot.rendering import Catalogs
from bot.safety_net import SafetyNet
from flows import phrases
from flows.inputs import RemindersOn, Resume, Text
from flows.textnorm import fold
from storage.admin_records import RECEIVED, STATUS
from storage.ports import Storage
from storage.records import AddressStatus, OutboxRow, Priority

log = logging.getLogger(__name__)
CHANNEL = "sms"
OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "afmeld", "afmeld alle",
                           "stop alle", "frameld"})
OPT_IN_WORDS = frozenset({"start", "unstop", "tilmeld"})  # only while opted out: "yes" is an answer
HELP_WORDS = frozenset({"hjaelp", "hjalp", "help", "info"})
OPTED_OUT_BY_CARRIER = 21610  # Twilio: "Attempt to send to unsubscribed recipient"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class SmsSender(Protocol):
    """The part of the twilio client we use; `TwilioSender` is the real one."""

    async def send(self, to: str, body: str, status_callback: str | None) -> str: ...


class SendRefused(Exception):
    """The provider refused the message; `status` is the HTTP status, `code` the provider's error code."""

    def __init__(self, status: int, code: int | None) -> None:
        super().__init__(f"refused: HTTP {status}, code {code}")
        self.status = status
        self.code = code


class SmsChannel:
    name = CHANNEL

    def __init__(self, storage: Storage, loop: ConversationLoop, sender: SmsSender, catalogs: Catalogs,
                 clock: Clock, status_callback_url: str | None, segments_per_second: float = 10.0,
                 safety: SafetyNet | None = None, concurrency: int = 4) -> None:
        self.storage = storage
        # without a spool (tests of other things): a risk message that cannot be stored still gets the contacts
        self.safety = safety or SafetyNet(storage, loop, loop.deployment, clock, None)
        self.loop = loop
        self.sender = sender
        self.catalogs = catalogs
        self.clock = clock
        self.status_callback_url = status_callback_url
        self.pacer = PriorityPacer(segments_per_second)  # shared with SmsCoachChannel: the number's one budget
        self.dispatcher = Dispatcher(storage, clock, self, loop.deployment.delivery, concurrency=concurrency)
        loop.outbox_listeners.append(self.dispatcher.wake_for)
        self.heartbeat = Heartbeat(storage, clock, CHANNEL)  # the last webhook seen (the channel health page)
        self._strangers: dict[str, datetime] = {}  # digest of an unknown number -> when it was last answered

    # -- inbound -------------------------------------------------------------------------------------------

    async def receive(self, form: Mapping[str, str]) -> str | None:
        """Handle a verified inbound SMS; returns a reply to put in the TwiML response: for an unknown sender,
        or the crisis contacts when a risk message cannot be stored (bot/safety_net.py)."""
        message_sid, body = form.get("MessageSid", ""), form.get("Body", "")
        try:
            sender = normalize(form.get("From", ""))
        except PhoneNumberError:
            log.warning("inbound SMS %s without a usable sender number; ignored", message_sid)
            return None
        reply = await self.safety.guarded(CHANNEL, sender, message_sid, body,
                                          lambda: self._receive(sender, message_sid, body))
        await self.heartbeat.beat(RECEIVED)  # after the message is stored: Twilio's webhook works
        return reply

    async def _receive(self, sender: str, message_sid: str, body: str) -> str | None:
        identity = await self.loop.identify(CHANNEL, sender)
        if identity is None and self.safety.level(body) is not None:  # crisis contacts and a duty coach
            await self.safety.from_stranger(CHANNEL, sender, message_sid, body)  # its replies wake the dispatcher
            return None
        if identity is None:
            return self._answer_stranger(sender)
        await self.loop.receive(self.read(sender, message_sid, body, identity.status), identity)
        return None

    @staticmethod
    def read(sender: str, message_sid: str, body: str, status: AddressStatus) -> Inbound:
        """What an SMS means: the opt-out words end everything but the confirmation; START after STOP turns
        reminders on and carries on where they were; help is answered even after STOP; crisis contacts always
        are (see the conversation loop). The address's new status is committed with the step, so a retried
        webhook cannot undo a newer choice."""
        word = fold(body)
        opted_out = status is AddressStatus.OPTED_OUT
        if word in OPT_OUT_WORDS:  # ends any questionnaire; only the confirmation goes out
            return Inbound(CHANNEL, sender, (Text("STOP"),), message_sid, notice=phrases.SMS_OPTED_OUT,
                           address_status=AddressStatus.OPTED_OUT)
        if opted_out and word in OPT_IN_WORDS:  # welcome back, reminders on again, and where they were
            return Inbound(CHANNEL, sender, (RemindersOn(), Resume()), message_sid, notice=phrases.SMS_OPTED_IN,
                           address_status=AddressStatus.ACTIVE)
        return Inbound(CHANNEL, sender, (Text(body),), message_sid, even_if_opted_out=opted_out and word in HELP_WORDS)

    def _answer_stranger(self, number: str) -> str | None:
        """One polite reply per unknown number a day, and nothing else: no reply loops with auto-responders,
        no cost run-up. (Kept in memory: after a restart a stranger may get the reply once more.)"""
        key = hashlib.sha256(number.encode()).hexdigest()
        now = self.clock.now()
        last = self._strangers.get(key)
        if last is not None and now - last < timedelta(days=1):
            log.info("another SMS from the unknown number %s; not answered again today", masked(number))
            return None
        self._strangers[key] = now
        log.info("SMS from an unknown number %s; answered politely, nothing else", masked(number))
        return "\n\n".join(self.catalogs.gettext(lang, phrases.SMS_UNKNOWN_SENDER) for lang in ("da", "en"))

    async def status(self, form: Mapping[str, str]) -> None:
        """A verified status callback: record what happened to the message."""
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        await self.heartbeat.beat(STATUS)  # delivery reports arrive (nothing urgent waits on one)
        row = await self.storage.outbox_by_provider_id(sid)
        if row is None:
            log.warning("status callback for unknown message %s", sid)
            return
        code = form.get("ErrorCode") or ""
        await self.storage.mark_delivery(row.id, sid, status, self.clock.now(), code)
        if status not in ("undelivered", "failed"):
            return
        if code == str(OPTED_OUT_BY_CARRIER):
            await self._carrier_opt_out(row.participant_id)
            return
        now, detail = self.clock.now(), f"{status} {code}".strip()
        retry_at = self.dispatcher.policy.retry_at(row, now)  # as if the send itself had failed
        if retry_at is not None:
            await self.storage.defer_outbox(row.id, retry_at, now, detail)
        else:
            log.error("SMS outbox row %s (priority %s) could not be delivered after %s attempts: given up", row.id,
                      row.priority.name, row.attempts + 1)
            await self.storage.give_up_outbox(row.id, now, detail)

    async def _opt(self, participant_id: int, number: str, status: AddressStatus) -> None:
        """The carrier says the number has opted out: an outbound fact, not a step of the conversation."""
        await self.storage.set_address(participant_id, CHANNEL, number, status, self.clock.now())

    async def _carrier_opt_out(self, participant_id: int) -> None:
        for address in await self.storage.addresses(participant_id):
            if address.channel == CHANNEL:
                await self._opt(participant_id, address.address, AddressStatus.OPTED_OUT)

    # -- outbound ------------------------------------------------------------------------------------------

    async def deliver(self, row: OutboxRow) -> Delivery:
        """Send one outbox row (the dispatcher decides which, and what becomes of it)."""
        address = next((a for a in await self.storage.addresses(row.participant_id) if a.channel == CHANNEL), None)
        allowed = address is not None and (address.status is AddressStatus.ACTIVE
                                           or (row.payload.get("even_if_opted_out")
                                               and address.status is AddressStatus.OPTED_OUT))
        if address is None or not allowed:
            return Failed("no active SMS address", final=True)
        body = to_gsm(as_plain_text(row.payload))
        await self.pacer.take(segments(body), row.priority)
        try:
            sid = await self.sender.send(address.address, body, self.status_callback_url)
        except SendRefused as refused:
            return await self._refused(row, address.address, refused)
        except Exception as exc:  # network trouble: try again later
            return Failed(type(exc).__name__)
        return Sent(sid)

    async def _refused(self, row: OutboxRow, number: str, refused: SendRefused) -> Delivery:
        if refused.code == OPTED_OUT_BY_CARRIER:
            await self._opt(row.participant_id, number, AddressStatus.OPTED_OUT)
            return Failed(f"code {refused.code}", final=True)
        if refused.status in RETRYABLE_STATUS:
            return Failed(f"HTTP {refused.status}")
        return Failed(f"HTTP {refused.status} code {refused.code}", final=True)

    async def deliver_pending(self) -> int:
        """Send what may go now and wait for it (tests); `run` does this all the time."""
        return await self.dispatcher.deliver_pending()

    async def run(self, poll: timedelta = timedelta(seconds=1)) -> None:
        """The dispatcher task of this channel."""
        await self.dispatcher.run(poll)


class SmsCoachChannel:
    """Risk alerts to a coach's phone: sent at once (the alert's notification row is the stored record), on the
    number's budget ahead of every participant message (`pacer`: the SMS channel's)."""

    name = CHANNEL

    def __init__(self, sender: SmsSender, pacer: PriorityPacer | None = None) -> None:
        self.sender = sender
        self.pacer = pacer or PriorityPacer(0)

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        if not address:
            raise LookupError(f"coach {coach.id} has no SMS number in the configuration")
        body = to_gsm(text)
        await self.pacer.take(segments(body), Priority.URGENT)
        await self.sender.send(address, body, None)


TWILIO_API = "https://api.twilio.com"


def _http_client(base_url: str | None) -> Any:
    """twilio's own aiohttp client, with two changes: basic auth sent as a header (the stock client builds
    aiohttp.BasicAuth, deprecated in aiohttp 3.14: twilio/twilio-python#931), and an optional other API
    address (`TWILIO_API_BASE_URL`: a proxy, or the fake Twilio in tests)."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    class HeaderAuthHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
        async def request(self, method: str, url: str, params: Any = None, data: Any = None,
                          headers: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
                          timeout: float | None = None, allow_redirects: bool = False) -> Any:
            if auth is not None:
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode("latin-1")).decode()
                headers = {**(headers or {}), "Authorization": f"Basic {token}"}
            if base_url and url.startswith(TWILIO_API):
                url = base_url.rstrip("/") + url[len(TWILIO_API):]
            return await super().request(method, url, params, data, headers, None, timeout, allow_redirects)

    return HeaderAuthHttpClient()


class TwilioSender:
    """The real sender: twilio's async client. `close()` when done."""

    def __init__(self, account_sid: str, auth_token: str, from_: str, api_base_url: str | None = None) -> None:
        from twilio.rest import Client

        self.http_client = _http_client(api_base_url)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self.from_ = from_

    async def send(self, to: str, body: str, status_callback: str | None) -> str:
        from twilio.base.exceptions import TwilioRestException

        sender = {"messaging_service_sid": self.from_} if self.from_.startswith("MG") else {"from_": self.from_}
        options: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
        try:
            message = await self.client.messages.create_async(to=to, body=body, **sender, **options)
        except TwilioRestException as exc:
            raise SendRefused(exc.status, exc.code) from exc
        return str(message.sid)

    async def close(self) -> None:
        await self.http_client.close()
