"""Who a coach may open, how to reach them, and finding them by name or number (issue 11, point 8).

A coach on call must be able to phone the person an alert is about: the alert, SHOW and PERSON carry the
name and phone number to a coach allowed to see them, and each look is audited by the caller. Who is allowed:
an administrator (everyone), the person's own coach, and, for people with an alert, whoever may act on it
(the duty roster and anyone the alert was sent to), so the duty coach who takes an alert for someone
without a coach of their own can open that person's page.
"""

from __future__ import annotations

import re

from bot.deployment import Deployment
from bot.phone import PhoneNumberError, normalize
from flows.textnorm import fold
from storage.ports import Storage
from storage.records import AddressStatus, Escalation, Profile

MIN_QUERY = 2  # one letter is no search
WHOLE_BELOW = 3  # a word shorter than this matches a whole word of the name ("Bo"), not any part ("an": half of them)


async def may_act_on(storage: Storage, deployment: Deployment, coach_id: str, escalation: Escalation) -> bool:
    """Who may open an alert: anyone in the duty roster (on duty, backup, clinical lead), anyone it was sent
    to, the participant's own coach, and administrators. Other coaches see nothing of it."""
    if sees_every_alert(deployment, coach_id):
        return True
    profile = await storage.profile(escalation.participant_id)
    sent_to = {n.coach_id for n in await storage.notifications(escalation.id)}
    return may_act(deployment, coach_id, profile, sent_to)


def sees_every_alert(deployment: Deployment, coach_id: str) -> bool:
    """Administrators and everyone in the duty roster."""
    return deployment.coaches[coach_id].is_admin or on_roster(deployment, coach_id)


def may_act(deployment: Deployment, coach_id: str, profile: Profile | None, sent_to: set[str]) -> bool:
    """`may_act_on` for a caller that has read the person's profile and whom the alert was sent to already (the
    desk's alert list reads them for every open alert in two statements)."""
    return sees_every_alert(deployment, coach_id) or (profile is not None and profile.coach_id == coach_id) \
        or coach_id in sent_to


def on_roster(deployment: Deployment, coach_id: str) -> bool:
    return any(coach_id in ids for ids in deployment.roster.values())


async def may_open(storage: Storage, deployment: Deployment, coach_id: str, profile: Profile) -> bool:
    """A person's page: their own coach, administrators, whoever may act on one of their alerts, and, for someone
    without a coach, the duty roster, who read their messages (bot/messages.py `may_read`) and must be able to
    call them back."""
    if deployment.coaches[coach_id].is_admin or profile.coach_id == coach_id:
        return True
    if profile.coach_id is None and on_roster(deployment, coach_id):
        return True
    pid = profile.participant.id
    for escalation in await storage.escalations():
        if escalation.participant_id == pid and await may_act_on(storage, deployment, coach_id, escalation):
            return True
    return False


async def visible(storage: Storage, deployment: Deployment, coach_id: str) -> list[Profile]:
    """Everyone the coach may open, own participants first."""
    coach = deployment.coaches[coach_id]
    ids = list(await storage.participant_ids(None if coach.is_admin else coach_id))
    if not coach.is_admin and on_roster(deployment, coach_id):  # those without a coach (`may_open`)
        ids += await storage.participant_ids(without_coach=True)
    if not coach.is_admin:
        for escalation in await storage.escalations():
            if escalation.participant_id not in ids and await may_act_on(storage, deployment, coach_id, escalation):
                ids.append(escalation.participant_id)
    profiles = [await storage.profile(pid) for pid in ids]
    return [p for p in profiles if p is not None]


async def numbers(storage: Storage, participant_id: int) -> str:
    """How to reach the person: the phone number (and whether SMS is stopped), and Telegram if linked."""
    parts: list[str] = []
    for address in await storage.addresses(participant_id):
        state = "" if address.status is AddressStatus.ACTIVE else f" ({address.status.value})"
        if address.channel == "sms":
            parts.insert(0, f"tlf. {address.address}{state}")
        else:
            parts.append(f"{address.channel}{state}")
    return ", ".join(parts) or "–"


async def contact(storage: Storage, profile: Profile) -> str:
    """"Anna Jensen, tlf. +4512345678, telegram": what a coach needs to call."""
    return f"{profile.name}, {await numbers(storage, profile.participant.id)}"


async def search(storage: Storage, deployment: Deployment, coach_id: str, query: str) -> list[Profile]:
    """People the coach may open whose name contains the words of `query`, or whose number it is."""
    if not searchable(query):
        return []
    phone = phone_in(query)
    found = []
    for profile in await visible(storage, deployment, coach_id):
        by_name = name_matches(query, profile.name)
        if by_name or (phone is not None and phone in await _phones(storage, profile.participant.id)):
            found.append(profile)
    return found


def searchable(query: str) -> bool:
    """Long enough to search by: two letters ("Bo", "Li": Danish names), which match whole words only."""
    return len(fold(query).strip()) >= MIN_QUERY


def name_form(text: str) -> str:
    """A name or a search as compared: case and accents ignored, and æ/ø/å the same as a/o/a, ae/oe/aa (a coach
    on an English keyboard types "Soren" for "Søren"); words kept apart."""
    return fold(text).replace("ae", "a").replace("oe", "o").replace("aa", "a")


def name_matches(query: str, name: str) -> bool:
    """Every word of the query is in the name, whatever the case and accents ("soren" finds "Søren"); a word of
    one or two letters only as a whole word of the name ("bo" finds "Bo Nielsen", not "Bodil")."""
    return words_in(name_form(query).split(), name_form(name))


def words_in(folded_words: list[str], folded_name: str) -> bool:
    """`name_matches` with both sides in `name_form` already (a search over thousands of names forms each once)."""
    whole: set[str] | None = None
    for word in folded_words:
        if len(word) >= WHOLE_BELOW:
            if word not in folded_name:
                return False
            continue
        if whole is None:
            whole = set(re.split(r"[^\w]+", folded_name))
        if word not in whole:
            return False
    return True


async def _phones(storage: Storage, participant_id: int) -> set[str]:
    return {a.address for a in await storage.addresses(participant_id) if a.channel == "sms"}


def phone_in(query: str) -> str | None:
    """The query as a phone number (E.164) when it is one (8 digits or more), else None."""
    digits = [c for c in query if c.isdigit()]
    if len(digits) < 8:
        return None
    try:
        return normalize(query)
    except PhoneNumberError:
        return None
