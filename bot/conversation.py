"""The one loop: load state -> flows.advance -> save state, answers, scores and outbox in ONE transaction.

Only after the commit are messages handed to a channel (by the dispatcher), so a crash at any point either
loses the whole step (the person's message was never acknowledged) or keeps all of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot.clock import Clock
from bot.flowregistry import FlowRegistry
from bot.rendering import Catalogs, render_send
from flows import phrases
from flows.effects import (
    CancelTimer,
    Effect,
    LanguageChanged,
    Phrase,
    RecordAnswer,
    RecordScore,
    RunEvent,
    ScheduleTimer,
    Send,
)
from flows.engine import Outcome, advance
from flows.inputs import Input
from flows.state import State
from storage.interface import (
    AnswerRecord,
    AuditRecord,
    CommitStatus,
    InboundRecord,
    OutboundRecord,
    Participant,
    ScoreRecord,
    StepRecord,
    Storage,
    TimerRecord,
)

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Effect)
MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class Handled:
    status: CommitStatus
    outbox_ids: tuple[int, ...]


class ConversationLoop:
    """Feeds inputs for participants through the engine and commits each step atomically."""

    def __init__(self, storage: Storage, registry: FlowRegistry, catalogs: Catalogs, clock: Clock) -> None:
        self.storage = storage
        self.registry = registry
        self.catalogs = catalogs
        self.clock = clock
        self._locks: dict[int, asyncio.Lock] = {}

    async def handle(self, participant: Participant, inp: Input, channel: str,
                     inbound: InboundRecord | None = None) -> Handled:
        """Apply one input. Returns DUPLICATE (nothing done) when `inbound` was already processed."""
        lock = self._locks.setdefault(participant.id, asyncio.Lock())
        async with lock:
            for _ in range(MAX_CONFLICT_RETRIES):
                result = await self._attempt(participant, inp, channel, inbound)
                if result.status is not CommitStatus.CONFLICT:
                    return result
                log.warning("conversation of participant %s changed underneath; retrying", participant.id)
            raise RuntimeError(f"participant {participant.id}: conversation kept changing; step not applied")

    async def state_of(self, participant: Participant) -> State:
        saved = await self.storage.load_conversation(participant.id)
        return State.from_json(saved.state) if saved.state is not None else State(lang=participant.lang)

    async def _attempt(self, participant: Participant, inp: Input, channel: str,
                       inbound: InboundRecord | None) -> Handled:
        saved = await self.storage.load_conversation(participant.id)
        state = State.from_json(saved.state) if saved.state is not None else State(lang=participant.lang)
        now = self.clock.now()
        outcome = await self._advance(state, inp, now)
        step = self._record(participant, saved.revision, outcome, channel, inbound, now)
        committed = await self.storage.commit_step(step)
        return Handled(committed.status, committed.outbox_ids)

    async def _advance(self, state: State, inp: Input, now: datetime) -> Outcome:
        library = await self.registry.library_for(state)
        try:
            return advance(library, state, inp, now)
        except Exception:  # the engine is tested never to raise; if it does, the person still gets an answer
            log.exception("engine failed on input %s", type(inp).__name__)
            return Outcome(state, (Send((Phrase(phrases.SOMETHING_WENT_WRONG),)),))

    def _record(self, participant: Participant, revision: int, outcome: Outcome, channel: str,
                inbound: InboundRecord | None, now: datetime) -> StepRecord:
        lang = outcome.state.lang
        subject = f"participant:{participant.ref}"
        return StepRecord(
            participant_id=participant.id,
            expected_revision=revision,
            state=outcome.state.to_json(),
            at=now,
            inbound=inbound,
            answers=[AnswerRecord(e.run_seq, e.flow_id, e.flow_version, e.item_id, e.value, e.raw_text, now)
                     for e in _of(outcome.effects, RecordAnswer)],
            scores=[ScoreRecord(e.run_seq, e.flow_id, e.flow_version, e.score_id, e.value, e.band_id, now)
                    for e in _of(outcome.effects, RecordScore)],
            outbox=[OutboundRecord(channel, render_send(e, lang, self.catalogs), now)
                    for e in _of(outcome.effects, Send)],
            timers=[TimerRecord(e.key, e.at) for e in _of(outcome.effects, ScheduleTimer)]
                   + [TimerRecord(e.key, None) for e in _of(outcome.effects, CancelTimer)],
            audit=[AuditRecord(subject, f"run.{e.change}", subject, now,
                               {"flow_id": e.flow_id, "flow_version": e.flow_version, "run_seq": e.run_seq})
                   for e in _of(outcome.effects, RunEvent)]
                  + [AuditRecord(subject, "language.changed", subject, now, {"lang": e.lang})
                     for e in _of(outcome.effects, LanguageChanged)],
            lang=lang if any(isinstance(e, LanguageChanged) for e in outcome.effects) else None,
        )


def _of(effects: Iterable[Effect], kind: type[E]) -> list[E]:
    return [e for e in effects if isinstance(e, kind)]
