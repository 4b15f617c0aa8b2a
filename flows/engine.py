"""The pure flow engine: advance(flows, state, input, now) -> Outcome(state, effects).

No I/O, no clock, no randomness, no globals: the same arguments always give the same outcome, so a test can
replay a 12-week programme in a second. Every input gets at least one message back (never silence), and a
step cap stops a badly written flow that would otherwise loop.

`advance` is the one entry point. It makes a `Turn` (flows/turn.py, the seam every decision is written on), routes
the input to the module that decides it, and wires the two hooks by which a lower module lets a higher one act.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from flows import appointments, companion, due, for_coach, human, phrases
from flows.answering import on_answer
from flows.asking import Asked, asking
from flows.consent import answer_consent, ask_consent, require_consent
from flows.effects import Effect, RunChange, Send
from flows.inputs import (
    CoachPause,
    Command,
    Due,
    Input,
    ReleaseHold,
    RemindersOn,
    RequireConsent,
    Resume,
    SetLanguage,
    StartFlow,
    Text,
    TimerFired,
)
from flows.keywords import contact, on_keyword
from flows.language import set_language
from flows.model import Flow, FlowLibrary
from flows.parsing import Accepted, Keyword, match_keyword, match_programme_keyword, parse_answer
from flows.questionnaire import MAX_TRANSITIONS, accepts, numeric, resume
from flows.reading import Reading
from flows.risk import SAFETY_CHECK
from flows.runs import close_stale_run, expire_on_timer, start
from flows.safety import (
    after_run_ended,
    answer_offer,
    escalate,
    offer_check,
    release_hold,
    restore_suspended,
    text_trigger,
)
from flows.state import Run, State
from flows.turn import Hooks, Turn

__all__ = ["MAX_TRANSITIONS", "Outcome", "advance", "text_trigger"]


@dataclass(frozen=True)
class Outcome:
    state: State
    effects: tuple[Effect, ...]

    @property
    def messages(self) -> list[Send]:
        return [e for e in self.effects if isinstance(e, Send)]


def advance(flows: FlowLibrary, state: State, inp: Input, now: datetime) -> Outcome:
    """Apply one input to a participant's conversation."""
    turn = Turn(flows, state, now, HOOKS)
    if isinstance(inp, Text):
        _on_text(turn, Reading(inp.text))  # read once here; every reader below is handed this reading
    elif isinstance(inp, StartFlow):
        start(turn, inp.flow_id)
    elif isinstance(inp, Resume):
        _on_resume(turn)
    elif isinstance(inp, SetLanguage):
        set_language(turn, inp.lang)
    elif isinstance(inp, ReleaseHold):
        release_hold(turn)
    elif isinstance(inp, Due):
        due.on_due(turn, inp)
    elif isinstance(inp, Command):
        _on_command(turn, Reading(inp.text))
    elif isinstance(inp, RemindersOn):
        companion.reminders_on(turn)
    elif isinstance(inp, CoachPause):
        companion.coach_pause(turn, inp)
    elif isinstance(inp, RequireConsent):
        require_consent(turn)
    elif isinstance(inp, TimerFired):
        expire_on_timer(turn, inp.key)
    return Outcome(turn.state, turn.effects)


# -- the hooks: where a lower module lets a higher one act --------------------------------------------------


def _completed(turn: Turn, flow: Flow, run: Run) -> None:
    """A questionnaire was finished: the safety check gives back what it set aside ("go on now?"), then the
    programme learns what the answers mean."""
    if flow.id == SAFETY_CHECK:
        restore_suspended(turn, ask=True)
    companion.after_completion(turn, flow, run, numeric(run))


HOOKS = Hooks(completed=_completed, ended=after_run_ended)


# -- routing a message --------------------------------------------------------------------------------------


def _on_text(turn: Turn, said: Reading) -> None:
    hit = turn.flows.risk_terms.scan(said)
    if hit is not None:  # before anything else: the person is answered and a human is told
        turn.hear("risk", level=hit.level)
        escalate(turn, hit.level, "text", text_trigger(hit, said.raw))
    offered = human.take_resume_offer(turn)
    keyword = match_keyword(said)
    if keyword is not None and keyword.keyword is Keyword.CONTACT:  # a human, whatever was being asked
        contact(turn)
        return
    if close_stale_run(turn):
        if hit is not None:
            offer_check(turn)
        elif for_coach.must_read(said, None):  # words after a long absence: the coach reads them
            human.tell_coach(turn)
        return
    asked = asking(turn.state)
    if asked is not None and asked.what is Asked.TERMS:
        _start_if(turn, answer_consent(turn, said))
        return
    if asked is not None and asked.what is Asked.SAFETY_OFFER:
        _start_if(turn, answer_offer(turn, said, hit))
        return
    if hit is None and appointments.on_reply(turn, said):  # OK or MOVE after an appointment's reminder
        return
    if keyword is not None:
        turn.hear("keyword", keyword=keyword.keyword.value)
        on_keyword(turn, keyword)
        return
    if offered is not None and hit is None and human.answer_resume_offer(turn, said, offered):
        return
    run = turn.state.run
    programme_word = match_programme_keyword(said) if hit is None else None
    if programme_word is not None and not accepts(turn, run, said):  # an answer stays an answer
        turn.hear("keyword", keyword=programme_word.word.value)
        companion.on_keyword(turn, programme_word, said.spoken)
        return
    if run is None:
        if hit is not None:
            offer_check(turn)
        elif for_coach.must_read(said, None):
            human.tell_coach(turn)
        else:
            turn.hear("no_questionnaire")
            turn.say(turn.phrase(phrases.NO_RUN))
        return
    if run.paused:
        step = turn.step_of(run)
        if human.held(turn, run) and hit is None:  # under a hold: words, feelings to the coach
            if for_coach.must_read(said, None):
                human.tell_coach(turn)
                human.offer_to_go_on(turn, run)  # under the hold: it waits for a coach
            else:  # "2", FORTSÆT's typos, a greeting, junk
                turn.hear("held")
                turn.say(turn.phrase(phrases.HELD_FOR_COACH))
            return
        if hit is None and step is not None and step.is_question and isinstance(parse_answer(step, said), Accepted):
            run = replace(run, paused=False)  # an answer to the question they paused on: take it
            turn.set_run(run)
            turn.event(RunChange.RESUMED, run)
        elif hit is not None:
            offer_check(turn)
            return
        elif for_coach.must_read_on_pause(said, step):  # words, but not a try at the question they left
            human.tell_coach(turn)
            human.offer_to_go_on(turn, run)
            return
        else:
            turn.hear("resumed")
            resume(turn, run)
            return
    on_answer(turn, run, said, hit)


def _start_if(turn: Turn, flow_id: str | None) -> None:
    """Start the flow an answer asked for (the safety check on a yes, a flow that waited for the terms)."""
    if flow_id is not None:
        start(turn, flow_id)


def _on_command(turn: Turn, said: Reading) -> None:
    """A programme button: its keyword, never an answer to the open question (even a free-text one)."""
    word = match_programme_keyword(said)
    asked = asking(turn.state)
    if word is None or (asked is not None and asked.what in (Asked.TERMS, Asked.SAFETY_OFFER)):
        _on_text(turn, said)  # not a programme word, or the terms or the safety offer come first
        return
    turn.hear("command", keyword=word.word.value)
    companion.on_keyword(turn, word, said.spoken)


def _on_resume(turn: Turn) -> None:
    if turn.state.consent_needed is not None:
        ask_consent(turn)
        return
    if close_stale_run(turn):
        return
    run = turn.state.run
    if run is None:
        turn.say(turn.phrase(phrases.HELP_NO_RUN))
    elif human.held(turn, run):  # no routine questions until a coach says so
        if not run.paused:
            run = replace(run, paused=True)
            turn.set_run(run)
            turn.event(RunChange.PAUSED, run)
        turn.say(turn.phrase(phrases.HELD_FOR_COACH))
    else:
        resume(turn, run)
