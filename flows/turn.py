"""The engine's one seam: a `Turn` is the working memory of one input, and the only way a decision changes anything.

In the style of nyaruka/goflow, a decision never sends, stores or waits: it logs what should happen (`say`, `hear`,
`log`) and sets the new state (`set_state`, `set_run`, `set_progress`); `flows.engine.advance` hands the state and the
log back to its caller, which delivers. The decisions live in modules of their own, each on this small API:

- `flows.questionnaire`: walking a flow, asking its questions, re-asking, BACK, finishing;
- `flows.answering`: an answer to the open question (recorded, its risk and task rules, the next step);
- `flows.language`, `flows.consent`, `flows.safety`, `flows.human`, `flows.keywords`, `flows.runs`;
- the programme: `flows.due`, `flows.reminders`, `flows.waves`, `flows.companion`.

A module may import the ones it builds on, never the other way round (tests/test_import_cycles.py). Where a lower
module must let a higher one act (a finished questionnaire means something to the programme), it calls a `Hooks`
entry, which the engine wires; so there are no import cycles, only these two named places where control goes up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flows import phrases
from flows.effects import (
    CancelTimer,
    DataValue,
    Effect,
    Heard,
    Part,
    Phrase,
    Prompt,
    PromptChoice,
    RunChange,
    RunEvent,
    ScheduleTimer,
    Send,
)
from flows.model import Flow, FlowLibrary, Step
from flows.state import Progress, Run, State, evolve


def _nothing(*_: object) -> None:
    """A hook nobody wired: a turn built outside the engine (a test of one module) decides nothing more."""


@dataclass(frozen=True)
class Hooks:
    """The two places where a lower module lets a higher one decide, wired by `flows.engine`.

    `completed(turn, flow, run)`: a questionnaire was finished and its closing said (the safety check's finish brings
    back the questionnaire it set aside; the programme learns what the answers mean). `ended(turn, run, change)`: a
    run ended for any reason (a safety check that ends unfinished also brings back what it set aside)."""

    completed: Callable[[Turn, Flow, Run], None] = _nothing
    ended: Callable[[Turn, Run, RunChange], None] = _nothing


class Turn:
    """One `advance` call's working memory: the library, the state so far, `now`, and the effects logged so far.

    Discarded when `advance` returns; nothing here outlives the call, so every decision stays pure."""

    def __init__(self, flows: FlowLibrary, state: State, now: datetime, hooks: Hooks | None = None) -> None:
        self.flows = flows
        self.now = now
        self.hooks = hooks or Hooks()
        self._state = state
        self._effects: list[Effect] = []

    # -- what there is ------------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def effects(self) -> tuple[Effect, ...]:
        return tuple(self._effects)

    @property
    def lang(self) -> str:
        return self._state.lang

    def flow_of(self, run: Run) -> Flow | None:
        return self.flows.get(run.flow_id, run.flow_version)

    def step_of(self, run: Run) -> Step | None:
        """The step the run is on, if its flow and the step are still known."""
        flow = self.flow_of(run)
        return flow.step(run.step_id) if flow else None

    # -- changing the state -------------------------------------------------------------------------------

    def set_state(self, state: State) -> None:
        self._state = state

    def set_run(self, run: Run | None) -> None:
        self._state = evolve(self._state, run=run)

    def set_progress(self, progress: Progress) -> None:
        self._state = evolve(self._state, progress=progress)

    # -- logging what should happen -----------------------------------------------------------------------

    def log(self, effect: Effect) -> None:
        self._effects.append(effect)

    def mark(self) -> int:
        """Where the log is now: `log_at(mark, ...)` puts an effect there later (an intro said only if what it
        introduces happened)."""
        return len(self._effects)

    def log_at(self, mark: int, effect: Effect) -> None:
        self._effects.insert(mark, effect)

    def say(self, *parts: Part, prompt: Prompt | None = None) -> None:
        self._effects.append(Send(tuple(parts), prompt))

    def hear(self, outcome: str, **detail: DataValue) -> None:
        """What became of the person's message, kept with it in the inbox (flows/effects.py `Heard`)."""
        self._effects.append(Heard(outcome, detail))

    def event(self, change: RunChange, run: Run) -> None:
        self._effects.append(RunEvent(change, run.seq, run.flow_id, run.flow_version))

    # -- phrases ------------------------------------------------------------------------------------------

    def phrase(self, msgid: str, **params: str | int | float) -> Phrase:
        return Phrase(msgid, params)

    def yes_no(self) -> tuple[PromptChoice, ...]:
        """Ja/Nej buttons; typing 1/0 or ja/nej works the same."""
        return PromptChoice("1", self.phrase(phrases.YES)), PromptChoice("0", self.phrase(phrases.NO))

    # -- runs ---------------------------------------------------------------------------------------------

    def begin_run(self, flow: Flow) -> Run:
        """A new run of `flow`, not yet on any step (the questionnaire walks it to its first question)."""
        seq = self._state.runs_started + 1
        run = Run(seq, flow.id, flow.version, step_id="", started_at=self.now)
        self._state = evolve(self._state, runs_started=seq, run=run)
        self.event(RunChange.STARTED, run)
        if flow.expires_after is not None:
            self._effects.append(ScheduleTimer(run.timer_key, self.now + flow.expires_after))
        return run

    def end_run(self, run: Run, change: RunChange) -> None:
        self.event(change, run)
        self._effects.append(CancelTimer(run.timer_key))
        self.set_run(None)
        self.hooks.ended(self, run, change)


def expired(flow: Flow, run: Run, now: datetime) -> bool:
    return flow.expires_after is not None and now - run.started_at >= flow.expires_after
