"""A crisis reply that does not get through is a human's job: the coach on duty is told, on another channel.

The dispatcher retries a crisis reply for a day or more (bot/delivery_policy.py), but the person who wrote it
needs the contacts now. Once one has not been delivered for the deployment's `urgent_undelivered_minutes`, or is
given up (the person blocked the bot, the number does not exist), the coaches on duty are told which participant,
on which channel, why, and until when it is tried, on their channels other than the failing one first
(`EscalationService.tell_on_duty`). It is recorded on the outbox row, so each one is told once, also across a
restart; if no coach could be reached it is tried again at the next tick. Every telling is audited, without the
message.
"""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.delivery_policy import DeliveryPolicy
from bot.escalation import COACH_LANG, EscalationService
from bot.rendering import Catalogs, format_moment
from flows import phrases
from storage.ports import Storage
from storage.records import AuditRecord, UndeliveredRow

log = logging.getLogger(__name__)
TOLD = "outbox.undelivered_told"


class UndeliveredWatch:
    def __init__(self, storage: Storage, escalations: EscalationService, policy: DeliveryPolicy, catalogs: Catalogs,
                 clock: Clock) -> None:
        self.storage = storage
        self.escalations = escalations
        self.policy = policy
        self.catalogs = catalogs
        self.clock = clock

    async def tick(self) -> int:
        """Tell the coaches on duty of every crisis reply overdue or given up that nobody was told of; returns how
        many were told. Safe to call any time."""
        told = 0
        now = self.clock.now()
        for undelivered in await self.storage.undelivered_urgent(now - self.policy.urgent_undelivered_after):
            row = undelivered.row
            profile = await self.storage.profile(row.participant_id)
            ref = profile.participant.ref if profile is not None else str(row.participant_id)
            reached = await self.escalations.tell_on_duty(self.message(undelivered, ref), avoid=row.channel)
            if not reached:
                log.error("no coach could be told that the crisis reply %s on %s is not delivered; trying again",
                          row.id, row.channel)
                continue
            await self.storage.mark_undelivered_told(row.id, now)
            await self.storage.record_audit(AuditRecord("system", TOLD, f"participant:{ref}", now, {
                "outbox_id": row.id, "channel": row.channel, "given_up": undelivered.given_up_at is not None,
                "coaches": reached}))
            log.warning("coaches %s told that the crisis reply %s on %s is not delivered", reached, row.id, row.channel)
            told += 1
        return told

    def message(self, undelivered: UndeliveredRow, ref: str) -> str:
        row, lang = undelivered.row, COACH_LANG
        reason = undelivered.detail or "–"
        written = format_moment(row.created_at, lang)
        if undelivered.given_up_at is not None:
            return self.catalogs.gettext(lang, phrases.COACH_CRISIS_GIVEN_UP).format(
                participant=ref, channel=row.channel, reason=reason, written=written)
        until = format_moment(row.created_at + self.policy.urgent_retry, lang)
        return self.catalogs.gettext(lang, phrases.COACH_CRISIS_NOT_DELIVERED).format(
            participant=ref, channel=row.channel, reason=reason, written=written, until=until)
