"""The TRE log's history as the person sees it (MINE) and the weekly summary. Pure: the loop reads the
sessions (the TRE log's completed runs, from their scores) and passes them in with `now`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from flows import phrases
from flows.effects import Phrase, Send
from flows.programme import Programme

SHOWN_SESSIONS = 5
TRE_FLOW = "tre_log"  # the TRE log's flow id, unless the programme's TRE summary names another


def log_flow(programme: Programme | None) -> str:
    """The flow that logs TRE sessions: the one the programme's weekly summary sums up."""
    return programme.tre_summary.flow if programme is not None and programme.tre_summary else TRE_FLOW


@dataclass(frozen=True)
class Session:
    at: datetime
    minutes: float
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


def sessions_from_scores(scores: Iterable[tuple[int, str, float, datetime]]) -> list[Session]:
    """(run, score id, value, completed at) rows of the TRE log -> one session per completed run."""
    runs: dict[int, dict[str, float]] = {}
    when: dict[int, datetime] = {}
    for run_seq, score_id, value, at in scores:
        runs.setdefault(run_seq, {})[score_id] = value
        when[run_seq] = at
    sessions = [Session(when[seq], v["minutes"], v["tension_before"], v["tension_after"])
                for seq, v in runs.items() if {"minutes", "tension_before", "tension_after"} <= v.keys()]
    return sorted(sessions, key=lambda s: s.at)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def history(sessions: list[Session], now: datetime, zone: tzinfo) -> Send:
    """The last few sessions, sessions a week and the average change in tension."""
    if not sessions:
        return Send((Phrase(phrases.TRE_HISTORY_EMPTY),))
    parts: list[Phrase] = [Phrase(phrases.TRE_HISTORY_HEADER)]
    for s in sessions[-SHOWN_SESSIONS:]:
        day = s.at.astimezone(zone)
        parts.append(Phrase(phrases.TRE_HISTORY_LINE, {"date": f"{day.day}/{day.month}", "minutes": s.minutes,
                                                       "before": s.before, "after": s.after}))
    weeks = max(1.0, (now - sessions[0].at) / timedelta(weeks=1))
    parts.append(Phrase(phrases.TRE_HISTORY_TOTALS, {"count": len(sessions),
                                                     "per_week": round(len(sessions) / weeks, 1),
                                                     "change": _mean([s.change for s in sessions])}))
    return Send(tuple(parts))


def in_week(sessions: list[Session], now: datetime) -> list[Session]:
    """The sessions of the 7 days up to `now`."""
    return [s for s in sessions if now - timedelta(days=7) < s.at <= now]


def weekly(sessions: list[Session], now: datetime) -> Send | None:
    """The week's summary, or None when nothing was logged in the last 7 days (then nothing is sent)."""
    week = in_week(sessions, now)
    if not week:
        return None
    return Send((Phrase(phrases.TRE_WEEK_SUMMARY, {"count": len(week), "minutes": sum(s.minutes for s in week),
                                                   "change": _mean([s.change for s in week])}),))
