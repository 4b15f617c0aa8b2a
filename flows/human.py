"""Reaching a human (issue 11, points 2 and 7): messages for the coach, the KONTAKT keyword, and asking before a
questionnaire goes on.

When the engine decides a message is for a coach (flows/for_coach.py has the rule), it says so with a `Heard` effect
marked `for_coach`; the shell keeps the message in the coach's inbox. The person is told plainly that their coach
will read it and when coaches read (`CoachHours`, filled in from the deployment's office hours), and is then asked
whether to go on with the open question now or later, instead of being shown the question again at once. The same
question ("go on now?") comes after the safety check, before a set-aside questionnaire carries on. KONTAKT/CONTACT
makes a coach task and says so (flows/keywords.py).

Pure like the engine it belongs to: decisions come back as effects and state.
"""

from __future__ import annotations

from dataclasses import replace

from flows import crisis_reply, phrases
from flows.asking import prompt, question_key
from flows.effects import CoachHours, DataValue, Heard, Phrase, PromptChoice, RunChange
from flows.questionnaire import ask_again
from flows.reading import Reading
from flows.risk import SAFETY_CHECK
from flows.state import Run
from flows.turn import Turn

CONTACT_TASK = "contact_request"  # the coach task KONTAKT makes
GO_ON_YES = frozenset({"ja", "j", "jo", "jep", "ja tak", "gerne", "ok", "okay", "yes", "y", "yep", "yeah",
                       "yes please", "sure", "nu"})
GO_ON_NO = frozenset({"nej", "n", "nix", "nej tak", "senere", "ikke nu", "no", "nope", "no thanks", "later",
                      "not now"})


def where(turn: Turn) -> dict[str, DataValue]:
    """Where the person was when they wrote: the questionnaire and question (for the coach; never the text)."""
    run = turn.state.run or turn.state.suspended
    return {} if run is None else {"flow_id": run.flow_id, "item_id": run.step_id}


def held(turn: Turn, run: Run | None) -> bool:
    """A routine questionnaire under a high-risk hold: it stays paused until a coach releases it, whatever is typed."""
    return run is not None and turn.state.hold and run.flow_id != SAFETY_CHECK


def tell_coach(turn: Turn) -> None:
    """The message is for a human: kept for the coach (the shell's inbox), and the person told when it is read."""
    turn.log(Heard("for_coach", where(turn), for_coach=True))
    turn.say(Phrase(phrases.MESSAGE_FOR_COACH), CoachHours())
    crisis_reply.remind(turn)  # in a crisis: where the numbers are, not only when coaches read


def offer_to_go_on(turn: Turn, run: Run, questionnaire: bool = False) -> None:
    """Set the question aside and ask whether to go on now or later: the next yes or no answers it.

    Under a coach's hold (high risk) no routine question comes back: it stays paused until a coach releases it."""
    if not run.paused:
        run = replace(run, paused=True, invalid_streak=0)
        turn.set_run(run)
        turn.event(RunChange.PAUSED, run)
    if held(turn, run):
        turn.say(Phrase(phrases.HELD_FOR_COACH))
        return
    turn.set_state(replace(turn.state, resume_offered=run.seq))
    choices = (PromptChoice("ja", Phrase(phrases.YES)), PromptChoice("nej", Phrase(phrases.NO)))
    question = phrases.GO_ON_WITH_QUESTIONNAIRE if questionnaire else phrases.GO_ON_WITH_QUESTION
    turn.say(Phrase(question), prompt=prompt(question_key(run), run.flow_id, run.flow_version, choices, False))


def take_resume_offer(turn: Turn) -> int | None:
    """The run whose "go on now?" was just asked, if any; asked once: cleared whatever the person writes."""
    offered = turn.state.resume_offered
    if offered is not None:
        turn.set_state(replace(turn.state, resume_offered=None))
    return offered


def answer_resume_offer(turn: Turn, said: Reading, offered: int) -> bool:
    """A yes or no to "go on now?"; False when the message is something else (an answer to the question itself is
    then taken as usual, a sentence goes to the coach)."""
    run = turn.state.run
    key = said.folded
    if run is None or run.seq != offered or not run.paused or key not in GO_ON_YES | GO_ON_NO:
        return False
    going_on = key in GO_ON_YES
    turn.hear("go_on", answer="yes" if going_on else "no")
    if not going_on:
        turn.say(Phrase(phrases.LATER))
    elif held(turn, run):
        turn.say(Phrase(phrases.HELD_FOR_COACH))
    else:
        run = replace(run, paused=False)
        turn.set_run(run)
        turn.event(RunChange.RESUMED, run)
        turn.say(Phrase(phrases.GOING_ON))
        ask_again(turn, run)
    return True
