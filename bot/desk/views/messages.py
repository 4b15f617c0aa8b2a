"""Messages: what participants wrote for a human, unread first, read and answered from the browser.

The inbox is the terminal desk's (bot/messages.py `CoachInbox`): the same messages, the same rule for who may read
which (`may_read`), the same audited read ("message.read", per message). Opening the page does not read anything:
a coach marks a message read, or answers it, which reads it too. The answer goes to the participant through the bot
(`CoachInbox.reply`: the outbox, their channel, the quiet hours unless "send now"), and canned replies in the
participant's language (deployment `canned_replies`) give a start the coach can change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.canned_replies import MAX_TEXT, CannedReply
from bot.desk.channel_health import set_up_channels
from bot.desk.context import Desk
from storage.records import CoachMessage, Profile

READ_SHOWN = 20  # the latest read messages under the unread ones
DONE = ("read", "sent", "later", "unreachable", "empty", "already")
CARRIERS = ("sms", "telegram")  # the channels that need settings to send (the console needs none)


@dataclass(frozen=True)
class MessageRow:
    message: CoachMessage
    profile: Profile | None
    canned: tuple[CannedReply, ...]  # offered in the participant's language
    reader: str  # the name of the coach who read it; "" while unread


async def readable(desk: Desk, coach_id: str) -> list[MessageRow]:
    """The messages this coach may read: every unread one (oldest first), then the latest read ones."""
    inbox = desk.coach_desk.messages
    profiles: dict[int, Profile | None] = {}
    rows = []
    for message in await desk.storage.coach_messages(read_limit=READ_SHOWN * 4):
        if message.participant_id not in profiles:
            profiles[message.participant_id] = await desk.storage.profile(message.participant_id)
        profile = profiles[message.participant_id]
        if inbox.may_read(coach_id, profile):
            reader = desk.deployment.coaches.get(message.read_by or "")
            rows.append(MessageRow(message, profile, canned_for(desk, profile),
                                   reader.name if reader else (message.read_by or "")))
    unread = [r for r in rows if r.message.read_at is None]
    return unread + [r for r in rows if r.message.read_at is not None][:READ_SHOWN]


def canned_for(desk: Desk, profile: Profile | None) -> tuple[CannedReply, ...]:
    lang = profile.participant.lang if profile is not None else "da"
    return tuple(desk.deployment.canned_replies.get(lang, ()))


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request) -> Response:
        coach = desk.coach(request)
        rows = await readable(desk, coach.id)
        unread = sum(1 for r in rows if r.message.read_at is None)
        await desk.audit(request, "messages.viewed", "messages", {"unread": unread, "read": len(rows) - unread})
        done = request.query_params.get("done", "")
        try:
            at: datetime | None = datetime.fromisoformat(request.query_params.get("at", ""))
        except ValueError:
            at = None
        context = {"rows": rows, "unread": unread, "done": done if done in DONE else "", "at": at,
                   "done_id": request.query_params.get("id", ""), "max_text": MAX_TEXT,
                   "stuck": {"sms": "SMS", "telegram": "Telegram"}.get(request.query_params.get("stuck", ""))}
        return desk.templates.render(request, "messages.html", context)

    async def allowed(request: Request, coach_id: str) -> tuple[CoachMessage, Profile | None] | None:
        """The message of the path, if this coach may read it (the same 404 whether it exists or not)."""
        message = await desk.storage.coach_message(request.path_params["id"])
        if message is None:
            return None
        profile = await desk.storage.profile(message.participant_id)
        if not desk.coach_desk.messages.may_read(coach_id, profile):
            await desk.audit(request, "message.refused", f"participant:{message.participant_ref}",
                             {"message_id": message.id})
            return None
        return message, profile

    async def canned(request: Request) -> Response:
        """The reply box filled with the canned text picked (htmx swaps it in; the coach may change it)."""
        coach = desk.coach(request)
        found = await allowed(request, coach.id)
        if found is None:
            return Response(status_code=404)
        message, profile = found
        texts = canned_for(desk, profile)
        picked = request.query_params.get("canned", "")
        text = texts[int(picked)].text if picked.isdigit() and int(picked) < len(texts) else ""
        return desk.templates.render(request, "messages_reply_box.html",
                                     {"m": message, "text": text, "max_text": MAX_TEXT})

    async def mark_read(request: Request) -> Response:
        coach = desk.coach(request)
        found = await allowed(request, coach.id)
        if found is None:
            return Response(status_code=404)
        message = found[0]
        read = await desk.storage.mark_messages_read([message.id], coach.id, desk.clock.now())  # audited per message
        return RedirectResponse(f"/messages?done={'read' if read else 'already'}&id={message.id}", status_code=303)

    async def reply(request: Request) -> Response:
        coach = desk.coach(request)
        found = await allowed(request, coach.id)
        if found is None:
            return Response(status_code=404)
        message = found[0]
        form = await request.form()
        replied = await desk.coach_desk.messages.reply(
            coach.id, message, str(form.get("text", "")), send_now=form.get("now") == "yes",
            programme=await desk.loop.programme_of(message.participant_id),  # their quiet hours
            wake=desk.loop.outbox_listeners)  # audited with the row ("message.replied")
        later = f"&at={quote(replied.not_before.isoformat())}" if replied.not_before else ""
        if replied.outcome in ("sent", "later") and replied.channel in CARRIERS and \
                replied.channel not in set_up_channels():  # queued for a carrier this bot has no settings for
            later += f"&stuck={replied.channel}"
        return RedirectResponse(f"/messages?done={replied.outcome}&id={message.id}{later}", status_code=303)

    return [Route("/messages", page), Route("/messages/{id:int}/canned", canned),
            Route("/messages/{id:int}/read", mark_read, methods=["POST"]),
            Route("/messages/{id:int}/reply", reply, methods=["POST"])]
