"""The invite: the first message a newly enrolled participant gets, and how the administrator is told about it.

With a phone number the invite is an SMS through the outbox like every message the bot sends (so it is sent once,
after a crash too, and is in the person's history); for someone enrolled for Telegram as well, that SMS carries the
Telegram link and says until when it works. Without a phone the link cannot be sent by the bot (it does not know
the person's Telegram yet): the administrator hands it over, printed or shown as a QR code (bot/desk/qr.py). Either
way the first conversation (the programme's terms, then the baseline) starts on the channel the person has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime

from bot.clock import COPENHAGEN
from bot.conversation import ConversationLoop
from bot.enroll import LINK_CODE_LIFETIME, EnrolmentRequest, Invite
from flows import phrases
from flows.effects import Phrase
from flows.inputs import RequireConsent

SMS_LINK = "sms_link"  # the Telegram link went by SMS
SMS = "sms"  # the SMS invite (no Telegram)
SHOW = "show"  # the Telegram link is only shown to the administrator, to hand over


@dataclass(frozen=True)
class Delivery:
    ref: str
    how: str  # SMS_LINK, SMS or SHOW
    link: str | None  # the Telegram link (known only now: only its digest is stored)
    expires_at: datetime | None


def until(moment: datetime, lang: str) -> str:
    """"20. december kl. 16.44", "20 December at 16:44": when a link stops working, in the reader's language."""
    pattern = "d. MMMM 'kl.' HH.mm" if lang == "da" else "d MMMM 'at' HH:mm"
    return str(format_datetime(moment, pattern, tzinfo=COPENHAGEN, locale=lang))


async def send_invite(loop: ConversationLoop, invite: Invite, request: EnrolmentRequest, now: datetime) -> Delivery:
    """Start the participant's first conversation with the invite in front of it (the outbox sends it)."""
    link = invite.telegram_link
    expires = now + LINK_CODE_LIFETIME if link else None
    ref = invite.participant.ref
    if request.phone:
        notice: str | Phrase = phrases.SMS_INVITE
        if link is not None and expires is not None:
            notice = Phrase(phrases.SMS_INVITE_TELEGRAM, {"link": link, "until": until(expires, request.lang)})
        await loop.handle(invite.participant, RequireConsent(), "sms", notice=notice)
        return Delivery(ref, SMS_LINK if link else SMS, link, expires)
    await loop.handle(invite.participant, RequireConsent(), "telegram")
    return Delivery(ref, SHOW, link, expires)


def told(delivery: Delivery) -> str:
    """For the command line: how the invite reaches the participant, in one sentence."""
    if delivery.how == SMS:
        return f"{delivery.ref}: an SMS invite is on its way to their phone; the programme's terms follow by SMS"
    assert delivery.expires_at is not None
    expiry = until(delivery.expires_at, "en")
    if delivery.how == SMS_LINK:
        return (f"{delivery.ref}: the Telegram link is on its way to their phone by SMS; it works once, until "
                f"{expiry} (until they open it, the bot writes by SMS)")
    return (f"{delivery.ref}: no message was sent (there is no phone number): give them the Telegram link "
            f"yourself, printed or as a QR code (the desk's enrolment page shows one); it works once, until {expiry}")
