"""The report read from storage: the rows a chunk of participants at a time, counted as they come (build.py), with
each allocated participant's arm. What `python -m bot report outcomes` and the administrators' report page
(bot/desk/views/admin_report.py) both do, so both show the same figures.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.outcomes.build import Report, build_report, outcome_query
from bot.outcomes.cohort import Filters
from bot.outcomes.spec import spec_from_programme
from flows.programme import Programme
from storage.ports import Allocations, Records


class ReportStore(Records, Allocations, Protocol):
    """The ports the report reads."""


async def read_report(storage: ReportStore, programme: Programme, now: datetime, filters: Filters, *,
                      default: bool = True) -> Report:
    """The whole report of one programme's participants as of `now` (`default`: the deployment's default programme,
    which also has everyone enrolled before a choice was recorded); Unsupported for a database the report cannot
    read."""
    spec = spec_from_programme(programme)
    arms = {a.participant_id: a.arm for a in await storage.allocations(filters.cohort)}
    query = replace(outcome_query(spec, filters.cohort), programme=programme.id, with_unrecorded=default)
    return await storage.read_outcomes(query, lambda chunks: build_report(chunks, spec, now, filters, arms))
