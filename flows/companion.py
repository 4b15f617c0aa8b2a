"""The programme side of the engine: scheduled events, the programme's keywords, and what a finished
questionnaire means for the programme (the next questionnaire of a wave, the week-4 evaluation, a fall in
well-being, new exercise times).

Pure like the engine it belongs to: every decision is made from the programme, the state, the event and
`now`, and comes back as effects. A scheduled event always ends as exactly one `DueHandled`: sent, skipped
with a reason, or deferred to a later moment (quiet hours, the daily limit, a questionnaire in progress, a
coach's hold). Recurring reminders plan their next occurrence when handled, whatever became of this one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from flows import phrases
from flows.effects import (
    CancelPlans,
    CoachTaskDue,
    DataValue,
    DueHandled,
    Handling,
    Literal,
    Milestone,
    Plan,
    Prompt,
    PromptChoice,
    Send,
    ShowHistory,
)
from flows.inputs import Due
from flows.model import Flow
from flows.parsing import ProgrammeKeyword, ProgrammeWord
from flows.programme import Kind, Programme
from flows.risk import SAFETY_CHECK
from flows.scoring import scored
from flows.state import OFFER_LAPSES, Progress, Run
from flows.timing import (
    allowed_from,
    at_local,
    checkin_plan,
    exercise_plan,
    is_allowed,
    local,
    local_day,
    next_module_plan,
    nudge_plan,
    tre_summary_plan,
    wall,
    wave_close_plan,
    wave_reminder_plan,
)
from flows.tre import TRE_FLOW, log_flow

if TYPE_CHECKING:
    from flows.engine import _Turn

BUSY_RETRY = timedelta(hours=1)  # a questionnaire in progress: try again in an hour
HOLD_RETRY = timedelta(hours=6)  # a coach's hold, the safety check or an open measurement: try again later
FRESH_RUN = timedelta(hours=2)  # a questionnaire started this recently is being answered: do not interrupt
MAX_PAUSE_DAYS = 60
PROGRAMME_PROMPT = "programme"  # the prompt id of buttons that carry a programme keyword (any time valid)
STARTS_FLOW = frozenset({Kind.WAVE_OPEN, Kind.WAVE_REMIND, Kind.CHECKIN})  # these start a questionnaire


# -- scheduled events ---------------------------------------------------------------------------------------


def on_due(turn: _Turn, due: Due) -> None:
    programme = turn.flows.programme
    if programme is None:  # a broken programme file: wait for the fix, never end a participant's reminders
        _handled(turn, Handling.DEFERRED, "no usable programme file", turn.now + BUSY_RETRY)
        return
    progress = turn.state.progress
    if progress.start is None and "start" in due.data:
        _set_progress(turn, replace(progress, start=str(due.data["start"])))
    if due.kind == Kind.WAVE_CLOSE:  # bookkeeping, never a message: no gates
        _close_wave(turn, programme, due)
        return
    reason = "no active address to reach the participant" if due.reach == "unreachable" else None
    reason = reason or _skip_reason(turn, programme, due)
    if reason is not None:
        _handled(turn, Handling.SKIPPED, reason)
        _plan_next(turn, programme, due)
        return
    later = _defer_until(turn, programme, due)
    if later is None and due.reach == "unlinked":  # enrolled for Telegram, invite link not opened yet
        later = allowed_from(programme, turn.now + HOLD_RETRY), "not linked yet"
    if later is not None:
        _handled(turn, Handling.DEFERRED, later[1], later[0])
        return
    handler = _HANDLERS.get(due.kind)
    if handler is None:
        _handled(turn, Handling.SKIPPED, f"unknown kind {due.kind!r}")
        return
    handler(turn, programme, due)
    _plan_next(turn, programme, due)


def _handled(turn: _Turn, handling: Handling, reason: str = "", until: datetime | None = None) -> None:
    turn.effects.append(DueHandled(handling, reason, until))


def _set_progress(turn: _Turn, progress: Progress) -> None:
    turn.state = replace(turn.state, progress=progress)


def _planned(due: Due) -> datetime:
    raw = due.data.get("planned")
    return datetime.fromisoformat(str(raw)) if raw else due.due_at


def _start(due: Due) -> date | None:
    raw = due.data.get("start")
    return date.fromisoformat(str(raw)) if raw else None


def _skip_reason(turn: _Turn, programme: Programme, due: Due) -> str | None:
    """Why this event is no use any more (it is then recorded as skipped), or None."""
    now, progress = turn.now, turn.state.progress
    next_release = str(due.data.get("next_release") or "")
    if due.kind in (Kind.MODULE, Kind.NUDGE) and next_release and now >= datetime.fromisoformat(next_release):
        return "replaced: the next module is out"
    planned = _planned(due)
    waited = progress.paused_until if progress.paused_until is not None else planned  # a pause postpones
    if now - max(planned, waited) > programme.late_limit(due.kind):
        return "too late: planned for " + planned.isoformat()
    if due.kind == Kind.EXERCISE and programme.exercises is not None and not _fits_times(programme, progress,
                                                                                          planned):
        return "replaced by the participant's chosen days and time"
    if due.kind in (Kind.MODULE, Kind.NUDGE) and int(due.data.get("module", 0)) in progress.modules_done:
        return "module already marked done"
    if due.kind == Kind.WAVE_REMIND and progress.wave != due.data.get("wave"):
        return "wave already answered or closed"
    if progress.stopped:
        return "reminders stopped by the participant"
    pausable = due.kind not in (Kind.MODULE, Kind.WAVE_OPEN)  # those wait for the pause to end instead
    if pausable and progress.paused_until is not None and now < progress.paused_until:
        return "paused by the participant"
    return None


def _defer_until(turn: _Turn, programme: Programme, due: Due) -> tuple[datetime, str] | None:
    """A later moment to try again, and why; None when it can be handled now."""
    now, state = turn.now, turn.state
    progress = state.progress
    if progress.paused_until is not None and now < progress.paused_until:  # in steps, so START is noticed soon
        return allowed_from(programme, min(progress.paused_until, now + HOLD_RETRY)), "paused by the participant"
    if not is_allowed(programme, now):
        return allowed_from(programme, now), "quiet hours"
    today = local_day(programme, now).isoformat()
    if progress.sent_day == today and progress.sent_count >= programme.max_per_day:
        tomorrow = local_day(programme, now) + timedelta(days=1)
        return allowed_from(programme, wall(programme, tomorrow, time.min)), "daily limit reached"
    offer_open = state.offered_at is not None and now - state.offered_at < OFFER_LAPSES
    if state.hold or offer_open or (state.run is not None and state.run.flow_id == SAFETY_CHECK):
        return allowed_from(programme, now + HOLD_RETRY), "safety path open"
    if state.consent_needed is not None and due.kind not in (Kind.WAVE_OPEN, Kind.WAVE_REMIND):
        return allowed_from(programme, now + HOLD_RETRY), "terms not accepted yet"  # a measurement asks for them
    run = state.run
    if run is None:
        return None
    wave_flow = progress.wave_flows[0] if progress.wave_flows else None
    own = due.kind == Kind.WAVE_REMIND and run.flow_id == wave_flow
    if own:
        return None
    if not run.paused and now - run.active_at < FRESH_RUN:
        return allowed_from(programme, now + BUSY_RETRY), "a questionnaire is being answered"
    if due.kind in STARTS_FLOW and run.flow_id == wave_flow:  # never throw away an unfinished measurement
        return allowed_from(programme, now + HOLD_RETRY), "a measurement is still open"
    return None  # an idle questionnaire of days ago gives way (its answers so far are kept)


def _count_sent(turn: _Turn, programme: Programme) -> None:
    progress = turn.state.progress
    today = local_day(programme, turn.now).isoformat()
    count = progress.sent_count + 1 if progress.sent_day == today else 1
    _set_progress(turn, replace(progress, sent_day=today, sent_count=count))
    _handled(turn, Handling.SENT)


def _fill(text: str, **values: str | int) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _module(turn: _Turn, programme: Programme, due: Due) -> None:
    number = int(due.data.get("module", 0))
    module = programme.module(number)
    if module is None:
        _handled(turn, Handling.SKIPPED, f"module {number} is no longer in the programme")
        return
    title = module.title.get(turn.lang)
    text = _fill(module.reminder.get(turn.lang), number=number, title=title, link=module.link)
    turn.say(Literal(text), prompt=_done_button(turn, number))
    progress = turn.state.progress
    _set_progress(turn, replace(progress, released=tuple(sorted({*progress.released, number}))))
    start = _start(due)
    nudge = nudge_plan(programme, start, number, turn.now) if start else None
    if nudge is not None:
        turn.effects.append(nudge)
    _count_sent(turn, programme)


def _nudge(turn: _Turn, programme: Programme, due: Due) -> None:
    number = int(due.data.get("module", 0))
    title = _module_title(turn, programme, number) or str(number)
    turn.say(turn.phrase(phrases.MODULE_NUDGE, number=number, title=title), prompt=_done_button(turn, number))
    _count_sent(turn, programme)


def _module_title(turn: _Turn, programme: Programme, number: int) -> str:
    module = programme.module(number)
    return module.title.get(turn.lang) if module else ""


def _done_button(turn: _Turn, number: int) -> Prompt:
    return _buttons(PromptChoice(f"FÆRDIG {number}", turn.phrase(phrases.DONE_BUTTON, number=number)))


def _exercise(turn: _Turn, programme: Programme, due: Due) -> None:
    exercises = programme.exercises
    if exercises is None:
        _handled(turn, Handling.SKIPPED, "no exercise reminders in the programme")
        return
    released = turn.state.progress.released
    number = max(released) if released else (programme.modules[0].number if programme.modules else 1)
    title = _module_title(turn, programme, number)
    turn.say(Literal(_fill(exercises.text.get(turn.lang), number=number, title=title)),
             prompt=_buttons(PromptChoice("TRE", turn.phrase(phrases.TRE_BUTTON))))
    _count_sent(turn, programme)


def _wave_open(turn: _Turn, programme: Programme, due: Due) -> None:
    wave = programme.wave(str(due.data.get("wave", "")))
    if wave is None:
        _handled(turn, Handling.SKIPPED, "wave no longer in the programme")
        return
    progress = turn.state.progress
    if progress.wave is not None and progress.wave != wave.id:  # the older wave was never finished
        _miss_wave(turn, progress.wave)
    flows = tuple(f for f in wave.flows if turn.flows.latest(f) is not None)
    _set_progress(turn, replace(turn.state.progress, wave=wave.id, wave_flows=flows))
    turn.effects.append(Milestone("wave_started", wave.id))
    turn.say(Literal(wave.intro.get(turn.lang)))
    if flows:
        turn.start(flows[0])
    start = _start(due)
    reminder = wave_reminder_plan(programme, start, wave.id, 1, turn.now) if start else None
    if reminder is not None:
        turn.effects.append(reminder)
    _count_sent(turn, programme)


def _wave_remind(turn: _Turn, programme: Programme, due: Due) -> None:
    wave = programme.wave(str(due.data.get("wave", "")))
    progress = turn.state.progress
    if wave is None or not progress.wave_flows:
        _handled(turn, Handling.SKIPPED, "nothing left to answer in the wave")
        return
    turn.say(Literal(wave.reminder.get(turn.lang)))
    current, run = progress.wave_flows[0], turn.state.run
    if run is not None and run.flow_id == current:
        turn.resume(run)
    else:
        turn.start(current)
    number = int(due.data.get("n", 1))
    start = _start(due)
    following = wave_reminder_plan(programme, start, wave.id, number + 1, turn.now) if start else None
    if following is not None:
        turn.effects.append(following)
    _count_sent(turn, programme)


def _close_wave(turn: _Turn, programme: Programme, due: Due) -> None:
    wave_id = str(due.data.get("wave", ""))
    progress = turn.state.progress
    if wave_id in progress.waves_done:
        _handled(turn, Handling.SKIPPED, "answered")
    elif wave_id in progress.waves_missed:  # recorded when the next wave opened over it
        _handled(turn, Handling.SKIPPED, "already recorded as missed")
    elif progress.wave == wave_id:
        _miss_wave(turn, wave_id)
        _handled(turn, Handling.SENT, "closed as missed")
    else:
        _miss_wave(turn, wave_id, was_open=False)
        _handled(turn, Handling.SENT, "closed as missed (never started)")


def _miss_wave(turn: _Turn, wave_id: str, was_open: bool = True) -> None:
    """Record a wave as missed (visible in reports) and tell the coach; no message to the person."""
    progress = turn.state.progress
    left = progress.wave_flows if progress.wave == wave_id else ()
    turn.effects.append(Milestone("wave_missed", wave_id, {"unanswered": ",".join(left)}))
    turn.effects.append(CoachTaskDue("wave_missed", {"wave": wave_id, "started": int(was_open)}))
    missed = (*progress.waves_missed, wave_id)
    if progress.wave == wave_id:
        _set_progress(turn, replace(progress, wave=None, wave_flows=(), waves_missed=missed))
    else:
        _set_progress(turn, replace(progress, waves_missed=missed))


def _checkin(turn: _Turn, programme: Programme, due: Due) -> None:
    checkin = programme.checkin
    if checkin is None or turn.flows.latest(checkin.flow) is None:
        _handled(turn, Handling.SKIPPED, "no check-in flow")
        return
    turn.start(checkin.flow)
    _count_sent(turn, programme)


def _tre_summary(turn: _Turn, programme: Programme, due: Due) -> None:
    summary = programme.tre_summary
    if summary is None:
        _handled(turn, Handling.SKIPPED, "no TRE summary in the programme")
        return
    if not int(due.data.get("logged", 0)):  # the scheduler counts the week's sessions when it claims the row
        _handled(turn, Handling.SKIPPED, "nothing logged this week")
        return
    turn.effects.append(ShowHistory(summary.flow, weekly=True))
    _count_sent(turn, programme)


_HANDLERS = {
    Kind.MODULE: _module,
    Kind.NUDGE: _nudge,
    Kind.EXERCISE: _exercise,
    Kind.WAVE_OPEN: _wave_open,
    Kind.WAVE_REMIND: _wave_remind,
    Kind.CHECKIN: _checkin,
    Kind.TRE_SUMMARY: _tre_summary,
}


def _plan_next(turn: _Turn, programme: Programme, due: Due) -> None:
    """What follows on from this event: the next occurrence of a recurring reminder (counted from when this one
    was planned, so a deferral never shifts the rhythm, but never in the past), the next module, the wave's
    closing."""
    start = _start(due)
    if start is None:
        return
    following: Plan | None = None
    if due.kind == Kind.EXERCISE and programme.exercises is not None:  # one a day: the next day at the earliest
        days, at = exercise_times(programme, turn.state.progress)
        following = exercise_plan(programme, start, days, at, max(_end_of_day(programme, _planned(due)), turn.now))
        _set_progress(turn, replace(turn.state.progress, exercise_day=local_day(programme, _planned(due)).isoformat()))
    elif due.kind == Kind.CHECKIN:
        following = checkin_plan(programme, start, int(due.data.get("n", 1)) + 1)
    elif due.kind == Kind.TRE_SUMMARY:
        following = tre_summary_plan(programme, start, max(_planned(due), turn.now))
    elif due.kind == Kind.MODULE:  # sent or skipped, the next module follows on its own day
        following = next_module_plan(programme, start, int(due.data.get("module", 0)))
    elif due.kind == Kind.WAVE_OPEN:  # opened or not, the wave closes (answered, or recorded as missed)
        following = wave_close_plan(programme, start, str(due.data.get("wave", "")))
    if following is not None:
        turn.effects.append(following)


def _fits_times(programme: Programme, progress: Progress, planned: datetime) -> bool:
    """Whether an exercise reminder planned for `planned` is on the participant's days at their time."""
    days, at = exercise_times(programme, progress)
    here = local(programme, planned)
    return here.weekday() in days and at_local(programme, here.date(), at) == planned


def _end_of_day(programme: Programme, moment: datetime) -> datetime:
    return wall(programme, local_day(programme, moment) + timedelta(days=1), time.min)


def exercise_times(programme: Programme, progress: Progress) -> tuple[tuple[int, ...], time]:
    exercises = programme.exercises
    assert exercises is not None
    days = progress.exercise_days if progress.exercise_days is not None else exercises.default_days
    at = time.fromisoformat(progress.exercise_time) if progress.exercise_time else exercises.default_time
    return days, at


def _buttons(*choices: PromptChoice) -> Prompt:
    """Buttons that carry a programme keyword: valid whatever question the person is on."""
    return Prompt(PROGRAMME_PROMPT, 0, 0, PROGRAMME_PROMPT, tuple(choices), list_choices=False)


# -- the programme's keywords -------------------------------------------------------------------------------


def on_keyword(turn: _Turn, keyword: ProgrammeKeyword, spoken: str) -> None:
    """FÆRDIG, TRE, MINE, TIDER, PAUSE <days>, START. A keyword that would start a questionnaire waits
    until the one in progress is answered or stopped (starting it would throw the other away)."""
    programme = turn.flows.programme
    if keyword.word not in (ProgrammeWord.TRE, ProgrammeWord.TIMES):
        _answer_keyword(turn, programme, keyword)
        run = turn.state.run
        if run is not None and not run.paused:  # then back to the question they are on (with its buttons)
            turn.ask_again(run)
        return
    flow_id = TRE_FLOW
    if keyword.word is ProgrammeWord.TIMES:
        flow_id = programme.exercises.plan_flow if programme and programme.exercises else "exercise_plan"
    _start_on_request(turn, flow_id, spoken)


def _answer_keyword(turn: _Turn, programme: Programme | None, keyword: ProgrammeKeyword) -> None:
    match keyword.word:
        case ProgrammeWord.DONE:
            _mark_done(turn, programme, keyword.number)
        case ProgrammeWord.MINE:
            turn.effects.append(ShowHistory(log_flow(programme)))
        case ProgrammeWord.PAUSE_DAYS:
            days = keyword.number or 0
            if not 1 <= days <= MAX_PAUSE_DAYS:
                turn.say(turn.phrase(phrases.PAUSE_DAYS_RANGE, max_days=MAX_PAUSE_DAYS))
                return
            _set_progress(turn, replace(turn.state.progress, paused_until=turn.now + timedelta(days=days)))
            turn.say(turn.phrase(phrases.REMINDERS_PAUSED, days=days) if days > 1
                     else turn.phrase(phrases.REMINDERS_PAUSED_ONE_DAY))
        case ProgrammeWord.START:
            progress = turn.state.progress
            if not progress.stopped and (progress.paused_until is None or progress.paused_until <= turn.now):
                turn.say(turn.phrase(phrases.REMINDERS_ALREADY_ON))
                return
            _set_progress(turn, replace(progress, stopped=False, paused_until=None))
            turn.say(turn.phrase(phrases.REMINDERS_ON))


def reminders_on(turn: _Turn) -> None:
    """Opted in again on a channel: STOP and a pause are undone, without a message of its own."""
    _set_progress(turn, replace(turn.state.progress, stopped=False, paused_until=None))


def stop_reminders(turn: _Turn) -> None:
    """STOP outside a questionnaire: no more bot-initiated messages until START."""
    _set_progress(turn, replace(turn.state.progress, stopped=True))
    turn.say(turn.phrase(phrases.REMINDERS_STOPPED))


def _start_on_request(turn: _Turn, flow_id: str, spoken: str) -> None:
    run = turn.state.run
    if run is not None:
        turn.say(turn.phrase(phrases.PAUSED_RUN_FIRST if run.paused else phrases.FINISH_FIRST, keyword=spoken))
        if not run.paused:
            turn.ask_again(run)
        return
    if not turn.start(flow_id):
        turn.say(turn.phrase(phrases.NOT_NOW_COACH))


def _mark_done(turn: _Turn, programme: Programme | None, number: int | None) -> None:
    if programme is None or not programme.modules:
        turn.say(turn.phrase(phrases.NO_RUN))
        return
    progress = turn.state.progress
    total = len(programme.modules)
    if number is None:
        open_modules = [n for n in progress.released if n not in progress.modules_done]
        if len(open_modules) != 1:
            turn.say(turn.phrase(phrases.MODULE_WHICH))
            return
        number = open_modules[0]
    if programme.module(number) is None:
        turn.say(turn.phrase(phrases.MODULE_NO_SUCH, number=number, total=total))
        return
    if number in progress.modules_done:
        turn.say(turn.phrase(phrases.MODULE_ALREADY_DONE, number=number))
        return
    done = tuple(sorted({*progress.modules_done, number}))
    _set_progress(turn, replace(progress, modules_done=done))
    turn.effects.append(Milestone("module_done", str(number)))
    turn.say(turn.phrase(phrases.MODULE_DONE, number=number, finished=len(done), total=total))


# -- when a questionnaire is finished -----------------------------------------------------------------------


def raise_tasks(turn: _Turn, flow: Flow, run: Run) -> Run:
    """The flow's task rules that now hold raise their coach task, once per run."""
    lookup = turn.lookup(flow, run)
    for rule in flow.task_rules:
        if rule.kind not in run.tasks and rule.condition.holds(lookup):
            turn.effects.append(CoachTaskDue(rule.kind, {"flow_id": flow.id, "run_seq": run.seq,
                                                         "rule": rule.condition.text}))
            run = replace(run, tasks=(*run.tasks, rule.kind))
    return run


def after_completion(turn: _Turn, flow: Flow, run: Run, numeric: dict[str, float]) -> None:
    programme = turn.flows.programme
    if programme is None:
        return
    if programme.exercises is not None and flow.id == programme.exercises.plan_flow:
        _new_exercise_times(turn, programme, numeric)
    if programme.checkin is not None and flow.id == programme.checkin.flow:
        _checked_in(turn, programme, numeric)
    progress = turn.state.progress
    if progress.wave is not None and progress.wave_flows and progress.wave_flows[0] == flow.id:
        _wave_step_done(turn, programme, flow, run, numeric)


def _new_exercise_times(turn: _Turn, programme: Programme, numeric: dict[str, float]) -> None:
    exercises = programme.exercises
    assert exercises is not None
    days = exercises.day_options.get(int(numeric.get(exercises.days_item, -1)))
    at = exercises.time_options.get(int(numeric.get(exercises.time_item, -1)))
    if days is None:
        return
    progress = turn.state.progress
    chosen = at.isoformat(timespec="minutes") if at else progress.exercise_time
    _set_progress(turn, replace(progress, exercise_days=days, exercise_time=chosen))
    if progress.start is None:  # before the programme starts: its first exercise reminder adapts when it comes
        return
    turn.effects.append(CancelPlans((Kind.EXERCISE,)))
    after = turn.now
    if progress.exercise_day == local_day(programme, turn.now).isoformat():  # one reminder a day
        after = _end_of_day(programme, turn.now)
    days_now, at_now = exercise_times(programme, turn.state.progress)
    following = exercise_plan(programme, date.fromisoformat(progress.start), days_now, at_now, after)
    if following is not None:
        turn.effects.append(following)


def _checked_in(turn: _Turn, programme: Programme, numeric: dict[str, float]) -> None:
    checkin = programme.checkin
    assert checkin is not None
    value = numeric.get(checkin.item)
    if value is None:
        return
    progress = turn.state.progress
    if progress.last_checkin is not None and progress.last_checkin - value >= checkin.fall_alert:
        turn.effects.append(CoachTaskDue("wellbeing_fall", {"from": progress.last_checkin, "to": value}))
    _set_progress(turn, replace(progress, last_checkin=value))


def _wave_step_done(turn: _Turn, programme: Programme, flow: Flow, run: Run, numeric: dict[str, float]) -> None:
    progress = turn.state.progress
    wave_id = progress.wave
    assert wave_id is not None
    values = {f"{flow.id}.{score_id}": value for score_id, (value, _) in scored(flow, numeric).items()}
    scores = {**progress.wave_scores, wave_id: {**progress.wave_scores.get(wave_id, {}), **values}}
    left = progress.wave_flows[1:]
    turn.effects.append(Milestone("wave_run", wave_id, {"flow_id": flow.id, "run_seq": run.seq}))
    if left:
        _set_progress(turn, replace(progress, wave_scores=scores, wave_flows=left))
        before = len(turn.effects)
        if turn.start(left[0]):  # not when the safety path comes first: a reminder restarts it later
            turn.effects.insert(before, Send((turn.phrase(phrases.WAVE_NEXT),)))
        return
    _set_progress(turn, replace(progress, wave_scores=scores, wave_flows=(), wave=None,
                                waves_done=(*progress.waves_done, wave_id)))
    turn.effects.append(Milestone("wave_done", wave_id))
    turn.say(turn.phrase(phrases.WAVE_FINISHED))
    _evaluate(turn, programme, wave_id)
    first = min(programme.waves, key=lambda w: w.day, default=None)
    state = turn.state
    if (programme.exercises is not None and first is not None and first.id == wave_id
            and state.progress.exercise_days is None and not state.hold and state.offered_at is None):
        turn.start(programme.exercises.plan_flow)  # asked at the start: when would you like the reminders?


def _evaluate(turn: _Turn, programme: Programme, wave_id: str) -> None:
    """Seed 002's week-4 evaluation, as coach tasks; the person hears only what the programme file says."""
    ev = programme.evaluation
    if ev is None or ev.wave != wave_id:
        return
    key = f"{ev.flow}.{ev.score}"
    scores = turn.state.progress.wave_scores
    now_value, baseline = scores.get(ev.wave, {}).get(key), scores.get(ev.baseline, {}).get(key)
    detail: dict[str, DataValue] = {"wave": ev.wave, "score": key}
    if now_value is None or baseline is None:
        turn.effects.append(CoachTaskDue("evaluate_manually", {**detail, "missing": ev.baseline}))
        return
    detail.update({"baseline": baseline, "now": now_value})
    if now_value - baseline >= ev.worse_by:
        turn.effects.append(CoachTaskDue("consider_referral", detail))
        if ev.tell_worse is not None:
            turn.say(Literal(ev.tell_worse.get(turn.lang)))
    elif now_value < ev.entry_cutoff and now_value < baseline:
        turn.effects.append(CoachTaskDue("consider_ending", detail))
        if ev.tell_improving is not None:
            turn.say(Literal(ev.tell_improving.get(turn.lang)))

