"""The safety path in figures: escalations by level, how fast a coach acknowledged, and deadlines breached.

Breached: the bot had to widen the circle because nobody acknowledged before the deadline (the tier was
raised, which `EscalationService` only does past a deadline), or it is still unacknowledged past its deadline
when the report is made. Times to acknowledgement are from opening to the first acknowledgement (closing an
open escalation acknowledges it too).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot.outcomes.spec import LEVELS
from bot.outcomes.stats import Summary, summary
from storage.report_rows import EscalationRow


@dataclass(frozen=True)
class Safety:
    by_level: tuple[tuple[str, int], ...]  # most urgent first
    acknowledged: int
    unacknowledged: int
    minutes_to_acknowledge: Summary  # median and high (the longest) are what the report shows
    breached: int
    open_now: int  # not closed yet

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_level)


def safety(escalations: list[EscalationRow], now: datetime) -> Safety:
    levels = Counter(e.level for e in escalations)
    order = [*LEVELS, *sorted(set(levels) - set(LEVELS))]
    minutes = [(e.acknowledged_at - e.opened_at).total_seconds() / 60
               for e in escalations if e.acknowledged_at is not None]
    return Safety(
        by_level=tuple((level, levels[level]) for level in order),
        acknowledged=len(minutes),
        unacknowledged=len(escalations) - len(minutes),
        minutes_to_acknowledge=summary(minutes),
        breached=sum(1 for e in escalations if _breached(e, now)),
        open_now=sum(1 for e in escalations if e.status != "closed"),
    )


def _breached(escalation: EscalationRow, now: datetime) -> bool:
    if escalation.tier > 0:
        return True
    overdue = escalation.deadline_at is not None and escalation.deadline_at <= now
    return escalation.status == "open" and overdue

