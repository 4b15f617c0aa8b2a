"""The programme's terms: asked before anything else is asked, and answered yes, no, or not yet.

Decisions on the `Turn` API (flows/turn.py). A flow that waited for the terms is the caller's to start:
`answer_consent` returns it, and the engine starts it (flows/runs.py asks for the terms, so this module must not
need that one).
"""

from __future__ import annotations

from dataclasses import replace

from flows import for_coach, human, phrases
from flows.asking import TERMS_PROMPT, prompt, terms_key
from flows.effects import ConsentGiven, Literal, Milestone
from flows.language import switch_language
from flows.parsing import Keyword, match_keyword, parse_yes_no
from flows.reading import Reading
from flows.turn import Turn


def require_consent(turn: Turn) -> None:
    """An enrolled participant must accept the terms (unless they accepted this version already)."""
    terms = turn.flows.consent
    if terms is not None and turn.state.consent_given != terms.version:
        turn.set_state(replace(turn.state, consent_needed=terms.version))


def ask_consent(turn: Turn) -> None:
    terms = turn.flows.consent
    if terms is None:
        turn.set_state(replace(turn.state, consent_needed=None))
        return
    turn.say(Literal(terms.text.get(turn.lang)), turn.phrase(phrases.CONSENT_QUESTION),
             prompt=prompt(terms_key(terms.version), TERMS_PROMPT, 0, turn.yes_no()))
    turn.set_state(replace(turn.state, consent_shown=terms.version))


def answer_consent(turn: Turn, said: Reading) -> str | None:
    """The person's answer to the terms; the flow that waited for them, to start now (or None). A message before the
    terms were ever shown (a "ja" to the enrolment invite) is no answer to them: the terms are shown first, and a
    question in it still reaches a human."""
    keyword = match_keyword(said)
    if turn.state.consent_shown != turn.state.consent_needed:
        turn.hear("consent", answer="not_shown_yet")
        if keyword is None and for_coach.must_read(said, None):
            human.tell_coach(turn)
        ask_consent(turn)
        return None
    kind = keyword.keyword if keyword is not None else None
    answer = parse_yes_no(said)
    turn.hear("consent", answer="yes" if answer == 1 else "no" if answer == 0 else "unclear")
    if answer == 1:
        version = turn.state.consent_needed or ""
        turn.log(ConsentGiven(version))
        pending = turn.state.pending_flow
        turn.set_state(replace(turn.state, consent_needed=None, pending_flow=None, consent_given=version))
        turn.say(turn.phrase(phrases.CONSENT_THANKS))
        return pending
    if answer == 0 or kind is Keyword.STOP:
        turn.say(turn.phrase(phrases.CONSENT_DECLINED))
        turn.log(Milestone("consent_declined", turn.state.consent_needed or ""))  # on the coach's page
    elif kind is Keyword.LANGUAGE:
        switch_language(turn, keyword.argument if keyword else None)
        ask_consent(turn)
    else:
        if kind is None and for_coach.must_read(said, None):  # a question about the terms: a human answers
            human.tell_coach(turn)
        ask_consent(turn)
    return None
