"""The safety path when the database cannot be written or the sender is unknown (issue 11, point 9).

Every inbound text is scanned with the word list before anything is stored (`level`). Two cases then get
special handling, so that a risk message never depends on the database or on the sender being enrolled:

- **The step cannot be committed** (a locked or failing database): the channel answers with the crisis
  contacts in the webhook's own reply (TwiML for SMS, the direct reply for Telegram), a CRITICAL line goes to
  the log (channel and level, never the text or the address), and the message is kept in a local `Spool`
  (beside a SQLite database, or `BOT_SPOOL`): one sealed line per message, fsynced, owner-only. `replay` feeds
  each one into the database when it can be written again, under its provider message id, so the escalation
  happens once.
- **An unknown sender** (a new phone, a partner, an expired invite): the message is taken in under an
  "unknown sender" record (no coach, so the duty roster is alerted) whose address coaches can see, and it
  goes through the normal loop: crisis contacts, escalation, safety check. Later messages from that address
  reach the same record, so a coach can read the whole conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.clock import Clock
from bot.conversation import ConversationLoop
from bot.deployment import Deployment
from bot.enroll import new_ref
from flows.inputs import Text
from storage.crypto import Keys
from storage.interface import AddressStatus, Enrollment, InboundRecord, Participant, Storage

log = logging.getLogger(__name__)
UNKNOWN_SENDERS = "unknown-senders"  # the cohort of records made for unknown senders (kept out of reports)
UNKNOWN_NAME = {"sms": "Ukendt afsender (SMS)", "telegram": "Ukendt afsender (Telegram)"}
REPLAY_EVERY = timedelta(seconds=10)


@dataclass(frozen=True)
class Spooled:
    """A risk message that could not be committed, as received."""

    channel: str
    address: str
    message_id: str
    text: str
    received_at: str  # ISO 8601


class Spool:
    """Risk messages waiting for the database, sealed with the data key, one per line.

    A plain file on purpose: it must work when the database does not. Written with O_APPEND and fsync
    before the webhook answers; rewritten atomically (a temporary file and rename) as messages are replayed.
    """

    def __init__(self, path: Path, keys: Keys) -> None:
        self.path = path
        self._keys = keys

    def add(self, item: Spooled) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = self._keys.seal(json.dumps(asdict(item))) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def items(self) -> list[Spooled]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text(encoding="ascii").splitlines():
            if line.strip():
                found.append(Spooled(**json.loads(self._keys.open(line.strip()))))
        return found

    def keep_only(self, items: list[Spooled]) -> None:
        """Replace the spool's contents with `items` (those not replayed yet)."""
        if not items:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.writelines(self._keys.seal(json.dumps(asdict(item))) + "\n" for item in items)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


class SafetyNet:
    """What the channels call around each inbound text (see the module docstring)."""

    def __init__(self, storage: Storage, loop: ConversationLoop, deployment: Deployment, clock: Clock,
                 spool: Spool | None) -> None:
        self.storage = storage
        self.loop = loop
        self.deployment = deployment
        self.clock = clock
        self.spool = spool

    def level(self, text: str) -> str | None:
        """The risk level of a message by the word list alone: decided before anything is stored."""
        return self.loop.risk_in(text) if text else None

    def crisis_reply(self, level: str, lang: str | None) -> str:
        """The crisis contacts as a message; in Danish and English when the person's language is unknown."""
        languages = [lang] if lang else ["da", "en"]
        return "\n\n".join("\n".join(self.deployment.contact_lines(level, code, self.clock.now()))
                           for code in languages)

    async def guarded(self, channel: str, address: str, message_id: str, text: str,
                      step: Callable[[], Awaitable[str | None]]) -> str | None:
        """Run `step` (the normal handling) and return its reply; if it fails on a risk message, return the
        crisis contacts instead (for the webhook's own reply) and spool the message. A failure on anything
        else is raised: the provider retries it."""
        level = self.level(text)
        try:
            return await step()
        except Exception:
            if level is None:
                raise
            return self.fallback(channel, address, message_id, text, level, None)

    def fallback(self, channel: str, address: str, message_id: str, text: str, level: str,
                 lang: str | None) -> str:
        log.critical("a %s-risk %s message could not be stored: crisis contacts given in the reply, message "
                     "kept in the spool for the coach", level, channel)
        if self.spool is None:
            log.critical("no spool configured: the coach must be told by hand")
        else:
            try:
                self.spool.add(Spooled(channel, address, message_id, text, self.clock.now().isoformat()))
            except OSError:
                log.critical("the %s message could not be spooled either: tell the duty coach by hand", channel)
        return self.crisis_reply(level, lang)

    async def from_stranger(self, channel: str, address: str, message_id: str, text: str,
                            received_at: datetime | None = None) -> Participant:
        """Take a risk message from an unknown address in under an "unknown sender" record, through the loop."""
        participant = await self._stranger_record(channel, address)
        inbound = InboundRecord(channel, message_id, received_at or self.clock.now())
        await self.loop.handle(participant, Text(text), channel, inbound)
        return participant

    async def _stranger_record(self, channel: str, address: str) -> Participant:
        existing = await self.storage.participant_by_address(channel, address)
        if existing is not None:
            return existing
        now = self.clock.now()
        record = Enrollment(new_ref(), UNKNOWN_NAME.get(channel, "Ukendt afsender"), "da",
                            phone=address if channel == "sms" else None, cohort=UNKNOWN_SENDERS)
        participant = await self.storage.enroll(record, now)
        if channel != "sms":
            await self.storage.set_address(participant.id, channel, address, AddressStatus.ACTIVE, now)
        log.warning("a risk message from an unknown %s sender: recorded as %s for the duty coach",
                    channel, participant.ref)
        return participant

    async def replay(self) -> int:
        """Feed spooled messages into the database; returns how many went in. Stops at the first failure
        (the database is still not writable) and keeps the rest for the next try."""
        if self.spool is None:
            return 0
        waiting = self.spool.items()
        done = 0
        for item in waiting:
            try:
                await self._replay_one(item)
            except Exception:
                log.warning("spooled risk messages still cannot be stored (%d waiting); retrying later",
                            len(waiting) - done)
                break
            done += 1
        if done:
            self.spool.keep_only(waiting[done:])
            log.warning("%d spooled risk message(s) stored; their escalations are open", done)
        return done

    async def _replay_one(self, item: Spooled) -> None:
        received = datetime.fromisoformat(item.received_at)
        participant = await self.storage.participant_by_address(item.channel, item.address)
        if participant is None:
            await self.from_stranger(item.channel, item.address, item.message_id, item.text, received)
            return
        await self.loop.handle(participant, Text(item.text), item.channel,
                               InboundRecord(item.channel, item.message_id, received))

    async def run(self, every: timedelta = REPLAY_EVERY) -> None:
        """Replay the spool now and then, for as long as the process runs."""
        while True:
            try:
                await self.replay()
            except Exception:
                log.exception("replaying the spool failed; retrying")
            await asyncio.sleep(every.total_seconds())
