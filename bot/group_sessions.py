"""Booking the group sessions a programme declares (`group_sessions:`, flows/group_sessions.py) for a cohort.

Where it happens: at every enrolment into a cohort (bot/enroll.py), so the people enrolled together get the course's
sessions as they are enrolled and someone enrolled in week 2 gets the sessions still ahead, with nobody having to
remember a step; and by `python -m bot appointments sessions --cohort NAME`, for what enrolment cannot know: a
section added to the programme file later, a max size raised, or a check after an outage. Both run this one function
and it is idempotent: each session is found by its key (`programme:cohort:session:w1-mon`, unique in the database),
so running it again, restarting, or two processes at once never book a session twice; a session a coach cancelled
stays cancelled, one a coach moved stays at its new time, and one that has begun is left alone.

Who: the cohort's members in enrolment order, not the control arm of a randomised cohort (measurements only). The
cohort's week 1 begins on its members' earliest start date (enrolled without one: the day of enrolment, as their
programme's plan has it); a member joins the sessions from their own start date on.
A cohort bigger than a session's `max_size` is not split: the first members (by enrolment) get the places, and each
one beyond gets a coach task ("group_sessions_full", for their coach and the administrators) and is named in the
report, so the administrator decides (another cohort, or a larger max size and this command again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from bot.appointments import reminder_plan
from flows.group_sessions import GroupSession, occurrences
from flows.programme import Programme
from storage.allocation_records import CONTROL
from storage.appointment_records import AppointmentBooking, CohortMember, SessionSlot
from storage.ports import Storage
from storage.records import ScheduledRecord


@dataclass(frozen=True)
class SeriesReport:
    session: str  # the programme file's id of the series
    max_size: int | None
    booked: int  # appointments booked now
    places: int  # places given now (with their reminders), in new sessions or ones booked before
    ahead: int  # sessions of the cohort still ahead (booked and not cancelled)
    over: tuple[str, ...]  # refs of the members beyond max_size: not booked
    told: tuple[str, ...]  # ...of whom these got their task now (the others had theirs before)


@dataclass(frozen=True)
class SessionsReport:
    cohort: str
    series: tuple[SeriesReport, ...]

    @property
    def over(self) -> bool:
        return any(s.over for s in self.series)

    def lines(self) -> list[str]:
        """The report as the command line prints it (English, refs only)."""
        said: list[str] = []
        for s in self.series:
            said.append(f"cohort {self.cohort}, group sessions {s.session!r}: {s.booked} booked, {s.places} places "
                        f"given, {s.ahead} ahead")
            if s.over:
                said.append(f"  {len(s.over)} member(s) beyond the {s.max_size} places are not booked: "
                            f"{', '.join(s.over)}. Move them to another cohort, or raise max_size in the programme "
                            "file and run `appointments sessions` again.")
        return said


def series_key(programme: Programme, cohort: str, session: GroupSession, occurrence: str) -> str:
    return f"{programme.id}:{cohort}:{session.id}:{occurrence}"


def _reminders(appointment_id: int, booking: AppointmentBooking, moves: int, *,
               after: datetime) -> list[ScheduledRecord]:
    return reminder_plan(appointment_id, booking, moves, after)


async def book_cohort_sessions(storage: Storage, programme: Programme, cohort: str, now: datetime,
                               actor: str, default_id: str | None = None) -> SessionsReport:
    """Book (or join) every declared session of the programme for the cohort's members; what was done."""
    if not programme.group_sessions:
        return SessionsReport(cohort, ())
    control = {a.participant_id for a in await storage.allocations(cohort) if a.arm == CONTROL}
    zone = ZoneInfo(programme.timezone)
    members = [(m, m.start_date or m.enrolled_at.astimezone(zone).date())  # no date: the day of enrolment (enrol)
               for m in await storage.cohort_members(cohort) if m.participant_id not in control
               and _follows(m, programme, default_id)]
    refs = {m.participant_id: m.ref for m, _ in members}
    reports = []
    for session in programme.group_sessions:
        inside = members[:session.max_size] if session.max_size is not None else members
        over = members[len(inside):]
        slots = _slots(programme, cohort, session, inside, now, actor)
        detail: dict[str, str | int] = {"cohort": cohort, "sessions": session.id, "max_size": session.max_size or 0}
        done, told = await storage.book_sessions(slots, [m.participant_id for m, _ in over], detail, actor, now,
                                                 partial(_reminders, after=now))
        reports.append(SeriesReport(session.id, session.max_size, sum(d.created for d in done),
                                    sum(len(d.added) for d in done), sum(d.ahead for d in done),
                                    tuple(m.ref for m, _ in over),
                                    tuple(refs[pid] for pid in told)))
    return SessionsReport(cohort, tuple(reports))


def _follows(member: CohortMember, programme: Programme, default_id: str | None) -> bool:
    """Whether the member is in this programme: their choice at enrolment, or none recorded (enrolled before choices
    were) and this is the deployment's default. A cohort is one programme's in practice; a member enrolled into
    another programme never gets these sessions."""
    chosen = member.programme
    return chosen == programme.id if chosen is not None else default_id in (None, programme.id)


def _slots(programme: Programme, cohort: str, session: GroupSession, inside: list[tuple[CohortMember, date]],
           now: datetime, actor: str) -> list[SessionSlot]:
    if not inside:
        return []
    first_day = min(start for _, start in inside)
    return [SessionSlot(AppointmentBooking(session.kind, o.starts_at, session.minutes, session.place, session.video,
                                           actor, now, cohort, series_key(programme, cohort, session, o.key)),
                        tuple(m.participant_id for m, start in inside if start <= o.day))
            for o in occurrences(session, first_day, programme.timezone)]
