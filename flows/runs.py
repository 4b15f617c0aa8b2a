"""Starting a flow (or refusing to, while the terms or the safety path come first), and closing a run that has
expired or whose flow is gone.

Decisions on the `Turn` API (flows/turn.py); used by the engine's router and by the programme, which start flows.
"""

from __future__ import annotations

from dataclasses import replace

from flows import phrases
from flows.consent import ask_consent
from flows.effects import RunChange, RunEvent
from flows.questionnaire import go
from flows.risk import SAFETY_CHECK
from flows.safety import withdraw_offer
from flows.state import OFFER_LAPSES
from flows.turn import Turn, expired


def start(turn: Turn, flow_id: str) -> bool:
    """Start a flow; False when it was not (unknown, or refused while the safety path comes first)."""
    flow = turn.flows.latest(flow_id)
    if flow is None:
        turn.say(turn.phrase(phrases.UNKNOWN_FLOW))
        return False
    if turn.state.consent_needed is not None and flow_id != SAFETY_CHECK:
        turn.set_state(replace(turn.state, pending_flow=flow_id))  # started once the terms are accepted
        ask_consent(turn)
        return True
    offered = turn.state.offered_at
    busy = (offered is not None and turn.now - offered < OFFER_LAPSES) or (
        turn.state.run is not None and turn.state.run.flow_id == SAFETY_CHECK)
    if flow_id != SAFETY_CHECK and (turn.state.hold or busy):
        turn.log(RunEvent(RunChange.REFUSED, 0, flow.id, flow.version))  # the safety path comes first
        return False
    close_stale_run(turn, tell=False)
    if offered is not None and flow_id != SAFETY_CHECK:  # a lapsed offer: withdrawn, nothing lost
        withdraw_offer(turn)
    if turn.state.run is not None:
        turn.end_run(turn.state.run, RunChange.ABANDONED)
    run = turn.begin_run(flow)
    go(turn, flow, run, flow.steps[0].id)
    return True


def close_stale_run(turn: Turn, tell: bool = True) -> bool:
    """End a run that has expired or whose flow is gone, and say so (once). True if it did."""
    run = turn.state.run
    if turn.state.expired_unseen:  # the expiry timer closed it while the person was away
        turn.set_state(replace(turn.state, expired_unseen=False))
        if tell:
            turn.say(turn.phrase(phrases.EXPIRED))
            return True
    if run is None:
        return False
    flow = turn.flow_of(run)
    if flow is None:
        turn.end_run(run, RunChange.FAILED)
        if tell:
            turn.say(turn.phrase(phrases.FLOW_BROKEN))
        return True
    if expired(flow, run, turn.now):
        turn.end_run(run, RunChange.EXPIRED)
        if tell:
            turn.say(turn.phrase(phrases.EXPIRED))
            if turn.state.run is not None:  # the questionnaire that waited for the safety check is back
                turn.say(turn.phrase(phrases.STILL_PAUSED))
        return True
    return False


def expire_on_timer(turn: Turn, key: str) -> None:
    """The run's expiry timer fired: it ends now, and the person is told when they next write."""
    run = turn.state.run
    if run is None or key != run.timer_key:
        return  # a timer of a run that has already ended: nothing to do
    flow = turn.flow_of(run)
    if flow is None or expired(flow, run, turn.now):
        turn.end_run(run, RunChange.EXPIRED)
        turn.set_state(replace(turn.state, expired_unseen=True))  # said when the person next writes
