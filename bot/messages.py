"""The coach's inbox (desk command BESKEDER/MESSAGES): what participants wrote that was for a human (issue 11).

The engine decides which messages a coach must read (flows/for_coach.py); the loop keeps them, sealed, in the inbox.
Here a coach sees their own participants' messages (an administrator everyone's; a participant without a coach is
seen by the coaches of the duty roster), unread first and with the person's name. Showing a message is reading it:
it is marked read by that coach at that moment, each one audited ("message.read"), and a task it had become is done
with it. A message nobody has read by `messages.unread_task_after` (deployment) becomes a coach task, once (`tick`,
run by the escalation watcher).

A coach answers through the bot (`reply`, the desk's Messages page): the reply goes into the outbox on the
participant's own channel (the one they wrote on if it is still active, else another active one), and the dispatcher
sends it like every other message. Like the bot's own routine messages (flows/due.py), a reply does not go out in
the programme's quiet hours (flows/timing.py: 21-08 by default) but waits for their end, unless the coach says
"send now". The row, the message read and the audit row are one write (storage `send_coach_reply`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.canned_replies import MAX_TEXT
from bot.clock import COPENHAGEN, Clock
from bot.deployment import Deployment
from bot.people import on_roster
from bot.rendering import Catalogs
from flows import phrases, timing
from flows.phrases import N_
from flows.programme import Programme
from storage.ports import Storage
from storage.records import AddressStatus, AuditRecord, CoachMessage, Priority, Profile

log = logging.getLogger(__name__)
MAX_UNREAD_SHOWN = 30  # a desk reply must fit a Telegram message; the rest are shown (and read) next time
MAX_READ_SHOWN = 10
MAX_TEXT_SHOWN = 600  # characters of one message in the list; the person's export has all of it
TASK_DUE = timedelta(days=1)  # an unread message's task is due a day after it became one
# TRANSLATORS: sent to a participant above a coach's reply, so it is not taken for the bot's; {coach} is the
# coach's name. Our own wording, for the clinic's sign-off (docs/safety-content.md, section 8).
FROM_COACH = N_("{coach} (your coach) writes:\n{text}")
OutboxListener = Callable[[frozenset[str]], None]  # wakes a channel's dispatcher (ConversationLoop.outbox_listeners)


@dataclass(frozen=True)
class Replied:
    """What became of a reply: "sent" (queued to go now), "later" (held until `not_before`: quiet hours),
    "unreachable" (no active address: nothing queued) or "empty"."""

    outcome: str
    channel: str = ""
    not_before: datetime | None = None


class CoachInbox:
    def __init__(self, storage: Storage, deployment: Deployment, catalogs: Catalogs, clock: Clock,
                 lang: str = "da") -> None:
        self.storage = storage
        self.deployment = deployment
        self.catalogs = catalogs
        self.clock = clock
        self.lang = lang

    def t(self, msgid: str, **params: object) -> str:
        return self.catalogs.gettext(self.lang, msgid).format(**params)

    async def show(self, coach_id: str) -> str:
        """The coach's messages, unread first (oldest first), then the latest read ones; the unread ones shown are
        read now, by this coach."""
        profiles: dict[int, Profile | None] = {}
        mine: list[CoachMessage] = []
        for message in await self.storage.coach_messages(read_limit=200):
            if message.participant_id not in profiles:
                profiles[message.participant_id] = await self.storage.profile(message.participant_id)
            if self.may_read(coach_id, profiles[message.participant_id]):
                mine.append(message)
        unread = [m for m in mine if m.read_at is None][:MAX_UNREAD_SHOWN]
        read = [m for m in mine if m.read_at is not None][:MAX_READ_SHOWN]
        now = self.clock.now()
        await self.storage.record_audit(AuditRecord(f"coach:{coach_id}", "messages.viewed", "messages", now,
                                                    {"unread": len(unread), "read": len(read)}))
        if unread:
            await self.storage.mark_messages_read([m.id for m in unread], coach_id, now)
        lines = [self.line(m, profiles[m.participant_id]) for m in (*unread, *read)]
        return "\n".join(lines) or self.t(phrases.MESSAGES_NONE)

    def may_read(self, coach_id: str, profile: Profile | None) -> bool:
        """The participant's own coach and administrators; for someone without a coach, the duty roster too."""
        coach = self.deployment.coaches[coach_id]
        if coach.is_admin or (profile is not None and profile.coach_id == coach_id):
            return True
        unassigned = profile is None or profile.coach_id is None
        return unassigned and on_roster(self.deployment, coach_id)

    async def reply(self, coach_id: str, message: CoachMessage, text: str, *, send_now: bool = False,
                    programme: Programme | None = None, wake: Sequence[OutboxListener] = ()) -> Replied:
        """Answer the participant who wrote `message`, through the bot; the message is read by the coach with it.
        The caller has checked that the coach `may_read` it."""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return Replied("empty")
        active = [a for a in await self.storage.addresses(message.participant_id) if a.status is AddressStatus.ACTIVE]
        if not active:
            return Replied("unreachable")
        channel = next((a.channel for a in active if a.channel == message.channel), active[0].channel)
        participant = await self.storage.participant(message.participant_id)
        lang = participant.lang if participant is not None else self.lang
        now = self.clock.now()
        quiet = not send_now and programme is not None and not timing.is_allowed(programme, now)
        not_before = timing.allowed_from(programme, now) if quiet and programme is not None else None
        coach = self.deployment.coaches[coach_id]
        payload = {"lang": lang, "text": self.catalogs.gettext(lang, FROM_COACH).format(coach=coach.name, text=text)}
        # a held reply is routine, so it holds back only the routine messages after it, never the person's replies
        priority = Priority.ROUTINE if quiet else Priority.REPLY
        await self.storage.send_coach_reply(message.participant_id, channel, payload, coach_id, now,
                                            message_id=message.id, priority=priority, not_before=not_before)
        for listener in wake:
            listener(frozenset({channel}))
        return Replied("later" if quiet else "sent", channel, not_before)

    def line(self, message: CoachMessage, profile: Profile | None) -> str:
        text = message.body if len(message.body) <= MAX_TEXT_SHOWN else message.body[:MAX_TEXT_SHOWN] + "…"
        flow = message.detail.get("flow_id")
        params = {
            "id": message.id, "ref": message.participant_ref, "name": (profile.name if profile else "") or "–",
            "when": self._moment(message.received_at), "channel": message.channel,
            "where": self.t(phrases.MESSAGE_WHERE, flow=flow) if flow else "", "text": f"»{text}«",
        }
        if message.read_at is None:
            return self.t(phrases.MESSAGE_UNREAD, **params)
        return self.t(phrases.MESSAGE_READ, **params, coach=message.read_by or "", read=self._moment(message.read_at))

    def _moment(self, moment: datetime) -> str:
        return moment.astimezone(COPENHAGEN).strftime("%d.%m %H:%M")

    async def tick(self) -> None:
        """Unread messages past `messages.unread_task_after` become coach tasks (once each)."""
        now = self.clock.now()
        waiting = [m for m in await self.storage.coach_messages(read_limit=0)
                   if m.task_id is None and self.deployment.unread_task_at(m.received_at) <= now]
        if waiting:  # the rule only moves forward in time: everything up to the latest of these is due
            made = await self.storage.task_unread_messages(max(m.received_at for m in waiting), now, now + TASK_DUE)
            if made:
                log.info("%s unread message(s) became coach tasks", len(made))
