"""The programme's own messages: a phase begun, a module released, a nudge to finish it, the exercise reminder, the
weekly check-in and TRE summary; and what every scheduled event shares (`handled`, `count_sent`, the programme's
buttons).

Decisions on the `Turn` API (flows/turn.py), called by `flows.due` when the event's gates let it through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from flows import phrases, runs
from flows.asking import PROGRAMME_BUTTONS, PROGRAMME_PROMPT, prompt
from flows.effects import DueHandled, Handling, Literal, Prompt, PromptChoice, ShowHistory
from flows.inputs import Due
from flows.programme import Programme
from flows.state import Progress
from flows.timing import local_day, nudge_plan, wall
from flows.turn import Turn


def handled(turn: Turn, handling: Handling, reason: str = "", until: datetime | None = None) -> None:
    turn.log(DueHandled(handling, reason, until))


def planned(due: Due) -> datetime:
    raw = due.data.get("planned")
    return datetime.fromisoformat(str(raw)) if raw else due.due_at


def start_date(due: Due) -> date | None:
    raw = due.data.get("start")
    return date.fromisoformat(str(raw)) if raw else None


def count_sent(turn: Turn, programme: Programme) -> None:
    progress = turn.state.progress
    today = local_day(programme, turn.now).isoformat()
    count = progress.sent_count + 1 if progress.sent_day == today else 1
    turn.set_progress(replace(progress, sent_day=today, sent_count=count))
    handled(turn, Handling.SENT)


def fill(text: str, **values: str | int) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def send_module(turn: Turn, programme: Programme, due: Due) -> None:
    number = int(due.data.get("module", 0))
    module = programme.module(number)
    if module is None:
        handled(turn, Handling.SKIPPED, f"module {number} is no longer in the programme")
        return
    title = module.title.get(turn.lang)
    text = fill(module.reminder.get(turn.lang), number=number, title=title, link=module.link)
    turn.say(Literal(text), prompt=done_button(turn, number))
    progress = turn.state.progress
    turn.set_progress(replace(progress, released=tuple(sorted({*progress.released, number}))))
    start = start_date(due)
    nudge = nudge_plan(programme, start, number, turn.now) if start else None
    if nudge is not None:
        turn.log(nudge)
    count_sent(turn, programme)


def send_phase(turn: Turn, programme: Programme, due: Due) -> None:
    phase = programme.phase(str(due.data.get("phase", "")))
    if phase is None:
        handled(turn, Handling.SKIPPED, "phase no longer in the programme")
        return
    turn.say(Literal(phase.text.get(turn.lang)))
    count_sent(turn, programme)


def send_nudge(turn: Turn, programme: Programme, due: Due) -> None:
    number = int(due.data.get("module", 0))
    title = module_title(turn, programme, number) or str(number)
    turn.say(turn.phrase(phrases.MODULE_NUDGE, number=number, title=title), prompt=done_button(turn, number))
    count_sent(turn, programme)


def module_title(turn: Turn, programme: Programme, number: int) -> str:
    module = programme.module(number)
    return module.title.get(turn.lang) if module else ""


def done_button(turn: Turn, number: int) -> Prompt:
    return buttons(PromptChoice(f"FÆRDIG {number}", turn.phrase(phrases.DONE_BUTTON, number=number)))


def send_exercise(turn: Turn, programme: Programme, due: Due) -> None:
    exercises = programme.exercises
    if exercises is None:
        handled(turn, Handling.SKIPPED, "no exercise reminders in the programme")
        return
    released = turn.state.progress.released
    number = max(released) if released else (programme.modules[0].number if programme.modules else 1)
    title = module_title(turn, programme, number)
    turn.say(Literal(fill(exercises.text.get(turn.lang), number=number, title=title)),
             prompt=buttons(PromptChoice("TRE", turn.phrase(phrases.TRE_BUTTON))))
    count_sent(turn, programme)


def start_checkin(turn: Turn, programme: Programme, due: Due) -> None:
    checkin = programme.checkin
    if checkin is None or turn.flows.latest(checkin.flow) is None:
        handled(turn, Handling.SKIPPED, "no check-in flow")
        return
    runs.start(turn, checkin.flow)
    count_sent(turn, programme)


def send_tre_summary(turn: Turn, programme: Programme, due: Due) -> None:
    summary = programme.tre_summary
    if summary is None:
        handled(turn, Handling.SKIPPED, "no TRE summary in the programme")
        return
    if not int(due.data.get("logged", 0)):  # the scheduler counts the week's sessions when it claims the row
        handled(turn, Handling.SKIPPED, "nothing logged this week")
        return
    turn.log(ShowHistory(summary.flow, weekly=True))
    count_sent(turn, programme)


def end_of_day(programme: Programme, moment: datetime) -> datetime:
    return wall(programme, local_day(programme, moment) + timedelta(days=1), time.min)


def exercise_times(programme: Programme, progress: Progress) -> tuple[tuple[int, ...], time]:
    exercises = programme.exercises
    assert exercises is not None
    days = progress.exercise_days if progress.exercise_days is not None else exercises.default_days
    at = time.fromisoformat(progress.exercise_time) if progress.exercise_time else exercises.default_time
    return days, at


def buttons(*choices: PromptChoice) -> Prompt:
    """Buttons that carry a programme keyword: valid whatever question the person is on."""
    return prompt(PROGRAMME_BUTTONS, PROGRAMME_PROMPT, 0, choices, list_choices=False)
