"""Coach commands: list, show, acknowledge, close and release escalations, and the overview of one's own
participants (bot/overview.py). Only configured coaches.

Anyone else gets nothing at all (not even "unknown command"), so the desk reveals no one's existence.
Every look at a participant's data and every change is in the audit log.
"""

from __future__ import annotations

import logging
import re

from bot import people
from bot.clock import Clock
from bot.conversation import ConversationLoop
from bot.deployment import Deployment
from bot.escalation import describe_trigger, level_name
from bot.messages import CoachInbox
from bot.overview import CoachOverview
from bot.rendering import Catalogs, format_moment, format_number
from flows import phrases
from flows.inputs import ReleaseHold
from flows.textnorm import fold
from storage.ports import Storage
from storage.records import AuditRecord, Escalation, EscalationStatus

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"^#?([0-9]{1,9})$")  # ASCII digits only: "OK ²" or "OK ١" is not a number
MIN_NOTE = 5  # "." is not an outcome
MAX_NOTE = 2000
_STATUS = {EscalationStatus.OPEN: phrases.STATUS_OPEN, EscalationStatus.ACKNOWLEDGED: phrases.STATUS_ACKNOWLEDGED,
           EscalationStatus.CLOSED: phrases.STATUS_CLOSED}
_COMMANDS = {
    "list": "list", "liste": "list", "ls": "list",
    "show": "show", "vis": "show",
    "ok": "ack", "ack": "ack", "kvitter": "ack",
    "close": "close", "luk": "close",
    "release": "release", "frigiv": "release",
}
_OVERVIEW = {
    "deltagere": "participants", "participants": "participants",
    "deltager": "participant", "participant": "participant", "person": "participant",
    "note": "note", "notat": "note",
    "opgaver": "tasks", "tasks": "tasks",
    "udfoert": "done", "udfort": "done", "completed": "done", "done": "done",
    "beskeder": "messages", "messages": "messages", "indbakke": "messages", "inbox": "messages",
    "soeg": "find", "find": "find", "search": "find",
}


class CoachDesk:
    def __init__(self, storage: Storage, deployment: Deployment, loop: ConversationLoop, catalogs: Catalogs,
                 clock: Clock, lang: str = "da") -> None:
        self.storage = storage
        self.deployment = deployment
        self.loop = loop
        self.catalogs = catalogs
        self.clock = clock
        self.lang = lang
        self.overview = CoachOverview(storage, deployment, catalogs, clock, loop.programme_of, lang)
        self.messages = CoachInbox(storage, deployment, catalogs, clock, lang)

    def t(self, msgid: str, **params: object) -> str:
        return self.catalogs.gettext(self.lang, msgid).format(**params)

    async def handle(self, coach_id: str, text: str) -> str | None:
        """The reply to a coach's command, or None for someone who is not a configured coach."""
        if not self.deployment.is_coach(coach_id):
            log.warning("a coach command came from someone who is not a configured coach; ignored")
            await self._audit("unknown", "coach.refused", "coach desk", {})
            return None
        words = text.strip().split(maxsplit=2)
        command = _COMMANDS.get(fold(words[0])) if words else None
        found = _NUMBER.match(words[1]) if len(words) > 1 else None
        number = int(found.group(1)) if found else None
        view = _OVERVIEW.get(fold(words[0])) if words and command is None else None
        if view is not None:
            return await self._overview(coach_id, view, words, number)
        if command == "list":
            return await self.list(coach_id)
        if command is None or number is None:
            return "\n".join(self.t(p) for p in (phrases.COACH_HELP, phrases.COACH_HELP_OVERVIEW,
                                                 phrases.COACH_HELP_MESSAGES, phrases.COACH_HELP_FIND))
        escalation = await self.storage.escalation(number)
        if escalation is None or not await self.may_see(coach_id, escalation):
            if escalation is not None:
                await self._audit(coach_id, "escalation.refused", "escalation", {"escalation_id": number})
            return self.t(phrases.COACH_UNKNOWN, id=number)
        if command == "show":
            return await self.show(coach_id, escalation)
        if command == "ack":
            return await self.acknowledge(coach_id, escalation)
        if command == "close":
            return await self.close(coach_id, escalation, (words[2] if len(words) > 2 else "")[:MAX_NOTE])
        return await self.release(coach_id, escalation)

    async def _overview(self, coach_id: str, view: str, words: list[str], number: int | None) -> str:
        """The coaches' overview (bot/overview.py): participants, one participant, notes, tasks."""
        if view == "messages":
            return await self.messages.show(coach_id)
        if view == "participants":
            return await self.overview.participants(coach_id)
        if view == "tasks":
            return await self.overview.tasks(coach_id)
        if view == "done" and number is not None:
            return await self.overview.task_done(coach_id, number)
        if view == "participant" and len(words) > 1:
            return await self.overview.participant(coach_id, words[1])
        if view == "find" and len(words) > 1:
            return await self.overview.find(coach_id, " ".join(words[1:]))
        if view == "note" and len(words) > 1:
            return await self.overview.note(coach_id, words[1], words[2] if len(words) > 2 else "")
        return self.t(phrases.COACH_HELP_OVERVIEW)

    def line(self, e: Escalation) -> str:
        deadline = "" if e.deadline_at is None else self.t(phrases.COACH_DEADLINE,
                                                           deadline=format_moment(e.deadline_at, self.lang))
        return self.t(phrases.COACH_LINE, id=e.id, level=level_name(self.catalogs, self.lang, e.level),
                      status=self.t(_STATUS[e.status]), participant=e.participant_ref,
                      opened=format_moment(e.opened_at, self.lang), deadline=deadline)

    async def may_see(self, coach_id: str, e: Escalation) -> bool:
        """Who may open an alert (bot/people.py): the duty roster, whoever it was sent to, the participant's
        own coach, administrators."""
        return await people.may_act_on(self.storage, self.deployment, coach_id, e)

    async def list(self, coach_id: str) -> str:
        escalations = [e for e in await self.storage.escalations(only_open=True) if await self.may_see(coach_id, e)]
        await self._audit(coach_id, "escalation.listed", "open escalations", {"count": len(escalations)})
        return "\n".join(self.line(e) for e in escalations) or self.t(phrases.COACH_NONE_OPEN)

    async def show(self, coach_id: str, e: Escalation) -> str:
        answers = await self.storage.recent_answers(e.participant_id, 10)
        scores = await self.storage.recent_scores(e.participant_id, 5)
        await self._audit(coach_id, "escalation.viewed", f"participant:{e.participant_ref}",
                          {"escalation_id": e.id, "contact": True})
        lines = [self.line(e), describe_trigger(e)]
        profile = await self.storage.profile(e.participant_id)
        if profile is not None:  # the name and number, to call the person
            lines.insert(1, self.t(phrases.COACH_CONTACT, details=await people.contact(self.storage, profile)))
        if answers:
            shown = ", ".join(f"{a['flow_id']} {a['item_id']}={a['value']}" for a in answers)
            lines.append(self.t(phrases.COACH_ANSWERS, answers=shown))
        if scores:
            shown = ", ".join(f"{s['flow_id']} {s['score_id']}={format_number(s['value'], self.lang)}"
                              + (f" ({s['band']})" if s["band"] else "") for s in scores)
            lines.append(self.t(phrases.COACH_SCORES, scores=shown))
        return "\n".join(lines)

    async def acknowledge(self, coach_id: str, e: Escalation) -> str:
        return self._said(await self.take(coach_id, e, "ack"), e)

    async def close(self, coach_id: str, e: Escalation, note: str) -> str:
        return self._said(await self.take(coach_id, e, "close", note), e)

    async def release(self, coach_id: str, e: Escalation) -> str:
        return self._said(await self.take(coach_id, e, "release"), e)

    async def take(self, coach_id: str, e: Escalation, action: str, note: str = "") -> str:
        """Acknowledge ("ack"), close with an outcome note, or release the hold: what happened, as "acked",
        "closed", "released", "note_needed", "take_first" or "already" (the desk in the browser words it in its own
        language). Releasing is a judgement about the person: refused while nobody has taken the alert ("take_first";
        a closed one may be released again, should its hold have stayed on)."""
        if action == "ack":
            return "acked" if await self.storage.acknowledge_escalation(e.id, coach_id, self.clock.now()) \
                else "already"
        if action == "close":
            if len(note.strip()) < MIN_NOTE:
                return "note_needed"
            if not await self.storage.close_escalation(e.id, coach_id, note.strip()[:MAX_NOTE], self.clock.now()):
                return "already"
            await self._release_hold(coach_id, e)
            return "closed"
        if e.status is EscalationStatus.OPEN:
            return "take_first"
        await self._release_hold(coach_id, e)
        return "released"

    def _said(self, outcome: str, e: Escalation) -> str:
        if outcome == "already":
            return self.t(phrases.COACH_ALREADY, id=e.id, status=self.t(_STATUS[e.status]))
        texts = {"acked": phrases.COACH_ACKED, "closed": phrases.COACH_CLOSED, "released": phrases.COACH_RELEASED,
                 "note_needed": phrases.COACH_NOTE_NEEDED, "take_first": phrases.COACH_TAKE_FIRST}
        return self.t(texts[outcome], id=e.id)

    async def _release_hold(self, coach_id: str, e: Escalation) -> None:
        participant = await self.storage.get_or_create_participant(e.participant_ref, "da", self.clock.now())
        await self.loop.handle(participant, ReleaseHold(), "console")
        await self._audit(coach_id, "participant.hold_released", f"participant:{e.participant_ref}",
                          {"escalation_id": e.id})

    async def _audit(self, coach_id: str, action: str, subject: str, detail: dict[str, object]) -> None:
        await self.storage.record_audit(AuditRecord(f"coach:{coach_id}", action, subject, self.clock.now(), detail))
