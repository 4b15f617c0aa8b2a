"""Work status from the stored answers (issue 15; seed 002's payment target 1): when each participant returned to
work partly and fully, in days from their programme's start.

The work status questions (flows/definitions/work_status.yaml at every wave, and the weekly check-in when something
changed) record two scores with the same ids in both flows: `work_status` (1 fully on sick leave, 2 partly fit,
3 fully fit; the check-in's 4, "unchanged", is no news) and `work_since_days` (since how many days). A change is
dated to the local day its questionnaire was completed, minus those days.

- **partial return**: the first day with status 2 or 3 (partly or fully fit: seed 002 counts "helt eller delvist
  raskmeldt"); **full return**: the first day with status 3. A later relapse does not undo a return.
- Days from the start (day 0), never below 0 (a change dated before the start counts as day 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from storage.report_rows import OutcomeRows

WORK_FLOW = "work_status"  # the waves' questionnaire
STATUS, SINCE = "work_status", "work_since_days"  # the score ids, the same in the check-in
ON_LEAVE, PARTLY, FULLY = 1, 2, 3


@dataclass(frozen=True)
class Report:
    """One answer about work: the day it was given, the status, and the day the status began."""

    answered: date
    status: int
    since: date


@dataclass(frozen=True)
class Returns:
    """One participant's return to work, in days from the start (None: not reported), and the last day they
    answered the work question (None: never)."""

    partly: int | None
    fully: int | None
    last_answer: int | None


def work_flows(checkin_flow: str | None) -> tuple[str, ...]:
    return (WORK_FLOW, checkin_flow) if checkin_flow else (WORK_FLOW,)


def work_scores(checkin_flow: str | None) -> tuple[tuple[str, str], ...]:
    """The (flow, score) pairs the report reads for work status."""
    return tuple((flow, score) for flow in work_flows(checkin_flow) for score in (STATUS, SINCE))


def reports_by_participant(chunk: OutcomeRows, flows: Iterable[str], zone: ZoneInfo) -> dict[int, list[Report]]:
    """Every work status answer of the chunk's participants, oldest first."""
    wanted = set(flows)
    done = {(r.participant_id, r.flow_id, r.run_seq): r.completed_at for r in chunk.runs if r.flow_id in wanted}
    values: dict[tuple[int, str, int], dict[str, float]] = {}
    for score in chunk.scores:
        if score.flow_id in wanted and score.score_id in (STATUS, SINCE):
            values.setdefault((score.participant_id, score.flow_id, score.run_seq), {})[score.score_id] = score.value
    found: dict[int, list[Report]] = {}
    for key, scores in values.items():
        status, completed = scores.get(STATUS), done.get(key)
        if status is None or completed is None or int(status) not in (ON_LEAVE, PARTLY, FULLY):
            continue
        answered = completed.astimezone(zone).date()
        since = answered - timedelta(days=int(scores.get(SINCE, 0)))
        found.setdefault(key[0], []).append(Report(answered, int(status), since))
    for reports in found.values():
        reports.sort(key=lambda r: (r.answered, r.since))
    return found


def returns(start: date, reports: Iterable[Report]) -> Returns:
    partly = fully = last = None
    for report in reports:
        day = max(0, (report.since - start).days)
        if report.status in (PARTLY, FULLY):
            partly = day if partly is None else min(partly, day)
        if report.status == FULLY:
            fully = day if fully is None else min(fully, day)
        answered = (report.answered - start).days
        last = answered if last is None else max(last, answered)
    return Returns(partly, fully, last)


def tap(chunks: Iterable[OutcomeRows], into: dict[int, list[Report]], flows: tuple[str, ...],
        zone: ZoneInfo) -> Iterator[OutcomeRows]:
    """The chunks as they are, each first read for its work status answers (into `into`, by participant)."""
    for chunk in chunks:
        into.clear()  # the previous chunk's participants are counted by now
        into.update(reports_by_participant(chunk, flows, zone))
        yield chunk
