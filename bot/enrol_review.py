"""The check before anyone is enrolled: every problem of every row, and what a start date in the past would do.

`review` adds to what a request says on its own (bot/enroll.py `problems_of`) and what reading the file found
(bot/enrol_csv.py) everything that needs the storage or the clock: a phone number already enrolled or twice in the
list, a cohort nobody was enrolled in (a typo makes a new cohort only when the administrator says it is new), a
randomised cohort without its key, Telegram without the bot's username, a start date far ahead or in the past. A
list is enrolled only when no row has a problem (the command line and the desk's preview both stop before anything
is saved), and a start date in the past only when the administrator confirmed it, having read `PastStart`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.allocation import key_id
from bot.enrol_past import PastStart, past_start
from bot.enroll import EnrolmentError, EnrolmentRequest, Problem, chosen_programme, problems_of
from bot.phone import PhoneNumberError, normalize
from flows.phrases import N_
from flows.programme import Programme
from storage.ports import Storage

FAR_AHEAD = timedelta(days=366)

# TRANSLATORS: problems of an enrolment that the stored data shows, in the desk's preview
PHONE_TAKEN = N_("This phone number already belongs to participant {ref}.")
PHONE_TWICE = N_("The same phone number as on line {other}.")
UNKNOWN_COHORT = N_("There is no cohort {cohort} yet. Check the spelling; to start a new cohort, choose to create "
                    "it.")
NO_ALLOCATION_KEY = N_("The cohort {cohort} is randomised: the setting BOT_ALLOCATION_KEY is needed to enrol in it.")
OTHER_ALLOCATION_KEY = N_("The cohort {cohort} was randomised with another BOT_ALLOCATION_KEY than the one set now.")
NO_BOT_USERNAME = N_("A Telegram invite needs the bot's username: set TELEGRAM_BOT_USERNAME.")
UNKNOWN_PROGRAMME = N_("There is no programme {programme} in this deployment. The programmes are: {choices}.")
NO_PROGRAMME_CHOSEN = N_("Choose a programme: {choices}.")
FAR_START = N_("The start date {date} is more than a year ahead: check the year.")


@dataclass(frozen=True)
class Reviewed:
    line: int  # the file's line; 0 for one person enrolled from a form or the options
    request: EnrolmentRequest
    problems: tuple[Problem, ...]
    past: PastStart | None  # a start date in the past: enrolled only when confirmed
    new_cohort: bool = False  # enrolled into the cohort the administrator chose to create


@dataclass(frozen=True)
class Review:
    rows: tuple[Reviewed, ...]
    problems: tuple[Problem, ...] = ()  # the file's own (bot/enrol_csv.py)

    @property
    def blocked(self) -> bool:
        """Nothing may be enrolled: a problem somewhere (or nobody to enrol)."""
        return bool(self.problems) or not self.rows or any(row.problems for row in self.rows)

    @property
    def in_the_past(self) -> list[Reviewed]:
        return [row for row in self.rows if row.past is not None]

    @property
    def with_problems(self) -> list[Reviewed]:
        return [row for row in self.rows if row.problems]


@dataclass(frozen=True)
class Setting:
    """What the deployment and the environment give a review (the same for every row)."""

    coaches: Iterable[str]
    programme: Programme | None  # the default: for a row that names none
    bot_username: str
    allocation_key: bytes | None
    programmes: Mapping[str, Programme] = field(default_factory=dict)  # the deployment's, by id (issue 15)


async def known_cohorts(storage: Storage) -> list[str]:
    """The cohorts someone was enrolled in, and the randomised ones (made before their first enrolment)."""
    return sorted(set(await storage.cohorts()) | {c.cohort for c in await storage.randomised_cohorts()})


async def review(storage: Storage, rows: Sequence[tuple[int, EnrolmentRequest, Sequence[Problem]]],
                 setting: Setting, now: datetime, *, new_cohort: str | None = None,
                 file_problems: Sequence[Problem] = ()) -> Review:
    """Every row with all its problems; `new_cohort`: the one cohort name the administrator chose to create."""
    randomised = {c.cohort: c for c in await storage.randomised_cohorts()}
    cohorts = set(await storage.cohorts()) | set(randomised)
    coaches = list(setting.coaches)
    first_line: dict[str, int] = {}
    reviewed: list[Reviewed] = []
    phones = [_phone(request.phone) for _, request, _ in rows]
    # asked together, so the storage's reader looks them all up in one batch (one by one: a transaction per row)
    owners = await asyncio.gather(*(storage.participant_by_address("sms", p) for p in phones if p is not None))
    owner_of = dict(zip([p for p in phones if p is not None], owners, strict=True))
    for (line, request, found), phone in zip(rows, phones, strict=True):
        problems = [*found, *problems_of(request, coaches)]
        if phone is not None:
            owner = owner_of[phone]
            if owner is not None:
                problems.append(Problem(PHONE_TAKEN, {"ref": owner.ref}))
            if phone in first_line:
                problems.append(Problem(PHONE_TWICE, {"other": str(first_line[phone])}))
            first_line.setdefault(phone, line)
        cohort = (request.cohort or "").strip()
        is_new = bool(cohort) and cohort not in cohorts and cohort == (new_cohort or "").strip()
        if cohort and cohort not in cohorts and not is_new:
            problems.append(Problem(UNKNOWN_COHORT, {"cohort": cohort}, code="cohort"))
        if cohort in randomised:
            if setting.allocation_key is None:
                problems.append(Problem(NO_ALLOCATION_KEY, {"cohort": cohort}))
            elif key_id(setting.allocation_key) != randomised[cohort].key_id:
                problems.append(Problem(OTHER_ALLOCATION_KEY, {"cohort": cohort}))
        if request.telegram and not setting.bot_username:
            problems.append(Problem(NO_BOT_USERNAME))
        programme = _programme(request, setting, problems)
        past = None
        if request.start_date is not None:
            if request.start_date > now.date() + FAR_AHEAD:
                problems.append(Problem(FAR_START, {"date": request.start_date}))
            past = past_start(programme, request.start_date, now)
        reviewed.append(Reviewed(line, request, tuple(problems), past, is_new))
    return Review(tuple(reviewed), tuple(file_problems))


def _programme(request: EnrolmentRequest, setting: Setting, problems: list[Problem]) -> Programme | None:
    """The programme the row will follow (its own choice, or the default), or a problem naming the choices."""
    try:
        return chosen_programme(request, setting.programme, setting.programmes)
    except EnrolmentError:
        choices = ", ".join(sorted({*setting.programmes, *([setting.programme.id] if setting.programme else [])}))
        named = (request.programme or "").strip()
        problems.append(Problem(UNKNOWN_PROGRAMME, {"programme": named, "choices": choices}) if named
                        else Problem(NO_PROGRAMME_CHOSEN, {"choices": choices}))
        return None


def _phone(raw: str | None) -> str | None:
    try:
        return normalize(raw) if raw else None
    except PhoneNumberError:
        return None  # problems_of says so
