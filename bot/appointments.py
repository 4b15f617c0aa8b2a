"""Booking appointments (issue 15): a screening talk, a group session, individual coaching, for a person, a list of
people or a cohort, from the desk, the command line or a CSV file.

Booking stores the appointment with two reminders per attendee as schedule rows (kind `appointment`): the day before
at the same time, and two hours before. The scheduler claims them under leases, so each is sent once however many
processes run, and the engine (flows/appointments.py) waits out the quiet hours and takes the participant's OK or
MOVE. The time is written here in each language (babel), so the engine stays pure.

A CSV import is read whole first: every problem, with its line, is reported before anything is saved. A problem is
a `BookingProblem`: an English sentence for the command line, translated on the desk's pages (its text is a message
id of the catalogs, its values filled in after translation).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from flows.phrases import APPOINTMENT_KINDS, N_
from flows.programme import Kind
from storage.appointment_records import AppointmentBooking
from storage.ports import Storage
from storage.records import ScheduledRecord

KINDS = tuple(APPOINTMENT_KINDS)  # screening, group, coaching, counselling, follow_up
REMINDERS = (("day_before", timedelta(days=1)), ("two_hours", timedelta(hours=2)))
DEFAULT_MINUTES = 60
MAX_MINUTES = 8 * 60
TIMEZONE = ZoneInfo("Europe/Copenhagen")
_WHEN = re.compile(  # 24-12-2026 14:00, 24.12.2026 kl. 14.00, 24/12/2026 14:00, 2026-12-24 14:00
    r"^\s*(?:(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{4})|(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2}))"
    r"(?:\s+|T)(?:kl\.?\s*)?(?P<h>\d{1,2})[:.](?P<min>\d{2})\s*$", re.IGNORECASE)


# What can be wrong with a booking (or a change to one), as message ids: the desk shows them in the coach's language
KIND_UNKNOWN = N_("kind {kind} is not one of {kinds}")
TIME_UNREADABLE = N_("time {time} is not a date and time like 24-12-2026 14:00")
TIME_PASSED = N_("time {time} has passed")
MINUTES_OUTSIDE = N_("minutes must be from 5 to {most}, not {minutes}")
MINUTES_NOT_WHOLE = N_("minutes {minutes} is not a whole number")
NO_PLACE = N_("give a place or a video link")
VIDEO_NOT_HTTPS = N_("the video link must start with https://")
PEOPLE_OR_COHORT = N_("give either people (refs) or a cohort")
NO_PARTICIPANT = N_("no participant {ref}")
NO_COHORT = N_("no cohort {cohort} (cohorts: {known})")
NO_COHORT_YET = N_("no cohort {cohort} (there are no cohorts yet)")
COLUMNS_NEEDED = N_("the columns must be some of {columns} (kind and time needed)")
COLUMNS_MISSING = N_("; missing {missing}")
COLUMNS_UNKNOWN = N_("; unknown {unknown}")
ON_LINE = N_("line {line}: {problem}")


@dataclass(frozen=True)
class BookingProblem:
    """One problem: `text` a message id (English) with {placeholders}, `values` to fill in, the CSV line if any."""

    text: str
    values: Mapping[str, object] = field(default_factory=dict)
    line: int | None = None
    more: tuple[BookingProblem, ...] = ()  # parts of the same sentence (the CSV header's missing and unknown)

    def said(self, gettext: Callable[[str], str] = str) -> str:
        """The sentence in the language of `gettext` (English without one)."""
        sentence = "".join(gettext(p.text).format(**p.values) for p in (self, *self.more))
        return gettext(ON_LINE).format(line=self.line, problem=sentence) if self.line is not None else sentence


class BookingError(ValueError):
    """What is wrong with a booking, in words an administrator can act on (every problem, one a line)."""

    def __init__(self, problems: Sequence[BookingProblem]) -> None:
        self.details = tuple(problems)
        self.problems = tuple(p.said() for p in problems)  # English, for the command line
        super().__init__("\n".join(self.problems))

    def said(self, gettext: Callable[[str], str]) -> list[str]:
        return [p.said(gettext) for p in self.details]


@dataclass(frozen=True)
class BookingRequest:
    kind: str
    when: str  # as typed: "24-12-2026 14:00", "24.12.2026 kl. 14.00"
    minutes: int = DEFAULT_MINUTES
    place: str = ""
    video: str = ""
    people: tuple[str, ...] = ()  # participants' refs
    cohort: str = ""  # or everyone enrolled in this cohort
    line: int | None = None  # the CSV line it came from


@dataclass(frozen=True)
class Checked:
    booking: AppointmentBooking
    participant_ids: tuple[int, ...]


@dataclass
class _Directory:
    by_ref: dict[str, int] = field(default_factory=dict)
    cohorts: dict[str, list[int]] = field(default_factory=dict)


def parse_when(text: str) -> datetime | None:
    """A local (Copenhagen) date and time as Danes write it, as a UTC-aware instant; None when it is not one."""
    found = _WHEN.match(text)
    if found is None:
        return None
    g = found.groupdict()
    try:
        day = date(int(g["y"] or g["iy"]), int(g["m"] or g["im"]), int(g["d"] or g["id"]))
        at = time(int(g["h"]), int(g["min"]))
    except ValueError:
        return None
    return datetime.combine(day, at, TIMEZONE).astimezone(ZoneInfo("UTC"))


def written(moment: datetime, lang: str) -> str:
    """"torsdag den 24. december kl. 14.00", "Thursday 24 December at 14:00"."""
    pattern = "EEEE 'den' d. MMMM 'kl.' HH.mm" if lang == "da" else "EEEE d MMMM 'at' HH:mm"
    return str(format_datetime(moment, pattern, tzinfo=TIMEZONE, locale=lang))


def reminder_data(appointment_id: int, booking: AppointmentBooking) -> dict[str, str | int]:
    """What a reminder or notice of the appointment says (flows/appointments.py): the time already written."""
    return {"appointment": str(appointment_id), "starts_at": booking.starts_at.isoformat(), "what": booking.kind,
            "place": booking.place, "video": booking.video,
            "when_da": written(booking.starts_at, "da"), "when_en": written(booking.starts_at, "en")}


def event_key(appointment_id: int, moves: int, name: str) -> str:
    """`appointment:7:day_before`; after a move `appointment:7:m1:day_before`, so the new time's reminders are new
    rows (a row already sent for the old time is never planned again)."""
    return f"appointment:{appointment_id}:{f'm{moves}:' if moves else ''}{name}"


def reminder_plan(appointment_id: int, booking: AppointmentBooking, moves: int = 0,
                  after: datetime | None = None) -> list[ScheduledRecord]:
    """The reminders still ahead (after `after`, the booking's time when not given): the day before and two hours
    before."""
    data = reminder_data(appointment_id, booking)
    since = booking.created_at if after is None else after
    return [ScheduledRecord(event_key(appointment_id, moves, name), Kind.APPOINTMENT, booking.starts_at - before,
                            data)
            for name, before in REMINDERS if booking.starts_at - before > since]


async def _directory(storage: Storage) -> _Directory:
    found = _Directory()
    for participant, _ in await storage.start_dates():
        found.by_ref[participant.ref] = participant.id
    for pid in await storage.participant_ids():
        profile = await storage.profile(pid)
        if profile is not None and profile.cohort:
            found.cohorts.setdefault(profile.cohort, []).append(pid)
    return found


def _check(request: BookingRequest, directory: _Directory, booked_by: str,
           now: datetime) -> Checked | list[BookingProblem]:
    problems: list[BookingProblem] = []

    def problem(text: str, **values: object) -> None:
        problems.append(BookingProblem(text, values, request.line))

    if request.kind not in KINDS:
        problem(KIND_UNKNOWN, kind=repr(request.kind), kinds=", ".join(KINDS))
    starts = parse_when(request.when)
    if starts is None:
        problem(TIME_UNREADABLE, time=repr(request.when))
    elif starts <= now:
        problem(TIME_PASSED, time=repr(request.when))
    if not 5 <= request.minutes <= MAX_MINUTES:
        problem(MINUTES_OUTSIDE, most=MAX_MINUTES, minutes=request.minutes)
    if not request.place.strip() and not request.video.strip():
        problem(NO_PLACE)
    if request.video and not request.video.startswith("https://"):
        problem(VIDEO_NOT_HTTPS)
    if bool(request.people) == bool(request.cohort):
        problem(PEOPLE_OR_COHORT)
    ids: list[int] = []
    for ref in request.people:
        if ref in directory.by_ref:
            ids.append(directory.by_ref[ref])
        else:
            problem(NO_PARTICIPANT, ref=repr(ref))
    if request.cohort:
        if request.cohort not in directory.cohorts and directory.cohorts:
            problem(NO_COHORT, cohort=repr(request.cohort), known=", ".join(sorted(directory.cohorts)))
        elif request.cohort not in directory.cohorts:
            problem(NO_COHORT_YET, cohort=repr(request.cohort))
        ids += directory.cohorts.get(request.cohort, [])
    if problems or starts is None:
        return problems
    booking = AppointmentBooking(request.kind, starts, request.minutes, request.place.strip(), request.video.strip(),
                                 booked_by, now, request.cohort or None)
    return Checked(booking, tuple(dict.fromkeys(ids)))


async def check_all(storage: Storage, requests: Sequence[BookingRequest], booked_by: str,
                    now: datetime) -> list[Checked]:
    """Every request checked; BookingError with every problem when any has one (then nothing may be saved)."""
    directory = await _directory(storage)
    checked: list[Checked] = []
    problems: list[BookingProblem] = []
    for request in requests:
        result = _check(request, directory, booked_by, now)
        if isinstance(result, Checked):
            checked.append(result)
        else:
            problems += result
    if problems:
        raise BookingError(problems)
    return checked


async def book(storage: Storage, requests: Sequence[BookingRequest], booked_by: str, now: datetime) -> list[int]:
    """Check every request, then book each (its reminders with it); the new appointments' ids."""
    checked = await check_all(storage, requests, booked_by, now)
    return [await storage.book_appointment(c.booking, c.participant_ids, partial(reminder_plan, booking=c.booking))
            for c in checked]


COLUMNS = ("kind", "time", "minutes", "place", "video", "people", "cohort")


def read_csv(text: str) -> tuple[list[BookingRequest], list[BookingProblem]]:
    """Rows of a CSV (`,` or `;`, as Danish Excel writes it) as requests, and the problems of reading it.
    Columns: kind, time, minutes, place, video, people (refs separated by spaces), cohort."""
    text = text.lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in reader.fieldnames or ()]
    missing = [name for name in ("kind", "time") if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown:
        more = ((BookingProblem(COLUMNS_MISSING, {"missing": ", ".join(missing)}),) if missing else ()) + (
            (BookingProblem(COLUMNS_UNKNOWN, {"unknown": ", ".join(unknown)}),) if unknown else ())
        return [], [BookingProblem(COLUMNS_NEEDED, {"columns": ", ".join(COLUMNS)}, 1, more)]
    requests: list[BookingRequest] = []
    problems: list[BookingProblem] = []
    for row in reader:
        line = reader.line_num
        values = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        minutes_text = values.get("minutes") or str(DEFAULT_MINUTES)
        if not minutes_text.isdigit():
            problems.append(BookingProblem(MINUTES_NOT_WHOLE, {"minutes": repr(minutes_text)}, line))
            continue
        requests.append(BookingRequest(values.get("kind", "").lower(), values.get("time", ""), int(minutes_text),
                                       values.get("place", ""), values.get("video", ""),
                                       tuple(values.get("people", "").split()), values.get("cohort", ""), line))
    return requests, problems


async def import_csv(storage: Storage, text: str, booked_by: str, now: datetime) -> list[int]:
    """Book every row of the file, or (any problem anywhere) none: BookingError lists them all."""
    requests, problems = read_csv(text)
    try:
        await check_all(storage, requests, booked_by, now)
    except BookingError as exc:
        problems += exc.details
    if problems:
        raise BookingError(sorted(problems, key=lambda p: p.line or 0))  # the file's order (stable within a line)
    return await book(storage, requests, booked_by, now)
