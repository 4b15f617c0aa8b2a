"""The keywords that work at any point: HJÆLP, PAUSE, FORTSÆT, STOP, TILBAGE, SPROG, and KONTAKT (a coach).

Decisions on the `Turn` API (flows/turn.py). The programme's own words (FÆRDIG, TRE, ...) are `flows.companion`.
"""

from __future__ import annotations

from dataclasses import replace

from flows import companion, phrases
from flows.asking import Asked, asking
from flows.consent import ask_consent
from flows.effects import CoachHours, CoachTaskDue, Phrase, RunChange
from flows.human import CONTACT_TASK, held, offer_to_go_on, where
from flows.language import switch_language
from flows.parsing import Keyword, KeywordInput
from flows.questionnaire import ask_again, back, resume
from flows.runs import close_stale_run
from flows.safety import offer_check
from flows.turn import Turn


def paused_line(turn: Turn) -> str:
    """Why the questionnaire waits: for a coach under a hold, else until the person writes CONTINUE."""
    return phrases.HELD_FOR_COACH if held(turn, turn.state.run) else phrases.STILL_PAUSED


def on_keyword(turn: Turn, keyword: KeywordInput) -> None:
    run = turn.state.run
    if held(turn, run) and keyword.keyword in (Keyword.RESUME, Keyword.BACK):  # FORTSÆT resumed it, BACK re-asked
        turn.say(turn.phrase(phrases.HELD_FOR_COACH))
        return
    match keyword.keyword:
        case Keyword.LANGUAGE:
            switch_language(turn, keyword.argument)
        case Keyword.HELP:
            turn.say(turn.phrase(phrases.HELP if run else phrases.HELP_NO_RUN), turn.phrase(phrases.HELP_CONTACT))
            if run is None and turn.flows.programme is not None:
                turn.say(*companion.help_lines(turn, turn.flows.programme))
            if run is not None and run.paused:
                turn.say(turn.phrase(paused_line(turn)))
            elif run is not None:
                turn.set_run(replace(run, invalid_streak=0))
                ask_again(turn, run)
        case Keyword.PAUSE:
            if run is None and turn.flows.programme is not None:  # perhaps they meant the reminders
                turn.say(turn.phrase(phrases.NOTHING_TO_PAUSE),
                         turn.phrase(phrases.PAUSE_DAYS_RANGE, max_days=companion.MAX_PAUSE_DAYS))
            elif run is None:
                turn.say(turn.phrase(phrases.NOTHING_TO_PAUSE))
            elif run.paused:
                turn.say(turn.phrase(paused_line(turn)))
            else:
                turn.set_run(replace(run, paused=True, invalid_streak=0))
                turn.event(RunChange.PAUSED, run)
                turn.say(turn.phrase(phrases.PAUSED))
        case Keyword.RESUME:
            if run is None:
                turn.say(turn.phrase(phrases.NO_RUN))
            else:
                resume(turn, run)
        case Keyword.STOP:
            if run is None and turn.flows.programme is not None:
                companion.stop_reminders(turn)
            elif run is None:
                turn.say(turn.phrase(phrases.NOTHING_TO_STOP))
            else:
                turn.end_run(run, RunChange.STOPPED)
                turn.say(turn.phrase(phrases.STOPPED))
                if turn.state.run is not None:  # the questionnaire set aside for the safety check
                    turn.say(turn.phrase(paused_line(turn)))
                elif turn.flows.programme is not None:  # STOP ended the questionnaire; they may have meant it all
                    turn.say(turn.phrase(phrases.STOP_AGAIN_FOR_REMINDERS))
        case Keyword.BACK:
            if run is None:
                turn.say(turn.phrase(phrases.NO_RUN))
            else:
                back(turn, run)


def contact(turn: Turn) -> None:
    """KONTAKT: a coach task, said so, and then back to whatever was being asked (never the question at once)."""
    close_stale_run(turn)
    turn.hear("keyword", keyword="contact", **where(turn))
    turn.log(CoachTaskDue(CONTACT_TASK, where(turn)))
    turn.say(Phrase(phrases.CONTACT_ASKED), CoachHours())
    asked, run = asking(turn.state), turn.state.run
    if asked is not None and asked.what is Asked.TERMS:
        ask_consent(turn)
    elif asked is not None and asked.what is Asked.SAFETY_OFFER:
        offer_check(turn)
    elif run is not None and not run.paused:
        offer_to_go_on(turn, run)
