"""What a start date in the past does the moment the participant is enrolled, said before anyone is enrolled.

The programme is planned from the start date (bot/scheduler.py), and the next tick handles everything already due
the way flows/due.py does after an outage: a measurement whose closing time has passed is recorded as missed at once
and gives the coach a task; one still open but opened longer ago than the programme's `late:` limit is not asked
any more and is recorded as missed when it closes; a module is skipped once the next one is out (or it is too late).
This module works that out from the same planning functions (flows/timing.py) and limits, so the administrator
reads in plain words what they are about to cause, instead of finding four "missed measurement" tasks afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flows.programme import Kind, Programme
from flows.timing import local_day, module_plan, wave_close_plan, wave_open_plan

MISSED_NOW = "missed_now"  # closed already: recorded as missed at enrolment, a coach task each
NOT_ASKED = "not_asked"  # opened too long ago to be asked: recorded as missed when it closes
ASKED_NOW = "asked_now"  # opened recently: the questionnaire goes out at once


@dataclass(frozen=True)
class WaveFate:
    wave: str
    day: int
    fate: str  # MISSED_NOW, NOT_ASKED or ASKED_NOW
    closes: datetime


@dataclass(frozen=True)
class PastStart:
    """The consequences of starting on `start` when it is already `today`."""

    start: date
    days_ago: int
    waves: tuple[WaveFate, ...]  # only the measurements whose day has come; in the programme's order
    modules_skipped: tuple[int, ...]  # never sent: their week is over
    first_module: int | None  # the module they get first (at once, or once they accepted the terms)

    def of(self, fate: str) -> list[WaveFate]:
        return [w for w in self.waves if w.fate == fate]

    @property
    def tasks(self) -> int:
        """The coach tasks made at once ("a measurement was not answered")."""
        return len(self.of(MISSED_NOW))

    def english(self) -> str:
        """For the command line, in one line (the desk says it in the administrator's language)."""
        said = [f"the start date {self.start.isoformat()} is {self.days_ago} days in the past"]
        if self.of(MISSED_NOW):
            said.append(f"the measurements {_named(self.of(MISSED_NOW))} would at once be recorded as missed, with "
                        f"{self.tasks} task(s) for the coach")
        if self.of(NOT_ASKED):
            said.append(f"{_named(self.of(NOT_ASKED))} would not be asked (too late) and are recorded as missed when "
                        "they close")
        if self.of(ASKED_NOW):
            said.append(f"{_named(self.of(ASKED_NOW))} would be asked at once")
        if self.modules_skipped:
            said.append(f"modules {', '.join(map(str, self.modules_skipped))} would never be sent"
                        + (f" (module {self.first_module} comes first)" if self.first_module else ""))
        return "; ".join(said)


def _named(waves: list[WaveFate]) -> str:
    return ", ".join(f"{w.wave} (day {w.day})" for w in waves)


def past_start(programme: Programme | None, start: date, now: datetime) -> PastStart | None:
    """None when `start` is not before today (the programme's local day); the consequences otherwise (without a
    programme file only how long ago it is: nothing is planned)."""
    today = local_day(programme, now) if programme is not None else now.date()
    if start >= today:
        return None
    days_ago = (today - start).days
    if programme is None:
        return PastStart(start, days_ago, (), (), None)
    waves: list[WaveFate] = []
    for wave in sorted(programme.waves, key=lambda w: w.day):
        opening, closing = wave_open_plan(programme, start, wave.id), wave_close_plan(programme, start, wave.id)
        if opening is None or closing is None or opening.due_at > now:
            continue
        if closing.due_at <= now:
            fate = MISSED_NOW
        elif now - opening.due_at > programme.late_limit(Kind.WAVE_OPEN):
            fate = NOT_ASKED
        else:
            fate = ASKED_NOW
        waves.append(WaveFate(wave.id, wave.day, fate, closing.due_at))
    skipped: list[int] = []
    first: int | None = None
    for module in sorted(programme.modules, key=lambda m: m.day):
        plan = module_plan(programme, start, module.number)
        if plan is None or first is not None:
            continue
        next_release = str(plan.data.get("next_release") or "")
        replaced = bool(next_release) and now >= datetime.fromisoformat(next_release)
        if plan.due_at <= now and (replaced or now - plan.due_at > programme.late_limit(Kind.MODULE)):
            skipped.append(module.number)
        else:
            first = module.number
    return PastStart(start, days_ago, tuple(waves), tuple(skipped), first)
