"""Walking a flow: from a step through its messages to the next question, asking it, asking again, BACK, and
finishing (scores recorded, the closing said, then `Hooks.completed`).

Decisions on the `Turn` API only (flows/turn.py); what an answer means is `flows.answering`, what a finished
questionnaire means to the programme and the safety path is decided above this module, through the hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from flows import asking, phrases
from flows.conditions import Comparison
from flows.effects import Literal, Part, Prompt, PromptChoice, RecordScore, RetractAnswer, RunChange
from flows.model import END, Flow, Step, StepType
from flows.parsing import Accepted, Rejection, parse_answer
from flows.reading import Reading
from flows.scoring import scored
from flows.state import Answer, Run, evolve
from flows.turn import Turn

MAX_TRANSITIONS = 200  # steps one input may move through before the flow is judged runaway


# -- moving through the flow --------------------------------------------------------------------------------


def numeric(run: Run) -> dict[str, float]:
    """Numeric answers on the path actually taken (an answer undone by BACK is not on it)."""
    on_path = set(run.trail)
    return {k: float(a.value) for k, a in run.answers.items() if k in on_path and not isinstance(a.value, str)}


def lookup(flow: Flow, run: Run) -> Callable[[Comparison], float | None]:
    """Values for conditions: answers on the path taken, and complete scores."""
    values = numeric(run)

    def value(c: Comparison) -> float | None:
        if c.is_score:
            found = scored(flow, values).get(c.name)
            return None if found is None else found[0]
        return values.get(c.ref)

    return value


def next_step(flow: Flow, run: Run, step: Step) -> str:
    value = lookup(flow, run)
    for branch in step.next:
        if branch.condition is None or branch.condition.holds(value):
            return branch.target
    index = flow.position(step.id) + 1
    return flow.steps[index].id if index < len(flow.steps) else END


def go(turn: Turn, flow: Flow, run: Run, target: str) -> None:
    """Walk from `target` through message steps to the next question, or finish the flow."""
    sent_message = False
    for _ in range(MAX_TRANSITIONS):
        if target == END:
            finish(turn, flow, run, closing_sent=sent_message)
            return
        step = flow.step(target)
        if step is None:
            break
        if step.is_question:
            run = evolve(run, step_id=step.id)
            turn.set_run(run)
            ask(turn, flow, run, step)
            return
        turn.say(Literal(step.text.get(turn.lang), score_params(turn, flow, run)))
        sent_message = True
        target = next_step(flow, run, step)
    turn.end_run(run, RunChange.FAILED)
    turn.say(turn.phrase(phrases.FLOW_BROKEN))


def score_params(turn: Turn, flow: Flow, run: Run) -> dict[str, str | int | float]:
    params: dict[str, str | int | float] = {}
    for score_id, (value, band) in scored(flow, numeric(run)).items():
        params[f"score.{score_id}"] = value
        params[f"band.{score_id}"] = band.label.get(turn.lang) if band is not None else ""
    return params


def finish(turn: Turn, flow: Flow, run: Run, closing_sent: bool) -> None:
    for score_id, (value, band) in scored(flow, numeric(run)).items():
        turn.log(RecordScore(run.seq, flow.id, flow.version, score_id, value, band.id if band is not None else None))
    turn.end_run(run, RunChange.COMPLETED)
    if not closing_sent:
        turn.say(turn.phrase(phrases.FINISHED))
    turn.hooks.completed(turn, flow, run)


def accepts(turn: Turn, run: Run | None, said: Reading) -> bool:
    """Whether the message is a valid answer to the question the person is on (not paused)."""
    if run is None or run.paused:
        return False
    step = turn.step_of(run)
    return step is not None and step.is_question and isinstance(parse_answer(step, said), Accepted)


# -- going on, and going back -------------------------------------------------------------------------------


def resume(turn: Turn, run: Run) -> None:
    if run.paused:
        run = evolve(run, paused=False)
        turn.set_run(run)
        turn.event(RunChange.RESUMED, run)
    turn.say(turn.phrase(phrases.RESUMED))
    ask_again(turn, run)


def back(turn: Turn, run: Run) -> None:
    if run.paused:
        run = evolve(run, paused=False)
        turn.event(RunChange.RESUMED, run)
    flow = turn.flow_of(run)
    if flow is None or not run.trail:
        turn.set_run(evolve(run, invalid_streak=0))
        turn.say(turn.phrase(phrases.BACK_AT_FIRST))
        ask_again(turn, run)
        return
    previous = run.trail[-1]
    leaving = run.step_id
    if leaving in run.answers and leaving not in run.trail:  # answered before, now off the path
        turn.log(RetractAnswer(run.seq, leaving))
        run = evolve(run, answers={k: v for k, v in run.answers.items() if k != leaving})
    run = evolve(run, step_id=previous, trail=run.trail[:-1], invalid_streak=0)
    turn.set_run(run)
    step = flow.step(previous)
    answer = run.answers.get(previous)
    if step is not None and answer is not None:
        turn.say(turn.phrase(phrases.BACK_TO, answer=describe_answer(turn, step, answer)))
        ask(turn, flow, run, step)


def describe_answer(turn: Turn, step: Step, answer: Answer) -> str | int | float:
    if step.type is StepType.CHOICE:
        label = next((c.label.get(turn.lang) for c in step.choices if c.value == answer.value), "")
        return f"{answer.value} ({label})" if label else str(answer.value)
    if step.type is StepType.YESNO:
        return answer.raw
    return answer.value  # a number is formatted in the person's locale when rendered


# -- asking -------------------------------------------------------------------------------------------------


def ask_again(turn: Turn, run: Run) -> None:
    flow = turn.flow_of(run)
    step = flow.step(run.step_id) if flow else None
    if flow is not None and step is not None and step.is_question:
        ask(turn, flow, run, step)
    elif flow is not None:  # stopped before a message step (set aside by the safety path): carry on
        go(turn, flow, run, run.step_id)


def ask(turn: Turn, flow: Flow, run: Run, step: Step) -> None:
    number, of = flow.question_number(step.id)
    heading = f"({number}/{of}) " if of > 1 else ""
    turn.say(Literal(heading + step.text.get(turn.lang)), hint(turn, step), prompt=prompt(turn, flow, run, step))


def hint(turn: Turn, step: Step) -> Part:
    low, high = num(step.minimum), num(step.maximum)
    match step.type:
        case StepType.CHOICE:
            return turn.phrase(phrases.ANSWER_CHOICE)
        case StepType.SCALE if step.min_label is not None and step.max_label is not None:
            return turn.phrase(phrases.ANSWER_SCALE_LABELLED, low=low, high=high,
                               low_label=step.min_label.get(turn.lang), high_label=step.max_label.get(turn.lang))
        case StepType.SCALE:
            return turn.phrase(phrases.ANSWER_SCALE, low=low, high=high)
        case StepType.NUMBER if step.unit is not None:
            return turn.phrase(phrases.ANSWER_NUMBER_UNIT, low=low, high=high, unit=step.unit.get(turn.lang))
        case StepType.NUMBER:
            return turn.phrase(phrases.ANSWER_NUMBER, low=low, high=high)
        case StepType.YESNO:
            return turn.phrase(phrases.ANSWER_YESNO)
        case _:
            return turn.phrase(phrases.ANSWER_TEXT, max_length=step.max_length)


def prompt(turn: Turn, flow: Flow, run: Run, step: Step) -> Prompt:
    choices: Sequence[PromptChoice] = ()
    list_choices = True
    if step.type is StepType.CHOICE:
        choices = [PromptChoice(str(c.value), Literal(c.label.get(turn.lang))) for c in step.choices]
    elif step.type is StepType.YESNO:
        choices = turn.yes_no()
    elif step.type is StepType.SCALE and step.minimum is not None and step.maximum is not None:
        choices = [PromptChoice(str(v), Literal(str(v))) for v in range(int(step.minimum), int(step.maximum) + 1)]
        list_choices = False
    return asking.prompt(asking.question_key(run, step.id), flow.id, flow.version, choices, list_choices)


UNSURE = frozenset({  # "don't know" at a question with answers to choose from: which one comes closest
    "ved ikke", "ved det ikke", "det ved jeg ikke", "jeg ved det ikke", "jeg ved ikke", "aner det ikke", "ved ik",
    "ikke sikker", "er ikke sikker", "jeg er ikke sikker", "svaert at sige", "ved ikke rigtig",
    "dont know", "don't know", "i dont know", "i don't know", "not sure", "i'm not sure", "im not sure", "dunno",
    "idk", "hard to say",
})


def unsure(step: Step, said: Reading) -> bool:
    """"Ved ikke" at a question with answers to choose from (a yes or no, or words, is another matter: the coach's)."""
    return step.type in (StepType.CHOICE, StepType.SCALE) and said.folded in UNSURE


def reprompt(turn: Turn, flow: Flow, run: Run, step: Step, reason: Rejection, unsure: bool = False) -> None:
    """The question again after an answer it cannot take, saying why; `unsure` (`unsure()`): the person said they do
    not know, and is told to choose the closest answer."""
    run = evolve(run, invalid_streak=run.invalid_streak + 1)
    turn.set_run(run)
    if run.invalid_streak >= 3:  # offer a way out instead of repeating; then start counting again
        turn.set_run(evolve(run, invalid_streak=0))
        turn.say(turn.phrase(phrases.STRUGGLING))
        ask(turn, flow, run, step)
        return
    intro = phrases.CLOSEST_ANSWER if unsure else {
        Rejection.EMPTY: phrases.NOTHING_RECEIVED,
        Rejection.TOO_LONG: phrases.TEXT_TOO_LONG if step.type is StepType.TEXT else phrases.TOO_LONG_FOR_ANSWER,
    }.get(reason, phrases.NOT_UNDERSTOOD)
    permitted = allowed(turn, step)
    if reason is Rejection.TOO_PRECISE and step.decimals > 0:
        permitted = turn.phrase(phrases.ALLOWED_DECIMALS, decimals=step.decimals)
    # the allowed answers are in the text already; the prompt still carries them as buttons
    again = replace(prompt(turn, flow, run, step), list_choices=False)
    turn.say(turn.phrase(intro, max_length=step.max_length), permitted, prompt=again)


def allowed(turn: Turn, step: Step) -> Part:
    match step.type:
        case StepType.CHOICE:
            listing = ", ".join(f"{c.value} = {c.label.get(turn.lang)}" for c in step.choices)
            return turn.phrase(phrases.ALLOWED_CHOICES, choices=listing)
        case StepType.SCALE:
            return turn.phrase(phrases.ALLOWED_RANGE, low=num(step.minimum), high=num(step.maximum))
        case StepType.NUMBER:
            if step.decimals == 0:
                return turn.phrase(phrases.ALLOWED_RANGE, low=num(step.minimum), high=num(step.maximum))
            return turn.phrase(phrases.ALLOWED_NUMBER, low=num(step.minimum), high=num(step.maximum))
        case StepType.YESNO:
            return turn.phrase(phrases.ALLOWED_YESNO)
        case _:
            return turn.phrase(phrases.ANSWER_TEXT, max_length=step.max_length)


def num(value: float | None) -> int | float:
    if value is None:
        return 0
    return int(value) if float(value).is_integer() else value
