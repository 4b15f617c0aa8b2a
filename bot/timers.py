"""The engine's timers as rows of the durable schedule: one timer system, not two.

The engine says `ScheduleTimer(key, at)` and `CancelTimer(key)` (a questionnaire's expiry, its only timer) and hears
`TimerFired(key)`. The shell keeps no table of its own for them: a step's one transaction turns each into a schedule
row of kind `run_expiry` (or withdraws the pending one), and the scheduler's tick claims that row with a lease like
every other scheduled event and feeds `TimerFired` in a step that records what became of it (bot/scheduler.py). So
a fired timer is answered by exactly one outcome: one the engine had no use for (its run set aside for the safety
check, or ended already) is skipped once, where the old table fired it again on every tick; and since a row names
its participant, not a programme profile, it fires for anyone who has a conversation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flows.effects import CancelTimer, Effect, RunEvent, ScheduleTimer
from flows.inputs import TimerFired
from storage.records import ScheduledRecord, ScheduleOutcome, ScheduleRow, ScheduleStatus

RUN_EXPIRY = "run_expiry"  # the schedule kind of a timer (storage/legacy_migrations.py, migration 9, writes it too)
STALE = "no open run with this timer"  # the reason a timer the engine ignored is skipped with


def schedule_key(key: str) -> str:
    """A timer's key in the schedule, which the programme's events share per participant: prefixed, so no timer can
    ever take the row of a module or a wave."""
    return f"timer:{key}"


def changes(effects: Iterable[Effect]) -> tuple[list[ScheduledRecord], list[str]]:
    """The rows a step's timers plan and the schedule keys whose pending rows they withdraw.

    Within one step the last word per key wins (set then cancelled: gone; cancelled then set: due). Planning a
    pending row again moves it, so a rescheduled expiry replaces the old one. A key names one run (``expire:<seq>``),
    so a row already fired is never planned again (the schedule's upsert leaves a finished row alone)."""
    last: dict[str, datetime | None] = {}
    for effect in effects:
        if isinstance(effect, ScheduleTimer):
            last[effect.key] = effect.at
        elif isinstance(effect, CancelTimer):
            last[effect.key] = None
    planned = [ScheduledRecord(schedule_key(key), RUN_EXPIRY, at, {"key": key})
               for key, at in last.items() if at is not None]
    return planned, [schedule_key(key) for key, at in last.items() if at is None]


def fired(row: ScheduleRow) -> TimerFired:
    """The engine's input for a claimed `run_expiry` row."""
    return TimerFired(str(row.data["key"]))


def outcome(schedule_id: int, effects: Iterable[Effect]) -> ScheduleOutcome:
    """What became of a fired timer: the run it belongs to ended (sent, "run.expired"), or the engine had no use for
    it (skipped, `STALE`): either way the row is finished and never fires again."""
    ended = [e for e in effects if isinstance(e, RunEvent)]
    if ended:
        return ScheduleOutcome(schedule_id, ScheduleStatus.SENT, "+".join(f"run.{e.change}" for e in ended)[:200])
    return ScheduleOutcome(schedule_id, ScheduleStatus.SKIPPED, STALE)
