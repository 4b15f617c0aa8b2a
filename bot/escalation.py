"""The human side of the safety path: notify coaches, watch deadlines, widen the circle, retry channels.

Everything lives in the database (escalations, their deadlines and every notification attempt), so a
restart loses nothing: `tick()` at start fires whatever became overdue while the bot was down and notifies
escalations that were stored but never announced. A notification is stored as pending before it is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Protocol, runtime_checkable

from bot import people
from bot.clock import Clock
from bot.deployment import Coach, Deployment
from bot.rendering import Catalogs, format_moment
from flows import phrases
from flows.risk import rank
from storage.ports import Storage
from storage.records import Escalation, EscalationStatus, NotificationStatus

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)  # a coach no channel reached is tried again after this long, then 2, 4, ... min
CHANNEL_TIMEOUT = 10.0  # seconds a coach channel may take before it counts as failed and the next is tried
TOP_TIER = 2  # 0 on duty, 1 + backup, 2 + clinical lead
COACH_LANG = "da"  # coaches read Danish; a per-coach language setting is an open item (hazard H20)


class CoachChannel(Protocol):
    """Delivers a text to a coach at `address` (their number or chat id; empty on the console); raises when
    it could not, and the coach's next channel is then tried."""

    name: str

    async def notify(self, coach: Coach, text: str, address: str = "") -> None: ...


@runtime_checkable
class AlertChannel(CoachChannel, Protocol):
    """A coach channel that can put the alert's actions under it (Telegram: OK and Vis buttons,
    bot/channels/telegram_coach.py); the others get the text only."""

    async def notify_alert(self, coach: Coach, text: str, address: str, escalation_id: int) -> None: ...


def level_name(catalogs: Catalogs, lang: str, level: str) -> str:
    names = {"high": phrases.LEVEL_HIGH, "moderate": phrases.LEVEL_MODERATE, "low": phrases.LEVEL_LOW}
    return catalogs.gettext(lang, names.get(level, phrases.LEVEL_HIGH))


def trigger_quotes(escalation: Escalation) -> list[tuple[str, str]]:
    """Per trigger: what the participant wrote, verbatim, and what recognised it (the word list's rule, or the
    questionnaire item and its answer). The desk shows the two apart: the words are the person's, the rule is ours
    (never written to logs)."""
    quotes = []
    for t in escalation.triggers:
        data = t.trigger
        if t.trigger_kind == "text":
            quotes.append((str(data.get("text", "")), str(data.get("matched", ""))))
        else:
            quotes.append((str(data.get("raw_text", "")),
                           f"{data.get('flow_id', '')} {data.get('item_id', '')} = {data.get('answer', '')}"))
    return quotes


def describe_trigger(escalation: Escalation) -> str:
    """What fired it, verbatim, for the coach's terminal and Telegram alert (never written to logs)."""
    parts = []
    for t, (words, rule) in zip(escalation.triggers, trigger_quotes(escalation), strict=True):
        parts.append(f"\u00bb{words}\u00ab ({rule})" if t.trigger_kind == "text" else f"{rule} (\u00bb{words}\u00ab)")
    return "; ".join(parts)


def _news(escalation: Escalation) -> bool:
    """New, or raised to a higher level by its latest trigger: worth a coach's attention now. A repeat at the
    same or a lower level joins the open escalation quietly (no flood of alerts)."""
    *earlier, latest = escalation.triggers or (None,)
    if latest is None or not earlier:
        return True
    return rank(latest.level) > max(rank(t.level) for t in earlier if t is not None)


class EscalationService:
    def __init__(self, storage: Storage, deployment: Deployment, channels: Mapping[str, CoachChannel],
                 catalogs: Catalogs, clock: Clock) -> None:
        self.storage = storage
        self.deployment = deployment
        self.channels = channels
        self.catalogs = catalogs
        self.clock = clock
        self._in_flight: set[int] = set()  # escalations being announced right now (the watcher leaves them)
        self.after_tick: list[Callable[[], Awaitable[None]]] = []  # other watchers' work (unread messages' tasks)

    async def notify_new(self, escalation_ids: tuple[int, ...]) -> None:
        """Called right after a step that raised a risk signal has been committed."""
        for escalation_id in dict.fromkeys(escalation_ids):
            self._in_flight.add(escalation_id)
            try:
                escalation = await self.storage.escalation(escalation_id)
                if escalation is None:
                    continue
                if escalation.status is EscalationStatus.OPEN and _news(escalation):
                    await self.notify(escalation, reminder=False)
                elif escalation.status is EscalationStatus.ACKNOWLEDGED and escalation.acknowledged_by:
                    # the coach who has it hears of every new signal, even at the same level
                    coach = self.deployment.coaches.get(escalation.acknowledged_by)
                    if coach is not None:
                        await self.deliver(escalation, coach, reminder=False)
            finally:
                self._in_flight.discard(escalation_id)

    async def notify(self, escalation: Escalation, reminder: bool) -> int:
        """Tell every coach of the escalation's tier; returns how many were reached."""
        reached = 0
        for coach in self.deployment.coaches_for(escalation.tier, self.clock.now()):
            reached += await self.deliver(escalation, coach, reminder)
        return reached

    async def deliver(self, escalation: Escalation, coach: Coach, reminder: bool) -> bool:
        """Try the coach's channels in order until one delivers; every attempt is recorded."""
        text = self.message(escalation, coach, reminder, await self._who(escalation))
        for entry in coach.channels:
            note = await self.storage.add_notification(escalation.id, coach.id, entry.partition(":")[0],
                                                       escalation.tier, self.clock.now())
            try:
                await self._send(entry, coach, text, escalation.id)
            except Exception as exc:
                log.warning("escalation %s: channel %s failed for coach %s: %s", escalation.id, note.channel,
                            coach.id, type(exc).__name__)
                await self.storage.update_notification(note.id, NotificationStatus.FAILED, self.clock.now(),
                                                       type(exc).__name__)
                continue
            await self.storage.update_notification(note.id, NotificationStatus.SENT, self.clock.now())
            return True
        log.error("escalation %s: no channel reached coach %s; retrying", escalation.id, coach.id)
        return False

    async def tell_unreachable(self, participant_id: int, channel: str) -> None:
        """A participant can no longer be reached on a channel: the coaches on duty should know (best effort)."""
        profile = await self.storage.profile(participant_id)
        if profile is None:
            return
        text = self.catalogs.gettext(COACH_LANG, phrases.COACH_UNREACHABLE).format(
            participant=profile.participant.ref, channel=channel)
        coaches = self.deployment.coaches_for(0, self.clock.now())
        own = self.deployment.coaches.get(profile.coach_id or "")
        if own is not None:
            coaches = [own]
        for coach in coaches:
            for entry in coach.channels:
                try:
                    await self._send(entry, coach, text)
                    break
                except Exception as exc:
                    log.warning("could not tell coach %s about an unreachable participant: %s", coach.id,
                                type(exc).__name__)

    async def tell_on_duty(self, text: str, avoid: str) -> list[str]:
        """Tell every coach on duty, trying their channels other than `avoid` first (it is the one that fails);
        returns the ids of the coaches reached. The caller keeps the record and tries again if nobody was."""
        reached = []
        for coach in self.deployment.coaches_for(0, self.clock.now()):
            entries = sorted(coach.channels, key=lambda entry: entry.partition(":")[0] == avoid)  # stable
            for entry in entries:
                try:
                    await self._send(entry, coach, text)
                except Exception as exc:
                    log.warning("could not tell coach %s on %s: %s", coach.id, entry.partition(":")[0],
                                type(exc).__name__)
                    continue
                reached.append(coach.id)
                break
        return reached

    async def _send(self, entry: str, coach: Coach, text: str, alert: int | None = None) -> None:
        """One attempt on one of the coach's channels ("console", "sms:+4512345678", "telegram:123456"); for an
        alert (its id), with its actions where the channel can show them."""
        name, _, address = entry.partition(":")
        channel = self.channels.get(name)
        if channel is None:
            raise LookupError(f"channel {name!r} is not running")
        async with asyncio.timeout(CHANNEL_TIMEOUT):  # not wait_for: on Python 3.11 it can swallow a cancellation
            if alert is not None and isinstance(channel, AlertChannel):
                await channel.notify_alert(coach, text, address, alert)
            else:
                await channel.notify(coach, text, address)

    async def _who(self, escalation: Escalation) -> str:
        """The ref with the name and phone number: the coach on call must be able to phone the person."""
        profile = await self.storage.profile(escalation.participant_id)
        if profile is None:
            return escalation.participant_ref
        return f"{escalation.participant_ref} ({await people.contact(self.storage, profile)})"

    def message(self, escalation: Escalation, coach: Coach, reminder: bool, who: str | None = None) -> str:
        lang = COACH_LANG
        template = phrases.COACH_REMINDER if reminder else phrases.COACH_ALERT
        return self.catalogs.gettext(lang, template).format(
            id=escalation.id,
            level=level_name(self.catalogs, lang, escalation.level),
            participant=who or escalation.participant_ref,
            trigger=describe_trigger(escalation),
            opened=format_moment(escalation.opened_at, lang),
        )

    async def tick(self) -> None:
        """Re-escalate what is overdue, and retry coaches no channel has reached. Safe to call any time."""
        now = self.clock.now()
        for escalation in await self.storage.due_escalations(now):
            overdue_twice = escalation.deadline_at is not None and now >= self.deployment.deadline(
                escalation.level, escalation.deadline_at)  # the bot was down: catch up, skip no one
            tier = min(escalation.tier + (2 if overdue_twice else 1), TOP_TIER)
            deadline = self.deployment.deadline(escalation.level, now)
            if await self.storage.raise_tier(escalation.id, tier, deadline, now):
                refreshed = await self.storage.escalation(escalation.id)
                if refreshed is not None:
                    await self.notify(refreshed, reminder=True)
        for escalation in await self.storage.escalations(only_open=True):
            if escalation.status is EscalationStatus.OPEN and escalation.id not in self._in_flight:
                await self._retry_unreached(escalation)
        for job in self.after_tick:
            try:
                await job()
            except Exception:
                log.exception("a job of the escalation watcher failed; trying again next tick")

    async def _retry_unreached(self, escalation: Escalation) -> None:
        """Tell every coach of the tier who has not heard of the escalation at its current level."""
        now = self.clock.now()
        attempts = await self.storage.notifications(escalation.id)
        raised_at = min((t.at for t in escalation.triggers if t.level == escalation.level),
                        default=escalation.opened_at)
        for coach in self.deployment.coaches_for(escalation.tier, now):
            mine = [n for n in attempts if n.coach_id == coach.id and n.created_at >= raised_at]
            if any(n.status is NotificationStatus.SENT and n.tier == escalation.tier for n in mine):
                continue
            last = max((n.updated_at or n.created_at for n in mine), default=None)
            if last is None or now - last >= self._retry_after(len(mine) // max(1, len(coach.channels))):
                await self.deliver(escalation, coach, reminder=bool(mine))

    def _retry_after(self, rounds: int) -> timedelta:
        """The wait after `rounds` tries that reached no channel: 1, 2, 4 minutes, never more than the deployment's
        back-off for urgent messages (5 minutes), for as long as the escalation is open (never given up)."""
        cap = max(RETRY_AFTER, self.deployment.delivery.urgent_max_backoff)
        return min(RETRY_AFTER * (1 << min(max(rounds - 1, 0), 20)), cap)

    async def watch(self, every: timedelta = timedelta(seconds=20)) -> None:
        """Run `tick` forever (a background task of the running bot)."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("escalation watcher tick failed; trying again")
            await asyncio.sleep(every.total_seconds())
