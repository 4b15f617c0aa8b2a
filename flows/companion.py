"""The programme side of a conversation: the programme's keywords (FÆRDIG, TRE, MINE, TIDER, PAUSE <days>,
START) and what a finished questionnaire means for the programme (the next questionnaire of a wave, the week-4
evaluation, a fall in well-being, new exercise times).

Decisions on the `Turn` API (flows/turn.py). The scheduled events are `flows.due`, their messages
`flows.reminders` and `flows.waves`; `PROGRAMME_PROMPT` (the programme's buttons) is named in `flows.asking`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from flows import phrases, runs
from flows.asking import PROGRAMME_PROMPT
from flows.effects import CancelPlans, CoachTaskDue, Milestone, Phrase, ShowHistory
from flows.inputs import CoachPause
from flows.model import Flow
from flows.parsing import ProgrammeKeyword, ProgrammeWord
from flows.programme import Kind, Programme
from flows.questionnaire import ask_again
from flows.reminders import end_of_day, exercise_times
from flows.state import COACH_PAUSE, COACH_STOP, Run
from flows.timing import exercise_plan, local_day
from flows.tre import TRE_FLOW, log_flow
from flows.turn import Turn
from flows.waves import wave_step_done

__all__ = ["MAX_PAUSE_DAYS", "PROGRAMME_PROMPT", "after_completion", "coach_pause", "on_keyword", "reminders_on",
           "stop_reminders"]

MAX_PAUSE_DAYS = 60


# -- the programme's keywords -------------------------------------------------------------------------------

def has_content_for(programme: Programme, word: ProgrammeWord) -> bool:
    """Whether the participant's programme has what the word is about: FÆRDIG its modules, TRE and MINE its TRE
    exercises (their reminders or weekly summary), TIDER its exercise reminders. A programme without them (seed
    001's, a control arm's view) answers such a word as a word it does not know: another programme's words are not
    the participant's."""
    if word is ProgrammeWord.DONE:
        return bool(programme.modules)
    if word in (ProgrammeWord.TRE, ProgrammeWord.MINE):
        return programme.exercises is not None or programme.tre_summary is not None
    if word is ProgrammeWord.TIMES:
        return programme.exercises is not None
    return True


def help_lines(turn: Turn, programme: Programme) -> list[Phrase]:
    """The programme's words HELP lists: those the participant's programme has content for, then PAUSE and STOP."""
    shown = [(ProgrammeWord.TRE, phrases.HELP_PROGRAMME_TRE), (ProgrammeWord.DONE, phrases.HELP_PROGRAMME_DONE),
             (ProgrammeWord.TIMES, phrases.HELP_PROGRAMME_TIMES)]
    return [turn.phrase(phrases.HELP_PROGRAMME), *(turn.phrase(line) for word, line in shown
                                                   if has_content_for(programme, word)),
            turn.phrase(phrases.HELP_PROGRAMME_REMINDERS)]


def on_keyword(turn: Turn, keyword: ProgrammeKeyword, spoken: str) -> None:
    """FÆRDIG, TRE, MINE, TIDER, PAUSE <days>, START. A keyword that would start a questionnaire waits
    until the one in progress is answered or stopped (starting it would throw the other away)."""
    programme = turn.flows.programme
    if programme is not None and not has_content_for(programme, keyword.word):
        turn.say(turn.phrase(phrases.NO_RUN))  # e.g. the control arm has no modules, exercises or TRE log
        run = turn.state.run
        if run is not None and not run.paused:
            ask_again(turn, run)
        return
    if keyword.word not in (ProgrammeWord.TRE, ProgrammeWord.TIMES):
        _answer_keyword(turn, programme, keyword)
        run = turn.state.run
        if run is not None and not run.paused:  # then back to the question they are on (with its buttons)
            ask_again(turn, run)
        return
    flow_id = TRE_FLOW
    if keyword.word is ProgrammeWord.TIMES:
        flow_id = programme.exercises.plan_flow if programme and programme.exercises else "exercise_plan"
    _start_on_request(turn, flow_id, spoken)


def _answer_keyword(turn: Turn, programme: Programme | None, keyword: ProgrammeKeyword) -> None:
    match keyword.word:
        case ProgrammeWord.DONE:
            _mark_done(turn, programme, keyword.number)
        case ProgrammeWord.MINE:
            turn.log(ShowHistory(log_flow(programme)))
        case ProgrammeWord.PAUSE_DAYS:
            days = keyword.number or 0
            if not 1 <= days <= MAX_PAUSE_DAYS:
                turn.say(turn.phrase(phrases.PAUSE_DAYS_RANGE, max_days=MAX_PAUSE_DAYS))
                return
            turn.set_progress(replace(turn.state.progress, paused_until=turn.now + timedelta(days=days)))
            turn.say(turn.phrase(phrases.REMINDERS_PAUSED, days=days) if days > 1
                     else turn.phrase(phrases.REMINDERS_PAUSED_ONE_DAY))
        case ProgrammeWord.START:
            progress = turn.state.progress
            if not progress.stopped and (progress.paused_until is None or progress.paused_until <= turn.now):
                turn.say(turn.phrase(phrases.REMINDERS_ALREADY_ON))
                return
            turn.set_progress(replace(progress, stopped=False, paused_until=None))
            turn.say(turn.phrase(phrases.REMINDERS_ON))


def reminders_on(turn: Turn) -> None:
    """Opted in again on a channel: STOP and a pause are undone, without a message of its own."""
    turn.set_progress(replace(turn.state.progress, stopped=False, paused_until=None))


COACH_RESUME = "resume"


def coach_pause(turn: Turn, pause: CoachPause) -> None:
    """A coach pauses, stops or resumes the programme (flows/due.py keeps to it); the person's own PAUSE and STOP
    are left as they are (START lifts those, never a coach's). Kept as a milestone with the coach's reason."""
    progress = turn.state.progress
    if pause.action == COACH_RESUME:
        turn.set_progress(replace(progress, coach_hold=None, coach_until=turn.now))
    elif pause.action in (COACH_PAUSE, COACH_STOP):
        until = pause.until if pause.action == COACH_PAUSE else None
        turn.set_progress(replace(progress, coach_hold=pause.action, coach_until=until))
    else:
        return
    detail = {"reason": pause.reason, **({"until": pause.until.isoformat()} if pause.until else {})}
    turn.log(Milestone(f"coach_{pause.action}", pause.coach_id, detail))


def stop_reminders(turn: Turn) -> None:
    """STOP outside a questionnaire: no more bot-initiated messages until START."""
    turn.set_progress(replace(turn.state.progress, stopped=True))
    turn.say(turn.phrase(phrases.REMINDERS_STOPPED))


def _start_on_request(turn: Turn, flow_id: str, spoken: str) -> None:
    run = turn.state.run
    if run is not None:
        turn.say(turn.phrase(phrases.PAUSED_RUN_FIRST if run.paused else phrases.FINISH_FIRST, keyword=spoken))
        if not run.paused:
            ask_again(turn, run)
        return
    if not runs.start(turn, flow_id):
        turn.say(turn.phrase(phrases.NOT_NOW_COACH))


def _mark_done(turn: Turn, programme: Programme | None, number: int | None) -> None:
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
    turn.set_progress(replace(progress, modules_done=done))
    turn.log(Milestone("module_done", str(number)))
    turn.say(turn.phrase(phrases.MODULE_DONE, number=number, finished=len(done), total=total))


# -- when a questionnaire is finished -----------------------------------------------------------------------


def after_completion(turn: Turn, flow: Flow, run: Run, numeric: dict[str, float]) -> None:
    programme = turn.flows.programme
    if programme is None:
        return
    if programme.exercises is not None and flow.id == programme.exercises.plan_flow:
        _new_exercise_times(turn, programme, numeric)
    if programme.checkin is not None and flow.id == programme.checkin.flow:
        _checked_in(turn, programme, numeric)
    progress = turn.state.progress
    if progress.wave is not None and progress.wave_flows and progress.wave_flows[0] == flow.id:
        wave_step_done(turn, programme, flow, run, numeric)


def _new_exercise_times(turn: Turn, programme: Programme, numeric: dict[str, float]) -> None:
    exercises = programme.exercises
    assert exercises is not None
    days = exercises.day_options.get(int(numeric.get(exercises.days_item, -1)))
    at = exercises.time_options.get(int(numeric.get(exercises.time_item, -1)))
    if days is None:
        return
    progress = turn.state.progress
    chosen = at.isoformat(timespec="minutes") if at else progress.exercise_time
    turn.set_progress(replace(progress, exercise_days=days, exercise_time=chosen))
    if progress.start is None:  # before the programme starts: its first exercise reminder adapts when it comes
        return
    turn.log(CancelPlans((Kind.EXERCISE,)))
    after = turn.now
    if progress.exercise_day == local_day(programme, turn.now).isoformat():  # one reminder a day
        after = end_of_day(programme, turn.now)
    days_now, at_now = exercise_times(programme, turn.state.progress)
    following = exercise_plan(programme, date.fromisoformat(progress.start), days_now, at_now, after)
    if following is not None:
        turn.log(following)


def _checked_in(turn: Turn, programme: Programme, numeric: dict[str, float]) -> None:
    checkin = programme.checkin
    assert checkin is not None
    value = numeric.get(checkin.item)
    if value is None:
        return
    progress = turn.state.progress
    if progress.last_checkin is not None and progress.last_checkin - value >= checkin.fall_alert:
        turn.log(CoachTaskDue("wellbeing_fall", {"from": progress.last_checkin, "to": value}))
    turn.set_progress(replace(progress, last_checkin=value))
