"""A message to the open question: taken as its answer (recorded; the flow's risk rules and coach-task rules
looked at; on to the next step), or not (asked again, the coach told, or the safety check offered).

Decisions on the `Turn` API (flows/turn.py), built on the questionnaire, the safety path and reaching a human.
"""

from __future__ import annotations

from flows import for_coach, human, phrases
from flows.effects import CoachTaskDue, RecordAnswer, RunChange
from flows.model import END, Flow
from flows.parsing import Accepted, Rejected, parse_answer
from flows.questionnaire import ask, finish, go, lookup, next_step, reprompt, unsure
from flows.reading import Reading
from flows.risk import SAFETY_CHECK, TermMatch, highest, rank
from flows.safety import escalate, offer_check
from flows.state import Answer, Run, evolve
from flows.turn import Turn


def on_answer(turn: Turn, run: Run, said: Reading, hit: TermMatch | None = None) -> None:
    flow = turn.flow_of(run)
    step = flow.step(run.step_id) if flow else None
    if flow is None or step is None or not step.is_question:
        turn.end_run(run, RunChange.FAILED)
        turn.say(turn.phrase(phrases.FLOW_BROKEN))
        return
    interrupt = hit is not None and flow.id != SAFETY_CHECK
    result = parse_answer(step, said)
    if isinstance(result, Rejected):
        if interrupt:
            offer_check(turn)
        elif hit is not None:  # in the safety check: heard and answered; the question again, not "not understood"
            ask(turn, flow, run, step)
        elif for_coach.must_read(said, step) and not unsure(step, said):
            human.tell_coach(turn)
            human.offer_to_go_on(turn, run)
        else:
            turn.hear("not_understood", flow_id=flow.id, item_id=step.id, reason=result.reason.value)
            reprompt(turn, flow, run, step, result.reason, unsure=unsure(step, said))
        return
    assert isinstance(result, Accepted)
    turn.hear("answer", flow_id=flow.id, item_id=step.id)
    raw = said.raw.strip()
    turn.log(RecordAnswer(run.seq, flow.id, flow.version, step.id, result.value, raw))
    run = evolve(run.answered(step.id, Answer(result.value, raw)), last_at=turn.now)
    level = highest([rule.level for rule in flow.risk_rules if rule.condition.holds(lookup(flow, run))])
    if level is not None and rank(level) > rank(run.risk_level):
        # inside the safety check the full reply is given once, and again only when the level becomes high
        reply = flow.id != SAFETY_CHECK or run.risk_level is None or level == "high"
        run = evolve(run, risk_level=level)
        kind = "safety_check" if flow.id == SAFETY_CHECK else "item"
        escalate(turn, level, kind, {"flow_id": flow.id, "flow_version": flow.version, "item_id": step.id,
                                     "answer": result.value, "raw_text": raw[:1000]}, reply=reply)
        interrupt = flow.id != SAFETY_CHECK
    run = raise_tasks(turn, flow, run)
    turn.set_run(run)
    target = next_step(flow, run, step)
    if not interrupt:
        go(turn, flow, run, target)
        return
    if target == END:
        finish(turn, flow, run, closing_sent=True)
    else:
        turn.set_run(evolve(run, step_id=target))  # carried on from here after the safety check
    offer_check(turn)


def raise_tasks(turn: Turn, flow: Flow, run: Run) -> Run:
    """The flow's task rules that now hold raise their coach task, once per run."""
    value = lookup(flow, run)
    for rule in flow.task_rules:
        if rule.kind not in run.tasks and rule.condition.holds(value):
            turn.log(CoachTaskDue(rule.kind, {"flow_id": flow.id, "run_seq": run.seq, "rule": rule.condition.text}))
            run = evolve(run, tasks=(*run.tasks, rule.kind))
    return run
