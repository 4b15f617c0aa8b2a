"""The one envelope in which every channel hands the conversation loop what a person sent.

A channel knows its wire format (a Twilio form, a Telegram update, a terminal line) and its own words (SMS STOP,
Telegram /start); everything after that is the same for all of them and lives in `ConversationLoop.receive`: who the
address belongs to, the dedupe key, the terms first, the step and its one transaction. The envelope replaces the
keyword flags each channel used to add to `handle()`; an option here is a fact about the message, not an
instruction for one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.inputs import Input, Text
from storage.records import AddressStatus


@dataclass(frozen=True)
class Inbound:
    """One message or button press from one address on one channel."""

    channel: str
    address: str  # the phone number, the chat id, "console"
    says: tuple[Input, ...]  # what it means to the engine: usually one `Text`; SMS START says (RemindersOn, Resume)
    provider_id: str | None = None  # the channel's id of the message (MessageSid, update_id): the dedupe key
    # a pressed button: taken only while this question (flows/asking.py's `short_name`) is still the one asked
    answers_question: str | None = None
    notice: str | None = None  # the channel's own confirmation (a phrase), sent first, even to an opted-out address
    address_status: AddressStatus | None = None  # the address's status from this message on (STOP, START, ...)
    even_if_opted_out: bool = False  # the replies go out even to an opted-out address (help after STOP)
    terms_first: bool = True  # the deployment's current terms are asked before anything else (not on the console)

    @classmethod
    def text(cls, channel: str, address: str, text: str, provider_id: str | None = None) -> Inbound:
        return cls(channel, address, (Text(text),), provider_id)
