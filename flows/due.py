"""Scheduled programme events: whether one is still of use (else skipped, with the reason), whether now is the
moment (else deferred: quiet hours, the daily limit, a questionnaire in progress, a coach's hold), then its
handler, and what follows on from it.

Pure like the engine it belongs to: every decision is made from the programme, the state, the event and
`now`, and comes back as effects. A scheduled event always ends as exactly one `DueHandled`: sent, skipped
with a reason, or deferred to a later moment. Recurring reminders plan their next occurrence when handled,
whatever became of this one. The handlers are `flows.reminders` and `flows.waves`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta

from flows import appointments
from flows.effects import Handling, Plan
from flows.inputs import Due
from flows.programme import Kind, Programme
from flows.reminders import (
    end_of_day,
    exercise_times,
    handled,
    planned,
    send_exercise,
    send_module,
    send_nudge,
    send_phase,
    send_tre_summary,
    start_checkin,
    start_date,
)
from flows.risk import SAFETY_CHECK
from flows.state import COACH_STOP, OFFER_LAPSES, Progress
from flows.timing import (
    allowed_from,
    at_local,
    checkin_plan,
    exercise_plan,
    is_allowed,
    local,
    local_day,
    next_module_plan,
    tre_summary_plan,
    wall,
    wave_close_plan,
)
from flows.turn import Turn
from flows.waves import close_wave, wave_open, wave_remind

BUSY_RETRY = timedelta(hours=1)  # a questionnaire in progress: try again in an hour
HOLD_RETRY = timedelta(hours=6)  # a coach's hold, the safety check or an open measurement: try again later
FRESH_RUN = timedelta(hours=2)  # a questionnaire started this recently is being answered: do not interrupt
STARTS_FLOW = frozenset({Kind.WAVE_OPEN, Kind.WAVE_REMIND, Kind.CHECKIN})  # these start a questionnaire
SKIPPED_BY = "skipped_by"  # in a scheduled event's data: the coach who said "not this one" (the desk)


# -- scheduled events ---------------------------------------------------------------------------------------


def on_due(turn: Turn, due: Due) -> None:
    programme = turn.flows.programme
    if programme is None:  # a broken programme file: wait for the fix, never end a participant's reminders
        handled(turn, Handling.DEFERRED, "no usable programme file", turn.now + BUSY_RETRY)
        return
    progress = turn.state.progress
    if progress.start is None and "start" in due.data:
        turn.set_progress(replace(progress, start=str(due.data["start"])))
    if due.kind == Kind.WAVE_CLOSE:  # bookkeeping, never a message: no gates
        close_wave(turn, programme, due)
        return
    if due.kind == Kind.APPOINTMENT:  # its own gates: quiet hours, but no daily limit (flows/appointments.py)
        appointments.on_reminder(turn, programme, due)
        return
    reason = "no active address to reach the participant" if due.reach == "unreachable" else None
    reason = reason or _skip_reason(turn, programme, due)
    if reason is not None:
        handled(turn, Handling.SKIPPED, reason)
        _plan_next(turn, programme, due)
        return
    later = _defer_until(turn, programme, due)
    if later is None and due.reach == "unlinked":  # enrolled for Telegram, invite link not opened yet
        later = allowed_from(programme, turn.now + HOLD_RETRY), "not linked yet"
    if later is not None:
        handled(turn, Handling.DEFERRED, later[1], later[0])
        return
    handler = _HANDLERS.get(due.kind)
    if handler is None:
        handled(turn, Handling.SKIPPED, f"unknown kind {due.kind!r}")
        return
    handler(turn, programme, due)
    _plan_next(turn, programme, due)


def _skip_reason(turn: Turn, programme: Programme, due: Due) -> str | None:
    """Why this event is no use any more (it is then recorded as skipped), or None."""
    now, progress = turn.now, turn.state.progress
    next_release = str(due.data.get("next_release") or "")
    if due.kind in (Kind.MODULE, Kind.NUDGE) and next_release and now >= datetime.fromisoformat(next_release):
        return "replaced: the next module is out"
    if due.data.get(SKIPPED_BY):
        return "skipped by a coach"
    planned_at = planned(due)
    waited = progress.pause_end(now) or planned_at  # a pause postpones
    if now - max(planned_at, waited) > programme.late_limit(due.kind):
        return "too late: planned for " + planned_at.isoformat()
    if due.kind == Kind.EXERCISE and programme.exercises is not None and not _fits_times(programme, progress,
                                                                                          planned_at):
        return "replaced by the participant's chosen days and time"
    if due.kind in (Kind.MODULE, Kind.NUDGE) and int(due.data.get("module", 0)) in progress.modules_done:
        return "module already marked done"
    if due.kind == Kind.WAVE_REMIND and progress.wave != due.data.get("wave"):
        return "wave already answered or closed"
    if progress.stopped:
        return "reminders stopped by the participant"
    if progress.coach_hold == COACH_STOP:
        return "stopped by a coach"
    pausable = due.kind not in (Kind.MODULE, Kind.WAVE_OPEN, Kind.PHASE)  # those wait for the pause to end instead
    if pausable and progress.paused_until is not None and now < progress.paused_until:
        return "paused by the participant"
    if pausable and progress.coach_paused(now):
        return "paused by a coach"
    return None


def _defer_until(turn: Turn, programme: Programme, due: Due) -> tuple[datetime, str] | None:
    """A later moment to try again, and why; None when it can be handled now."""
    now, state = turn.now, turn.state
    progress = state.progress
    if progress.paused_until is not None and now < progress.paused_until:  # in steps, so START is noticed soon
        return allowed_from(programme, min(progress.paused_until, now + HOLD_RETRY)), "paused by the participant"
    if progress.coach_paused(now):  # in steps, so a coach's resume is noticed soon
        until = progress.coach_until or now + HOLD_RETRY
        return allowed_from(programme, min(until, now + HOLD_RETRY)), "paused by a coach"
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


_HANDLERS: dict[str, Callable[[Turn, Programme, Due], None]] = {
    Kind.MODULE: send_module,
    Kind.NUDGE: send_nudge,
    Kind.EXERCISE: send_exercise,
    Kind.WAVE_OPEN: wave_open,
    Kind.WAVE_REMIND: wave_remind,
    Kind.CHECKIN: start_checkin,
    Kind.TRE_SUMMARY: send_tre_summary,
    Kind.PHASE: send_phase,
}


def _plan_next(turn: Turn, programme: Programme, due: Due) -> None:
    """What follows on from this event: the next occurrence of a recurring reminder (counted from when this one
    was planned, so a deferral never shifts the rhythm, but never in the past), the next module, the wave's
    closing."""
    start = start_date(due)
    if start is None:
        return
    following: Plan | None = None
    if due.kind == Kind.EXERCISE and programme.exercises is not None:  # one a day: the next day at the earliest
        days, at = exercise_times(programme, turn.state.progress)
        following = exercise_plan(programme, start, days, at, max(end_of_day(programme, planned(due)), turn.now))
        turn.set_progress(replace(turn.state.progress, exercise_day=local_day(programme, planned(due)).isoformat()))
    elif due.kind == Kind.CHECKIN:
        following = checkin_plan(programme, start, int(due.data.get("n", 1)) + 1)
    elif due.kind == Kind.TRE_SUMMARY:
        following = tre_summary_plan(programme, start, max(planned(due), turn.now))
    elif due.kind == Kind.MODULE:  # sent or skipped, the next module follows on its own day
        following = next_module_plan(programme, start, int(due.data.get("module", 0)))
    elif due.kind == Kind.WAVE_OPEN:  # opened or not, the wave closes (answered, or recorded as missed)
        following = wave_close_plan(programme, start, str(due.data.get("wave", "")))
    if following is not None:
        turn.log(following)


def _fits_times(programme: Programme, progress: Progress, planned_at: datetime) -> bool:
    """Whether an exercise reminder planned for `planned_at` is on the participant's days at their time."""
    days, at = exercise_times(programme, progress)
    here = local(programme, planned_at)
    return here.weekday() in days and at_local(programme, here.date(), at) == planned_at
