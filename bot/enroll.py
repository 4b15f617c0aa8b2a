"""Enrolment: an administrator adds participants one by one or from a CSV file.

Each participant gets a pseudonymous reference (used everywhere else), their phone number in E.164 for SMS,
and for Telegram a one-time code for the deep link `https://t.me/<bot>?start=<code>` (only the code's
digest is stored; it expires). `problems_of` lists everything wrong with a request at once (never echoing a phone
number); reading a CSV file is bot/enrol_csv.py, the checks that need the storage and the clock (a phone already
enrolled, an unknown cohort, a start date in the past) are bot/enrol_review.py, and the invite's first message
bot/invites.py: the command line and the desk's enrolment pages share all of them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from bot.allocation import draw, key_id
from bot.clock import COPENHAGEN
from bot.group_sessions import SessionsReport, book_cohort_sessions
from bot.phone import PhoneNumberError, normalize
from bot.scheduler import schedule_programme
from flows.arms import measurement_only
from flows.phrases import N_
from flows.programme import Programme
from storage.allocation_records import CONTROL, Allocation
from storage.errors import AlreadyTaken, InvalidRecord
from storage.ports import Storage
from storage.records import Enrollment, Participant

LINK_CODE_LIFETIME = timedelta(days=14)
CSV_COLUMNS = ("name", "phone", "telegram", "lang", "start_date", "coach", "cohort", "programme")


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def new_ref() -> str:
    """A pseudonym that says nothing about the person: 'p-' and eight letters/digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud on the phone
    return "p-" + "".join(secrets.choice(alphabet) for _ in range(8))


@dataclass(frozen=True)
class Invite:
    participant: Participant
    telegram_link: str | None  # the deep link to send or print; None without --telegram
    allocation: Allocation | None = None  # in a randomised cohort: the arm drawn at this enrolment
    group_sessions: SessionsReport | None = None  # the cohort's declared sessions booked or joined now


@dataclass(frozen=True)
class EnrolmentRequest:
    name: str
    phone: str | None = None
    telegram: bool = False
    lang: str = "da"
    start_date: date | None = None
    coach: str | None = None
    cohort: str | None = None  # e.g. "bornholm-2026-1": outcome reports can be made per cohort
    programme: str | None = None  # a programme file's id; None: the deployment's default (or only) programme


class EnrolmentError(ValueError):
    """A row or request that cannot be enrolled; the message says why without echoing contact data."""


@dataclass(frozen=True)
class Problem:
    """What is wrong with a request, in words an administrator can act on: an English sentence marked for the
    catalogs (the desk shows it in the administrator's language, the command line in English) and its values.
    `code` lets the command line add its own hint (an option to give); the desk says it in its own words."""

    text: str
    params: Mapping[str, str | date] = field(default_factory=dict)  # a date is shown in the reader's language
    code: str = ""

    def english(self) -> str:
        return self.text.format(**{k: v.isoformat() if isinstance(v, date) else v for k, v in self.params.items()})


# TRANSLATORS: problems of an enrolment, shown to an administrator in the desk's preview (one per line of a row)
NO_NAME = N_("A name is needed.")
BAD_LANG = N_("The language must be da (Danish) or en (English).")
NO_WAY_TO_REACH = N_("Give a phone number, or mark the person for Telegram (or both): otherwise the bot cannot "
                     "reach them.")
UNKNOWN_COACH = N_("There is no coach {coach} in the deployment file.")
BAD_PHONE = N_("The phone number cannot get text messages: a Danish number has 8 digits; a foreign one starts with "
               "+ and the country code.")
LONG_COHORT = N_("A cohort name is at most 100 characters.")


def problems_of(request: EnrolmentRequest, coaches: Iterable[str]) -> list[Problem]:
    """Everything wrong with the request on its own (the storage is not asked), all at once."""
    found: list[Problem] = []
    if not request.name.strip():
        found.append(Problem(NO_NAME))
    if request.lang not in ("da", "en"):
        found.append(Problem(BAD_LANG))
    if request.phone is None and not request.telegram:
        found.append(Problem(NO_WAY_TO_REACH))
    if request.coach is not None and request.coach not in set(coaches):
        found.append(Problem(UNKNOWN_COACH, {"coach": request.coach}))
    if request.phone:
        try:
            normalize(request.phone)
        except PhoneNumberError:
            found.append(Problem(BAD_PHONE))
    if request.cohort is not None and len(request.cohort.strip()) > 100:
        found.append(Problem(LONG_COHORT))
    return found


def check(request: EnrolmentRequest, coaches: Iterable[str]) -> Enrollment:
    problems = problems_of(request, coaches)
    if problems:
        raise EnrolmentError(" ".join(p.english() for p in problems))
    phone = normalize(request.phone) if request.phone else None
    cohort = request.cohort.strip() if request.cohort else None
    return Enrollment(new_ref(), request.name.strip(), request.lang, request.start_date, request.coach, phone,
                      cohort or None)


def chosen_programme(request: EnrolmentRequest, default: Programme | None,
                     programmes: Mapping[str, Programme]) -> Programme | None:
    """The programme the request names, or the default when it names none; an unknown name, or none named where
    several programmes have no default, is refused naming the choices."""
    choices = {**programmes, **({default.id: default} if default is not None else {})}
    named = request.programme.strip() if request.programme else None
    if named is None:
        if default is None and choices:
            raise EnrolmentError(f"choose a programme: {', '.join(sorted(choices))}")
        return default
    if named not in choices:
        raise EnrolmentError(f"programme {named!r} is not one of this deployment's: "
                             f"{', '.join(sorted(choices)) or 'it has no programme file'}")
    return choices[named]


async def enrol(storage: Storage, request: EnrolmentRequest, coaches: Iterable[str], now: datetime,
                bot_username: str, programme: Programme | None = None, *, allocation_key: bytes | None = None,
                actor: str = "admin", programmes: Mapping[str, Programme] | None = None) -> Invite:
    """Store the participant, make a Telegram link if asked, and plan their programme from the start date
    (the day of enrolment, Copenhagen time, when none is given). `programme` is the default, `programmes` the
    deployment's programmes by id: the request's choice is recorded with them and only that programme is planned.
    In a randomised cohort the participant is allocated in the same transaction (bot/allocation.py, keyed by
    `allocation_key`), and a control participant's plan is the measurement waves only (flows/arms.py). In a
    cohort, the programme's declared group sessions are booked or joined (bot/group_sessions.py)."""
    if request.telegram and not bot_username:
        raise EnrolmentError("set TELEGRAM_BOT_USERNAME to make a Telegram invite link")
    enrollment = check(request, coaches)
    default = programme
    programme = chosen_programme(request, default, programmes or {})
    start = request.start_date or now.astimezone(COPENHAGEN).date()  # kept with the person: their week counts from it
    enrollment = replace(enrollment, programme=programme.id if programme is not None else None, start_date=start)
    randomised = await storage.randomised_cohort(enrollment.cohort) if enrollment.cohort else None
    allocation = None
    try:
        if randomised is None:
            participant = await storage.enroll(enrollment, now)
        else:
            if allocation_key is None:
                raise EnrolmentError(f"cohort {randomised.cohort!r} is randomised: set BOT_ALLOCATION_KEY")
            if key_id(allocation_key) != randomised.key_id:
                raise EnrolmentError(f"cohort {randomised.cohort!r} was randomised with another BOT_ALLOCATION_KEY")
            key, cohort = allocation_key, randomised.cohort
            participant, allocation = await storage.enroll_allocated(
                enrollment, now, lambda seq: draw(key, cohort, seq), actor)
    except (AlreadyTaken, InvalidRecord) as exc:
        raise EnrolmentError(str(exc)) from exc
    if programme is not None:
        plan = measurement_only(programme) if allocation is not None and allocation.arm == CONTROL else programme
        await schedule_programme(storage, plan, participant.id, start, now)
    sessions = None
    if programme is not None and programme.group_sessions and enrollment.cohort:
        sessions = await book_cohort_sessions(storage, programme, enrollment.cohort, now, actor,
                                              default.id if default is not None else None)
    link = None
    if request.telegram:
        code = secrets.token_urlsafe(12)
        await storage.add_link_code(participant.id, code_digest(code), now + LINK_CODE_LIFETIME, now)
        link = f"https://t.me/{bot_username}?start={code}"
    return Invite(participant, link, allocation, sessions)
