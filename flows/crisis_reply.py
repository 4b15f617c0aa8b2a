"""The crisis reply: the full block once per escalation, then a short line pointing back to it (issue 11, point 7).

Someone in crisis who writes three times in a minute should not get eight lines of phone numbers three times: the
full block (being heard, the crisis contacts, a coach will be in touch) is sent once, and for the next hour a further
signal gets one line saying where the numbers are and that a coach has been told. A higher level gets the full block
again at once (for high risk it puts 112 and the emergency department first), and so does any signal after the hour,
or after a coach closed or released the escalation. Pure: the time of the last block is in the state.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flows import phrases
from flows.effects import CrisisContacts, Phrase, Send
from flows.risk import LEVELS, rank
from flows.turn import Turn

POINTER_FOR = timedelta(hours=1)


def safety_reply(level: str) -> Send:
    """Being heard, the crisis contacts for the level, and that a coach will be in touch."""
    return Send((Phrase(phrases.SAFETY_HEARD), CrisisContacts(level), Phrase(phrases.SAFETY_COACH)))


def pointer() -> Send:
    """The short line within the hour: where the numbers are, and that a coach has been told."""
    return Send((Phrase(phrases.SAFETY_POINTER),))


def reply(turn: Turn, level: str) -> None:
    """The full block, or the pointer when the full block for this level (or a higher one) went out within the hour."""
    state = turn.state
    shown = state.crisis_shown_at
    if shown is not None and turn.now - shown < POINTER_FOR and rank(level) <= rank(state.crisis_level):
        turn.log(pointer())
        return
    turn.log(safety_reply(level))
    turn.set_state(replace(state, crisis_shown_at=turn.now, crisis_level=level))


def remind(turn: Turn) -> None:
    """A message for the coach from someone whose crisis block went out within the hour, or who is under a high
    risk hold: the pointer (or, under a hold after the hour, the block again), unless this turn said it already.
    "I mean it" after "I have collected my pills" got only "coaches read messages Monday to Friday"."""
    state = turn.state
    shown = state.crisis_shown_at
    recent = shown is not None and turn.now - shown < POINTER_FOR
    if not (state.hold or recent) or any(_crisis_part(effect) for effect in turn.effects):
        return
    reply(turn, state.crisis_level or LEVELS[-1])  # a hold is high risk


def _crisis_part(effect: object) -> bool:
    return isinstance(effect, Send) and any(
        isinstance(part, CrisisContacts) or (isinstance(part, Phrase) and part.msgid == phrases.SAFETY_POINTER)
        for part in effect.parts)


def forget(turn: Turn) -> None:
    """The escalation is closed or released: the next signal gets the full block again."""
    turn.set_state(replace(turn.state, crisis_shown_at=None, crisis_level=None))
