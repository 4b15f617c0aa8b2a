"""Measurement waves: opened (their questionnaires asked one after another), reminded, closed as missed when not
answered, and when answered the programme's evaluation against baseline (seed 002's week 4) and its entry criterion
(seed 001's screening).

Decisions on the `Turn` API (flows/turn.py): opening, reminding and closing are scheduled events (`flows.due`); a
wave's questionnaire finished is `wave_step_done`, called by `flows.companion.after_completion`.
"""

from __future__ import annotations

from dataclasses import replace

from flows import phrases, runs
from flows.effects import CoachTaskDue, DataValue, Handling, Literal, Milestone, Send
from flows.inputs import Due
from flows.model import Flow
from flows.programme import Programme
from flows.questionnaire import resume
from flows.reminders import count_sent, handled, start_date
from flows.scoring import scored
from flows.state import Run
from flows.timing import wave_reminder_plan
from flows.turn import Turn

ENTRY_NOT_MET = "entry_criterion_not_met"  # the coach task of a screening score below the entry criterion


def wave_open(turn: Turn, programme: Programme, due: Due) -> None:
    wave = programme.wave(str(due.data.get("wave", "")))
    if wave is None:
        handled(turn, Handling.SKIPPED, "wave no longer in the programme")
        return
    progress = turn.state.progress
    if progress.wave is not None and progress.wave != wave.id:  # the older wave was never finished
        miss_wave(turn, progress.wave)
    flows = tuple(f for f in wave.flows if turn.flows.latest(f) is not None)
    turn.set_progress(replace(turn.state.progress, wave=wave.id, wave_flows=flows))
    turn.log(Milestone("wave_started", wave.id))
    turn.say(Literal(wave.intro.get(turn.lang)))
    if flows:
        runs.start(turn, flows[0])
    start = start_date(due)
    reminder = wave_reminder_plan(programme, start, wave.id, 1, turn.now) if start else None
    if reminder is not None:
        turn.log(reminder)
    count_sent(turn, programme)


def wave_remind(turn: Turn, programme: Programme, due: Due) -> None:
    wave = programme.wave(str(due.data.get("wave", "")))
    progress = turn.state.progress
    if wave is None or not progress.wave_flows:
        handled(turn, Handling.SKIPPED, "nothing left to answer in the wave")
        return
    turn.say(Literal(wave.reminder.get(turn.lang)))
    current, run = progress.wave_flows[0], turn.state.run
    if run is not None and run.flow_id == current:
        resume(turn, run)
    else:
        runs.start(turn, current)
    number = int(due.data.get("n", 1))
    start = start_date(due)
    following = wave_reminder_plan(programme, start, wave.id, number + 1, turn.now) if start else None
    if following is not None:
        turn.log(following)
    count_sent(turn, programme)


def close_wave(turn: Turn, programme: Programme, due: Due) -> None:
    wave_id = str(due.data.get("wave", ""))
    progress = turn.state.progress
    if wave_id in progress.waves_done:
        handled(turn, Handling.SKIPPED, "answered")
    elif wave_id in progress.waves_missed:  # recorded when the next wave opened over it
        handled(turn, Handling.SKIPPED, "already recorded as missed")
    elif progress.wave == wave_id:
        miss_wave(turn, wave_id)
        handled(turn, Handling.SENT, "closed as missed")
    else:
        miss_wave(turn, wave_id, was_open=False)
        handled(turn, Handling.SENT, "closed as missed (never started)")


def miss_wave(turn: Turn, wave_id: str, was_open: bool = True) -> None:
    """Record a wave as missed (visible in reports) and tell the coach; no message to the person."""
    progress = turn.state.progress
    left = progress.wave_flows if progress.wave == wave_id else ()
    turn.log(Milestone("wave_missed", wave_id, {"unanswered": ",".join(left)}))
    turn.log(CoachTaskDue("wave_missed", {"wave": wave_id, "started": int(was_open)}))
    missed = (*progress.waves_missed, wave_id)
    if progress.wave == wave_id:
        turn.set_progress(replace(progress, wave=None, wave_flows=(), waves_missed=missed))
    else:
        turn.set_progress(replace(progress, waves_missed=missed))


def wave_step_done(turn: Turn, programme: Programme, flow: Flow, run: Run, numeric: dict[str, float]) -> None:
    progress = turn.state.progress
    wave_id = progress.wave
    assert wave_id is not None
    values = {f"{flow.id}.{score_id}": value for score_id, (value, _) in scored(flow, numeric).items()}
    scores = {**progress.wave_scores, wave_id: {**progress.wave_scores.get(wave_id, {}), **values}}
    left = progress.wave_flows[1:]
    turn.log(Milestone("wave_run", wave_id, {"flow_id": flow.id, "run_seq": run.seq}))
    check_entry(turn, programme, wave_id, values)  # as soon as its questionnaire is answered, whatever comes next
    if left:
        turn.set_progress(replace(progress, wave_scores=scores, wave_flows=left))
        before = turn.mark()
        if runs.start(turn, left[0]):  # not when the safety path comes first: a reminder restarts it later
            turn.log_at(before, Send((turn.phrase(phrases.WAVE_NEXT),)))
        return
    turn.set_progress(replace(progress, wave_scores=scores, wave_flows=(), wave=None,
                                waves_done=(*progress.waves_done, wave_id)))
    turn.log(Milestone("wave_done", wave_id))
    turn.say(turn.phrase(phrases.WAVE_FINISHED))
    evaluate(turn, programme, wave_id)
    first = min(programme.waves, key=lambda w: w.day, default=None)
    state = turn.state
    if (programme.exercises is not None and first is not None and first.id == wave_id
            and state.progress.exercise_days is None and not state.hold and state.offered_at is None):
        runs.start(turn, programme.exercises.plan_flow)  # asked at the start: when would you like the reminders?


def evaluate(turn: Turn, programme: Programme, wave_id: str) -> None:
    """Seed 002's week-4 evaluation, as coach tasks; the person hears only what the programme file says."""
    ev = programme.evaluation
    if ev is None or ev.wave != wave_id:
        return
    key = f"{ev.flow}.{ev.score}"
    scores = turn.state.progress.wave_scores
    now_value, baseline = scores.get(ev.wave, {}).get(key), scores.get(ev.baseline, {}).get(key)
    detail: dict[str, DataValue] = {"wave": ev.wave, "score": key}
    if now_value is None or baseline is None:
        turn.log(CoachTaskDue("evaluate_manually", {**detail, "missing": ev.baseline}))
        return
    detail.update({"baseline": baseline, "now": now_value})
    if now_value - baseline >= ev.worse_by:
        turn.log(CoachTaskDue("consider_referral", detail))
        if ev.tell_worse is not None:
            turn.say(Literal(ev.tell_worse.get(turn.lang)))
    elif now_value < ev.entry_cutoff and now_value < baseline:
        turn.log(CoachTaskDue("consider_ending", detail))
        if ev.tell_improving is not None:
            turn.say(Literal(ev.tell_improving.get(turn.lang)))


def check_entry(turn: Turn, programme: Programme, wave_id: str, values: dict[str, float]) -> None:
    """Seed 001's entry criterion at screening: a score below it is a coach task ("does not meet the entry
    criterion"), for the coach and the person to decide on together; the bot excludes nobody and says nothing.
    `values`: the scores of the questionnaire just answered in the wave."""
    entry = programme.entry_criterion
    if entry is None or entry.wave != wave_id:
        return
    key = f"{entry.flow}.{entry.score}"
    value = values.get(key)
    if value is not None and value < entry.at_least:
        turn.log(CoachTaskDue(ENTRY_NOT_MET, {"wave": wave_id, "score": key, "now": value, "at_least": entry.at_least}))
