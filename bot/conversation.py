"""The one loop: load state -> flows.advance -> save state, answers, scores and outbox in ONE transaction.

Only after the commit are messages handed to a channel (by the dispatcher), so a crash at any point either
loses the whole step (the person's message was never acknowledged) or keeps all of it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot import timers
from bot.arms import ControlArm
from bot.clock import COPENHAGEN, Clock
from bot.deployment import Deployment
from bot.faults import crash_point
from bot.flowregistry import FlowRegistry
from bot.inbound import Inbound
from bot.keyed_locks import KeyedLocks
from bot.office_hours import coach_hours_line
from bot.programme_choice import ProgrammeChoice
from bot.rendering import Catalogs, render_part, render_send
from bot.step_effects import ByKind, heard, priority, safety_first, schedule_outcome
from flows import for_coach, human, phrases, timing, tre
from flows.arms import control_library
from flows.asking import asking, short_name
from flows.crisis_reply import safety_reply
from flows.effects import (
    CancelPlans,
    CoachTaskDue,
    ConsentGiven,
    DueHandled,
    Effect,
    Escalate,
    Handling,
    Heard,
    LanguageChanged,
    Milestone,
    Phrase,
    Plan,
    RecordAnswer,
    RecordScore,
    RetractAnswer,
    RunEvent,
    Send,
    ShowHistory,
)
from flows.engine import Outcome, advance, text_trigger
from flows.inputs import Command, Due, Input, Text, TimerFired
from flows.programme import Programme
from flows.state import State
from flows.waves import ENTRY_NOT_MET
from storage.ports import Storage
from storage.records import (
    AddressChange,
    AnswerRecord,
    AuditRecord,
    CoachTaskRecord,
    CommitStatus,
    ConsentChange,
    EscalationRecord,
    Identity,
    InboundRecord,
    MarkRecord,
    OutboundRecord,
    Participant,
    Priority,
    RetractedAnswer,
    ScheduledRecord,
    ScoreRecord,
    StepRecord,
)

log = logging.getLogger(__name__)
MAX_CONFLICT_RETRIES = 5
# When a coach task is due: sooner when the person may be getting worse (not an escalation: no deadline watch)
TASK_DUE = {"consider_referral": timedelta(days=2), "wellbeing_fall": timedelta(days=2),
            "tre_checkin": timedelta(days=1), human.CONTACT_TASK: timedelta(days=1),
            ENTRY_NOT_MET: timedelta(days=2)}  # seed 001: decided around the intro talk in week 1
DEFAULT_TASK_DUE = timedelta(days=7)


@dataclass(frozen=True)
class Handled:
    status: CommitStatus | None  # None: nothing was tried (a stale button, or an address nobody has)
    outbox_ids: tuple[int, ...] = ()
    escalation_ids: tuple[int, ...] = ()
    participant: Participant | None = None  # who it was for; None only for a stranger's message

    @property
    def stale(self) -> bool:
        """A button of a question no longer asked: nothing was done."""
        return self.status is None and self.participant is not None

    @property
    def stranger(self) -> bool:
        """A message from an address nobody has: nothing was done."""
        return self.participant is None


@dataclass(frozen=True)
class _Request:
    """One step to take: `Inbound` once its sender is known, or an input no channel received."""

    participant: Participant
    inputs: tuple[Input, ...]
    channel: str
    receipt: InboundRecord | None
    notice: str | Phrase | None = None
    question: str | None = None
    terms_first: bool = False
    even_if_opted_out: bool = False
    schedule_id: int | None = None
    address: AddressChange | None = None


class ConversationLoop:
    """Feeds inputs for participants through the engine and commits each step atomically.

    The last committed state of recent participants is kept in memory with its revision, saving a read per
    message. It is only a guess: the commit checks the revision, and on a conflict (another process moved
    the conversation on) the state is read again and the step recomputed.
    """

    def __init__(self, storage: Storage, registry: FlowRegistry, catalogs: Catalogs, clock: Clock,
                 deployment: Deployment, cache_size: int = 10_000) -> None:
        self.storage = storage
        self.registry = registry
        self.catalogs = catalogs
        self.clock = clock
        self.deployment = deployment
        self.escalation_listeners: list[Callable[[tuple[int, ...]], Awaitable[None]]] = []
        # told the channels of the messages a committed step wrote (the dispatchers wake up: bot/dispatcher.py)
        self.outbox_listeners: list[Callable[[frozenset[str]], None]] = []
        self._locks = KeyedLocks()
        self._cache: OrderedDict[int, tuple[State, int]] = OrderedDict()
        self._cache_size = cache_size
        self._control_arm = ControlArm(storage, cache_size)  # who sees only the waves (bot/arms.py)
        self._programme_choice = ProgrammeChoice(storage, cache_size)  # whose is which (bot/programme_choice.py)
        self._background: set[asyncio.Task[None]] = set()

    async def settle(self) -> None:
        """Wait for the coach alerts still being sent (before shutting down, and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def receive(self, inbound: Inbound, identity: Identity | None = None) -> Handled:
        """What a person sent, from any channel: who it is from (unless the channel looked already, see
        `identify`), then one step. For an address nobody has, nothing is done and `Handled.stranger` is true:
        the channel answers a stranger its own way (bot/safety_net.py for a risk message)."""
        if identity is None:
            identity = await self.identify(inbound.channel, inbound.address)
            if identity is None:
                return Handled(None)
        participant = identity.participant
        change = inbound.address_status
        address = None if change in (None, identity.status) else AddressChange(inbound.channel, inbound.address, change)
        receipt = self._receipt(inbound.channel, inbound.provider_id)
        request = _Request(participant, inbound.says, inbound.channel, receipt, inbound.notice,
                           inbound.answers_question, inbound.terms_first, inbound.even_if_opted_out, address=address)
        return await self._step(request)

    async def identify(self, channel: str, address: str) -> Identity | None:
        """Whose address this is, and its status: the one place an inbound message finds its person."""
        return await self.storage.identify(channel, address)

    async def handle(self, participant: Participant, inp: Input, channel: str, inbound: InboundRecord | None = None,
                     *, notice: str | Phrase | None = None, schedule_id: int | None = None) -> Handled:
        """Apply one input that no channel received: a scheduled `Due` (`schedule_id`: the claimed row; the step
        commits only while it is still pending, so an event handled twice sends once), a timer, a coach's release,
        the terms at enrolment (`notice`: the invite, sent first; a `Phrase` when it has values such as the
        Telegram link), a message replayed from the spool (`inbound`).
        People's messages come through `receive`."""
        if inbound is None and isinstance(inp, Text | Command):
            inbound = self._receipt(channel, None)
        return await self._step(_Request(participant, (inp,), channel, inbound, notice, schedule_id=schedule_id))

    def _receipt(self, channel: str, provider_id: str | None) -> InboundRecord:
        """The inbox key of a message: the provider's id, or a local one (every message is kept, also without)."""
        return InboundRecord(channel, provider_id or f"local:{uuid.uuid4().hex}", self.clock.now())

    async def _step(self, request: _Request) -> Handled:
        participant = request.participant
        async with self._locks.hold(participant.id):
            if request.question is not None and request.question != _asked((await self._load(participant))[0]):
                return Handled(None, participant=participant)  # a button of a question no longer asked
            for _ in range(MAX_CONFLICT_RETRIES):
                result = await self._attempt(request)
                if result.status is not CommitStatus.CONFLICT:
                    return result
                log.warning("conversation of participant %s changed underneath; retrying", participant.id)
            raise RuntimeError(f"participant {participant.id}: conversation kept changing; step not applied")

    async def programme_of(self, participant_id: int) -> Programme | None:
        """The programme this participant follows: the one chosen at their enrolment, or the default with none
        recorded; None when theirs is not loaded (then they get no programme's messages, never another's)."""
        return self.registry.library.programme_for(await self._programme_choice.of(participant_id))

    async def state_of(self, participant: Participant) -> State:
        return (await self._load(participant))[0]

    async def _load(self, participant: Participant) -> tuple[State, int]:
        cached = self._cache.get(participant.id)
        if cached is not None:
            self._cache.move_to_end(participant.id)
            return cached
        saved = await self.storage.load_conversation(participant.id)
        state = State.from_json(saved.state) if saved.state is not None else State(lang=participant.lang)
        return state, saved.revision

    def _remember(self, participant_id: int, state: State, revision: int) -> None:
        self._cache[participant_id] = (state, revision)
        self._cache.move_to_end(participant_id)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _attempt(self, request: _Request) -> Handled:
        participant, channel = request.participant, request.channel
        state, revision = await self._load(participant)
        now = self.clock.now()
        terms = self.registry.library.consent
        if request.terms_first and terms is not None and terms.version not in (state.consent_given,
                                                                               state.consent_needed):
            state = replace(state, consent_needed=terms.version)  # committed with this step
        outcome = Outcome(state, ())
        control = await self._control_arm.holds(participant.id)
        chosen = await self._programme_choice.of(participant.id)
        for inp in request.inputs:  # one step however many inputs: SMS START is reminders on, then resume
            more = await self._advance(outcome.state, inp, now, control, chosen)
            outcome = Outcome(more.state, outcome.effects + more.effects)
        outcome = await self._show_history(participant, outcome, now, chosen)
        step = self._record(participant, revision, outcome, now, request)
        if request.even_if_opted_out:
            step = replace(step, outbox=[replace(o, payload={**o.payload, "even_if_opted_out": True})
                                         for o in step.outbox])
        if request.notice is not None:
            lang = outcome.state.lang
            notice = request.notice if isinstance(request.notice, Phrase) else Phrase(request.notice)
            text = render_part(notice, lang, self.catalogs, lambda _level, _lang: [])  # a phrase names no contacts
            payload = {"lang": lang, "text": text, "even_if_opted_out": True}
            step = replace(step, outbox=[OutboundRecord(channel, payload, now, Priority.REPLY), *step.outbox])
        self._cache.pop(participant.id, None)  # until the commit says what is stored
        committed = await self.storage.commit_step(step)
        if committed.status is CommitStatus.COMMITTED:
            self._remember(participant.id, outcome.state, committed.revision)
            if step.outbox:
                channels = frozenset(o.channel for o in step.outbox)
                for wake in self.outbox_listeners:
                    wake(channels)
            if committed.escalation_ids:
                crash_point("before-notify")  # the escalation is stored; no coach has heard of it yet
                # in the background: the person's reply must never wait for a coach's channel
                task = asyncio.create_task(self._tell_listeners(committed.escalation_ids))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return Handled(committed.status, committed.outbox_ids, committed.escalation_ids, participant)

    async def _tell_listeners(self, escalation_ids: tuple[int, ...]) -> None:
        """Hand new escalations to the notifier at once. It is only a shortcut: the escalation is stored, and
        the watcher finds any that were never notified (after a crash, or if a listener fails)."""
        for listener in self.escalation_listeners:
            try:
                await listener(escalation_ids)
            except Exception:
                log.exception("escalation listener failed for escalations %s; the watcher will retry", escalation_ids)

    async def _advance(self, state: State, inp: Input, now: datetime, control: bool = False,
                       chosen: str | None = None) -> Outcome:
        """One input through the engine, which sees the participant's own programme (`chosen` at enrolment: no other
        programme's messages can reach them); a control participant's engine sees only its waves."""
        library = (await self.registry.library_for(state)).for_programme(chosen)
        if control:
            library = control_library(library)
        try:
            return advance(library, state, inp, now)
        except Exception:  # the engine is tested never to raise; if it does, the person still gets an answer
            log.exception("engine failed on input %s", type(inp).__name__)
            if isinstance(inp, Due | TimerFired):  # nobody is waiting for an answer: record it, never retry it forever
                return Outcome(state, (DueHandled(Handling.SKIPPED, "engine failed"),))
            effects: list[Effect] = []
            text = inp.text if isinstance(inp, Text) else ""
            hit = library.risk_terms.scan(text)
            if hit is not None:  # the safety path does not depend on the engine working
                effects += [Escalate(hit.level, "text", text_trigger(hit, text)), safety_reply(hit.level)]
            else:  # nobody understood it, so a human reads it
                effects.append(Heard("engine_failed", for_coach=for_coach.must_read(text, None)))
            effects.append(Send((Phrase(phrases.SOMETHING_WENT_WRONG),)))
            return Outcome(state, tuple(effects))

    async def _show_history(self, participant: Participant, outcome: Outcome, now: datetime,
                            chosen: str | None = None) -> Outcome:
        """Turn `ShowHistory` into the message: the engine keeps no history, so it is read here."""
        if not any(isinstance(effect, ShowHistory) for effect in outcome.effects):
            return outcome
        programme = self.registry.library.programme_for(chosen)
        zone = timing.zone(programme) if programme else COPENHAGEN
        effects: list[Effect] = []
        for effect in outcome.effects:
            if not isinstance(effect, ShowHistory):
                effects.append(effect)
                continue
            sessions = await tre_sessions(self.storage, participant.id, effect.flow_id)
            send = tre.weekly(sessions, now) if effect.weekly else tre.history(sessions, now, zone)
            if send is not None:
                effects.append(send)
        return Outcome(outcome.state, tuple(effects))

    def risk_in(self, text: str) -> str | None:
        """The risk level of a message by the word list alone (for fallbacks when a step cannot be saved)."""
        hit = self.registry.library.risk_terms.scan(text)
        return None if hit is None else hit.level

    def _record(self, participant: Participant, revision: int, outcome: Outcome, now: datetime,
                request: _Request) -> StepRecord:
        """The step to commit, built once (each `dataclasses.replace` of it costs a copy of every field)."""
        lang, inputs, channel, inbound = outcome.state.lang, request.inputs, request.channel, request.receipt
        subject = f"participant:{participant.ref}"

        def contacts(level: str, lang: str) -> list[str]:
            return self.deployment.contact_lines(level, lang, now)

        def hours(lang: str) -> str:
            return coach_hours_line(self.deployment, self.catalogs, lang, now)

        timer_plans, timer_cancels = timers.changes(outcome.effects)  # timers are schedule rows (bot/timers.py)
        of = ByKind(outcome.effects)
        consents = of(ConsentGiven)  # the state holds it; the profile shows it
        return StepRecord(
            participant_id=participant.id,
            expected_revision=revision,
            state=outcome.state.to_json(),
            at=now,
            inbound=inbound,
            answers=[AnswerRecord(e.run_seq, e.flow_id, e.flow_version, e.item_id, e.value, e.raw_text, now)
                     for e in of(RecordAnswer)],
            scores=[ScoreRecord(e.run_seq, e.flow_id, e.flow_version, e.score_id, e.value, e.band_id, now)
                    for e in of(RecordScore)],
            outbox=[OutboundRecord(channel, safety_first(e, render_send(e, lang, self.catalogs, contacts, hours)),
                                   now, priority(e, inputs))
                    for e in of(Send)],
            retracted=[RetractedAnswer(e.run_seq, e.item_id) for e in of(RetractAnswer)],
            escalations=[EscalationRecord(e.level, e.kind, dict(e.trigger), now, self.deployment.deadline(e.level, now))
                         for e in of(Escalate)],
            audit=[AuditRecord(subject, f"run.{e.change}", subject, now,
                               {"flow_id": e.flow_id, "flow_version": e.flow_version, "run_seq": e.run_seq})
                   for e in of(RunEvent)]
                  + [AuditRecord(subject, "language.changed", subject, now, {"lang": e.lang})
                     for e in of(LanguageChanged)]
                  + [AuditRecord(subject, "consent.given", subject, now, {"version": e.version})
                     for e in of(ConsentGiven)]
                  + [AuditRecord("system", f"task.{e.kind}", subject, now) for e in of(CoachTaskDue)]
                  + [AuditRecord(subject, f"programme.{e.kind}", subject, now, {"key": e.key})
                     for e in of(Milestone)],
            lang=lang if of(LanguageChanged) else None,
            cancel_schedule_kinds=[kind for e in of(CancelPlans) for kind in e.kinds],
            cancel_schedule_keys=timer_cancels,
            schedule=[ScheduledRecord(e.key, e.kind, e.due_at, dict(e.data)) for e in of(Plan)]
                     + timer_plans,
            tasks=[CoachTaskRecord(e.kind, dict(e.detail), now, now + TASK_DUE.get(e.kind, DEFAULT_TASK_DUE))
                   for e in of(CoachTaskDue)],
            marks=[MarkRecord(e.kind, e.key, dict(e.detail), now) for e in of(Milestone)],
            heard=None if inbound is None else heard(inputs, of),
            schedule_outcome=None if request.schedule_id is None
            else schedule_outcome(request.schedule_id, of, inputs[-1]),
            address=request.address,
            consent=ConsentChange(consents[-1].version, channel) if consents else None,
        )


async def tre_sessions(storage: Storage, participant_id: int, flow_id: str) -> list[tre.Session]:
    """A participant's TRE log sessions (its completed runs), read from their stored scores."""
    rows = await storage.flow_scores(participant_id, flow_id)
    return tre.sessions_from_scores((r.run_seq, r.score_id, r.value, r.completed_at) for r in rows)


def _asked(state: State) -> str | None:
    """The short name of the question being asked (flows/asking.py), as a button of it carries it."""
    asked = asking(state)
    return None if asked is None else short_name(asked)

