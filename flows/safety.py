"""The safety path: a risk signal is escalated to a human and answered, the safety check is offered (the open
questionnaire set aside, never lost), and the questionnaire comes back where it was when the check is over.

Decisions on the `Turn` API (flows/turn.py). Starting the check itself is the caller's: `answer_offer` returns the
flow to start, and the engine starts it (flows/runs.py needs this module, so this module must not need that one).
"""

from __future__ import annotations

from dataclasses import replace

from flows import crisis_reply, for_coach, human, phrases
from flows.asking import SAFETY_OFFER, prompt
from flows.effects import CancelTimer, Escalate, RunChange
from flows.language import switch_language
from flows.parsing import Keyword, match_keyword, parse_yes_no
from flows.questionnaire import go
from flows.reading import Reading
from flows.risk import SAFETY_CHECK, TermMatch
from flows.state import Run
from flows.turn import Turn

MAX_OFFER_REPEATS = 2
TRIGGER_TEXT_LIMIT = 1000  # characters of a risky message kept with its escalation


def text_trigger(hit: TermMatch, text: str) -> dict[str, str | int | float]:
    """What a word-list escalation records: the phrase that matched and the message (capped)."""
    return {"matched": hit.phrase, "text": text[:TRIGGER_TEXT_LIMIT]}


def escalate(turn: Turn, level: str, kind: str, trigger: dict[str, str | int | float], reply: bool = True) -> None:
    turn.log(Escalate(level, kind, trigger))
    if reply:
        crisis_reply.reply(turn, level)  # the full block once, then a pointer to it for an hour
    if level == "high":
        turn.set_state(replace(turn.state, hold=True))


def offer_check(turn: Turn) -> None:
    """Set the questionnaire aside and offer the safety check (unless the person is already in it)."""
    run = turn.state.run
    if (run is not None and run.flow_id == SAFETY_CHECK) or turn.flows.latest(SAFETY_CHECK) is None:
        return
    if run is not None:
        older = turn.state.suspended
        if older is not None:  # one questionnaire can wait; an older one is ended, never silently lost
            turn.event(RunChange.ABANDONED, older)
            turn.log(CancelTimer(older.timer_key))
        turn.event(RunChange.SUSPENDED, run)
        turn.set_state(replace(turn.state, run=None, suspended=run))
    turn.set_state(replace(turn.state, offered_at=turn.state.offered_at or turn.now))
    turn.say(turn.phrase(phrases.OFFER_CHECK), prompt=prompt(SAFETY_OFFER, SAFETY_CHECK, 0, turn.yes_no()))


def answer_offer(turn: Turn, said: Reading, hit: TermMatch | None) -> str | None:
    """The person's answer to the offer; the flow to start now (the safety check, on a yes), or None."""
    keyword = match_keyword(said)
    kind = keyword.keyword if keyword is not None else None
    answer = parse_yes_no(said)
    turn.hear("safety_offer", answer="yes" if answer == 1 else "no" if answer == 0 else "unclear")
    if answer == 1:
        turn.set_state(replace(turn.state, offered_at=None, offer_repeats=0))
        return SAFETY_CHECK
    declined = answer == 0 or kind in (Keyword.STOP, Keyword.PAUSE, Keyword.RESUME, Keyword.BACK)
    if kind is Keyword.LANGUAGE:
        switch_language(turn, keyword.argument if keyword else None)
    elif not declined and turn.state.offer_repeats >= MAX_OFFER_REPEATS:
        declined = True  # no clear answer after repeating the offer: do not keep asking
    if declined:
        turn.set_state(replace(turn.state, offered_at=None, offer_repeats=0))
        turn.say(turn.phrase(phrases.CHECK_DECLINED))
        if kind in (Keyword.RESUME, Keyword.BACK):  # "let's go on": straight back to the questionnaire
            restore_suspended(turn)
        else:  # a clear no is asked "go on now?"; anything else leaves it paused
            restore_suspended(turn, paused=answer != 0, ask=answer == 0)
        return None
    if hit is None and for_coach.must_read(said, None):  # words, not an answer to the offer: the coach reads them
        human.tell_coach(turn)
    turn.set_state(replace(turn.state, offer_repeats=turn.state.offer_repeats + 1))
    offer_check(turn)
    return None


def withdraw_offer(turn: Turn) -> None:
    """The offer is no longer open (a coach released the hold, or it lapsed): the questionnaire is back, paused."""
    turn.set_state(replace(turn.state, offered_at=None, offer_repeats=0))
    restore_suspended(turn, paused=True, announce=False)


def release_hold(turn: Turn) -> None:
    """A coach lets routine flows start again; a lingering offer of the safety check is withdrawn."""
    turn.set_state(replace(turn.state, hold=False))
    crisis_reply.forget(turn)  # the escalation is dealt with: a new signal gets the full block again
    if turn.state.offering_check:
        withdraw_offer(turn)


def restore_suspended(turn: Turn, paused: bool = False, announce: bool = True, ask: bool = False) -> None:
    """Bring back the questionnaire set aside for the safety check, where it was; `ask`: paused, with "go on
    now?" (after the check, never straight to the next question).

    Under a hold (high risk) it comes back paused: no routine questions until a coach says so."""
    run = turn.state.suspended
    if run is None:
        return
    turn.set_state(replace(turn.state, suspended=None))
    flow = turn.flow_of(run)
    if flow is None:
        turn.set_run(run)
        turn.end_run(run, RunChange.FAILED)
        return
    paused = paused or turn.state.hold or ask
    run = replace(run, paused=paused)
    turn.set_run(run)
    turn.event(RunChange.RESUMED if not paused else RunChange.PAUSED, run)
    if ask:
        human.offer_to_go_on(turn, run, questionnaire=True)
    elif paused:
        if announce:
            turn.say(turn.phrase(phrases.HELD_FOR_COACH if turn.state.hold else phrases.STILL_PAUSED))
    else:
        turn.say(turn.phrase(phrases.RESUMED))
        go(turn, flow, run, run.step_id)


def after_run_ended(turn: Turn, run: Run, change: RunChange) -> None:
    """A safety check that ends unfinished (stopped, expired, abandoned) gives back what it set aside, paused."""
    if run.flow_id == SAFETY_CHECK and change is not RunChange.COMPLETED:
        restore_suspended(turn, paused=True, announce=False)
