"""The person's language: set from outside (enrolment, an administrator) or switched with SPROG/LANGUAGE.

A switch never leaves the person in a questionnaire they cannot read: a flow without the wanted language keeps the
language it has, and an open question is asked again in the language now used.
"""

from __future__ import annotations

from dataclasses import replace

from flows import phrases
from flows.effects import LanguageChanged
from flows.questionnaire import ask_again
from flows.turn import Turn

LANGUAGES = ("da", "en")


def set_language(turn: Turn, lang: str) -> None:
    """From outside the conversation: nothing is said until the person next writes."""
    if lang in LANGUAGES and lang != turn.lang:
        turn.set_state(replace(turn.state, lang=lang))
        turn.log(LanguageChanged(lang))


def switch_language(turn: Turn, wanted: str | None) -> None:
    """SPROG [da|en]: the named language, or the other one; said, and the open question asked again."""
    lang = wanted or ("en" if turn.lang == "da" else "da")
    run = turn.state.run
    flow = turn.flow_of(run) if run else None
    if flow is not None and lang not in flow.languages:
        lang = turn.lang
    if lang != turn.lang:
        turn.set_state(replace(turn.state, lang=lang))
        turn.log(LanguageChanged(lang))
    turn.say(turn.phrase(phrases.LANGUAGE_CHANGED))
    if run is not None and not run.paused:
        ask_again(turn, run)
