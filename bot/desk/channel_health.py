"""Channel health in plain words: for each channel, what its outbox and its heartbeats say, and what to do.

Pure: the counts (storage `outbox_health`), the heartbeats (bot/heartbeats.py), which channels this bot is set up
for, the time and whether it is office hours in; a verdict per channel out. Each verdict is a key the page says in
a sentence of its own, worst first:

- given up: messages that will never be sent (the last `GIVEN_UP_WINDOW`): those people did not get them;
- stuck: a message that may go has waited longer than `STUCK_AFTER`: the channel is not sending;
- not set up: messages wait for a channel this bot has no settings for: they cannot go;
- silent: nothing received for `SILENT_AFTER` in office hours, on a channel that receives (SMS webhooks, Telegram
  updates): the provider may no longer reach the bot; never received: the same, since the start;
- retrying: failed attempts being tried again (with the newest reason);
- fine: none of those.

Office hours are the deployment's (bot/deployment.py): at night, a quiet channel is not news.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.settings import settings
from storage.admin_records import RECEIVED, STATUS, ChannelOutbox, Heartbeat

GIVEN_UP_WINDOW = timedelta(days=7)
STUCK_AFTER = timedelta(minutes=15)  # a message that may go is sent within seconds; a retry is held, not counted
SILENT_AFTER = timedelta(hours=3)
RECEIVING = ("sms", "telegram")  # channels whose provider calls the bot (the console is a terminal on the server)
PROBLEM, ATTENTION, FINE = "problem", "attention", "fine"
LEVELS = (PROBLEM, ATTENTION, FINE)
_NUMBER = re.compile(r"\+?\d(?:[\s-]?\d){7,}")  # a phone number or a chat id; error codes are shorter


@dataclass(frozen=True)
class Verdict:
    key: str  # given_up, stuck, not_set_up, silent, never_received, retrying, fine
    level: str
    count: int = 0
    since: timedelta | None = None  # how long: waited, or silent
    reason: str = ""


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    set_up: bool  # this bot's settings have the channel (its token, its number)
    outbox: ChannelOutbox
    received: datetime | None  # the last message or update the provider brought
    reports: datetime | None  # the last delivery report (SMS)
    verdicts: tuple[Verdict, ...]

    @property
    def level(self) -> str:
        return min((v.level for v in self.verdicts), key=LEVELS.index, default=FINE)


def without_numbers(reason: str) -> str:
    """A provider's reason with any phone number or chat id in it hidden ("…"): the page shows no numbers."""
    return _NUMBER.sub("…", reason)


def verdicts(channel: str, set_up: bool, outbox: ChannelOutbox, received: datetime | None, now: datetime,
             office_hours: bool) -> tuple[Verdict, ...]:
    found = []
    if outbox.given_up:
        found.append(Verdict("given_up", PROBLEM, outbox.given_up))
    if not set_up and outbox.waiting and channel != "console":
        found.append(Verdict("not_set_up", PROBLEM, outbox.waiting))
    elif outbox.oldest_due is not None and now - outbox.oldest_due > STUCK_AFTER:
        found.append(Verdict("stuck", PROBLEM, outbox.due, now - outbox.oldest_due))
    if set_up and channel in RECEIVING:
        if received is None:
            found.append(Verdict("never_received", ATTENTION))
        elif office_hours and now - received > SILENT_AFTER:
            found.append(Verdict("silent", ATTENTION, since=now - received))
    if outbox.retrying:
        found.append(Verdict("retrying", ATTENTION, outbox.retrying,
                             reason=without_numbers(outbox.latest_failure or "")))
    found.sort(key=lambda v: LEVELS.index(v.level))
    return tuple(found) or (Verdict("fine", FINE),)


def channel_health(set_up: Iterable[str], outboxes: Sequence[ChannelOutbox], heartbeats: Sequence[Heartbeat],
                   now: datetime, office_hours: bool) -> list[ChannelHealth]:
    """Every channel this bot is set up for, has messages for, or heard from: the set-up ones first."""
    configured = set(set_up)
    by_channel = {o.channel: o for o in outboxes}
    seen = {(h.channel, h.signal): h.seen_at for h in heartbeats}
    channels = sorted(configured | set(by_channel) | {h.channel for h in heartbeats},
                      key=lambda c: (c not in configured, c))
    found = []
    for channel in channels:
        outbox = by_channel.get(channel) or ChannelOutbox(channel, 0, 0, None, 0, 0, None)
        received = seen.get((channel, RECEIVED))
        found.append(ChannelHealth(channel, channel in configured, outbox, received, seen.get((channel, STATUS)),
                                   verdicts(channel, channel in configured, outbox, received, now, office_hours)))
    return found


def set_up_channels() -> list[str]:
    """The channels this bot's settings have (the desk and `bot run` read the same settings)."""
    configured = settings()
    return [name for name, on in (("sms", configured.sms_configured), ("telegram", configured.telegram_configured))
            if on]
