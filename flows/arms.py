"""The control arm of a randomised cohort as the engine sees it (issue 15, seed 002: usual care or the programme).

A control participant gets the measurement waves and nothing else of the programme: no modules, exercise
reminders, weekly check-ins, TRE summaries or week-4 evaluation, and the programme's words about those (FÆRDIG,
TRE, MINE, TIDER) are not theirs. Everything else is the same for both arms: the waves with their reminders and
closing, PAUSE and START, the free-text risk scan and the safety path, which never depend on the programme.

The running app hands the engine this view of the programme for a control participant (bot/conversation.py), and
plans only its events at enrolment (bot/enroll.py), so neither side can send a control participant the programme.
"""

from __future__ import annotations

from dataclasses import replace

from flows.model import FlowLibrary
from flows.programme import Programme


def measurement_only(programme: Programme) -> Programme:
    """The programme as the control arm has it: the same waves (and times, limits, quiet hours), nothing else. The
    entry criterion stays: it is about the screening measurement, which both arms answer."""
    return replace(programme, modules=(), exercises=None, checkin=None, tre_summary=None, evaluation=None,
                   phases=(), group_sessions=(), measurement_only=True)


def control_library(library: FlowLibrary) -> FlowLibrary:
    """The flows as they are, with the programme's measurement-only view."""
    if library.programme is None or library.programme.measurement_only:
        return library
    return replace(library, programme=measurement_only(library.programme))
