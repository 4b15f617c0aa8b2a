"""Alerts: the open escalations a coach may act on, most urgent first, kept current by htmx polling.

Three views: mine (sent to me, or taken by me), my participants', all I may see (bot/people.py decides who may see
which). Acknowledge, close with an outcome note and release the hold are the terminal desk's own actions
(bot/coach.py `CoachDesk.take`), so the rules, the audit rows and the participant's conversation are the same.

What triggered an alert (the participant's own words) is on the card: only those who may act on the alert get the
card at all, and the words go to the page, never to a log or an audit row. The time left is said the way a coach
reads it at a glance ("12 min.", "3 t. og 20 min.", "i morgen 12.00"), in CLDR's words through babel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from babel import Locale
from babel.dates import format_skeleton, format_time, format_timedelta
from babel.lists import format_list
from babel.units import format_unit
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot import people
from bot.clock import COPENHAGEN
from bot.coach import MAX_NOTE, MIN_NOTE
from bot.desk.context import Desk
from bot.desk.templating import date_locale
from bot.escalation import level_name, trigger_quotes
from flows import phrases
from flows.model import StepType
from storage.records import Escalation, EscalationStatus, EscalationTrigger, Profile

LEVELS = {"high": 0, "moderate": 1, "low": 2}
FILTERS = ("mine", "my_participants", "all")
SAY_HOURS_UNTIL = timedelta(hours=6)  # further off, the deadline is said as a day and a time


@dataclass(frozen=True)
class AlertRow:
    escalation: Escalation
    level: str  # the level's name in the coach's language
    profile: Profile | None
    mine: bool  # sent to this coach, or taken by them
    my_participant: bool
    left: str  # time left to the deadline in words ("12 min."), or how long ago it passed; "" without a deadline
    late: bool  # the deadline has passed
    trigger: list[tuple[str, str]]  # the participant's words that raised it, and what recognised them (page only)
    taken_by: str  # the name of the coach who acknowledged it; "" while open
    asked: list[tuple[str, str]] = field(default_factory=list)  # per trigger: (question, answer) of an answer; ("", "")


def asked_and_answered(desk: Desk, t: EscalationTrigger, lang: str) -> tuple[str, str]:
    """The question an answer-triggered alert came from, in the coach's language, and the answer in words ("Yes"):
    "safety_check q1 = 1" under »1« told a coach nothing of what the person had said yes to. ("", "") for a
    message, or a question no longer in the flows."""
    data = t.trigger
    if t.trigger_kind == "text":
        return "", ""
    library = desk.loop.registry.library
    flow_id, answer = str(data.get("flow_id", "")), str(data.get("answer", ""))
    version = data.get("flow_version")
    flow = (library.get(flow_id, version) if isinstance(version, int) else None) or library.latest(flow_id)
    step = flow.step(str(data.get("item_id", ""))) if flow is not None else None
    if step is None:
        return "", ""
    said = next((c.label.get(lang) for c in step.choices if str(c.value) == answer), None)
    if said is None and step.type is StepType.YESNO and answer in ("1", "0"):
        said = desk.catalogs.gettext(lang, phrases.YES if answer == "1" else phrases.NO)
    return step.text.get(lang), said or answer


def duration(delta: timedelta, lang: str) -> str:
    """"12 min.", "3 t. og 20 min." ("3 hr 20 min"); whole days as babel says them ("2 dage")."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes >= 24 * 60:
        return format_timedelta(delta, threshold=1, locale=lang)
    hours, minutes = divmod(minutes, 60)
    parts = [format_unit(hours, "duration-hour", length="short", locale=lang)] if hours else []
    if minutes or not hours:
        parts.append(format_unit(minutes, "duration-minute", length="short", locale=lang))
    return format_list(parts, style="unit-narrow", locale=lang)


def time_left(deadline: datetime, now: datetime, lang: str) -> str:
    """Time to the deadline as a coach reads it: a duration within a few hours, else the day and the time
    ("i morgen 12.00", "tomorrow, 12:00 PM", "fre. 20. mar. 12.00"): CLDR's relative day names and patterns."""
    if deadline - now < SAY_HOURS_UNTIL:
        return duration(deadline - now, lang)
    local = deadline.astimezone(COPENHAGEN)
    locale = Locale.parse(date_locale(lang))
    days = (local.date() - now.astimezone(COPENHAGEN).date()).days
    relative = locale._data["date_fields"]["day"]["relative"]  # CLDR: "i dag", "i morgen", "i overmorgen"
    day = relative[days] if days in relative else format_skeleton("MMMEd", local, locale=locale)
    return str(locale.datetime_formats["short"]).format(format_time(local, "short", locale=locale), day)


async def visible_alerts(desk: Desk, coach_id: str, lang: str, now: datetime) -> list[AlertRow]:
    rows = []
    escalations = await desk.storage.escalations(only_open=True)
    sent: dict[int, set[str]] = {}
    if escalations:  # whom each was sent to: one read for all of them, not one per alert
        open_ids = {e.id for e in escalations}
        for n in await desk.storage.notifications():
            if n.escalation_id in open_ids:
                sent.setdefault(n.escalation_id, set()).add(n.coach_id)
    profiles: dict[int, Profile | None] = {}
    for e in escalations:
        if e.participant_id not in profiles:
            profiles[e.participant_id] = await desk.storage.profile(e.participant_id)
        profile, sent_to = profiles[e.participant_id], sent.get(e.id, set())
        if not people.may_act(desk.deployment, coach_id, profile, sent_to):
            continue
        late = e.deadline_at is not None and e.deadline_at <= now
        left = "" if e.deadline_at is None else (duration(now - e.deadline_at, lang) if late
                                                 else time_left(e.deadline_at, now, lang))
        taker = desk.deployment.coaches.get(e.acknowledged_by or "")
        rows.append(AlertRow(e, level_name(desk.catalogs, lang, e.level), profile,
                             coach_id in sent_to or e.acknowledged_by == coach_id,
                             profile is not None and profile.coach_id == coach_id, left, late, trigger_quotes(e),
                             taker.name if taker else (e.acknowledged_by or ""),
                             [asked_and_answered(desk, t, lang) for t in e.triggers]))
    rows.sort(key=lambda r: (r.escalation.status is not EscalationStatus.OPEN, LEVELS.get(r.escalation.level, 0),
                             r.escalation.deadline_at or r.escalation.opened_at))
    return rows


def chosen(rows: list[AlertRow], which: str) -> list[AlertRow]:
    if which == "mine":
        return [r for r in rows if r.mine]
    if which == "my_participants":
        return [r for r in rows if r.my_participant]
    return rows


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request, fragment: bool = False) -> Response:
        coach = desk.coach(request)
        which = request.query_params.get("show", "mine" if not coach.is_admin else "all")
        which = which if which in FILTERS else "all"
        rows = await visible_alerts(desk, coach.id, request.state.lang, desk.clock.now())
        counts = {f: len(chosen(rows, f)) for f in FILTERS}
        if not fragment:  # the poll is the same look kept current: audited once, when the page is opened
            await desk.audit(request, "escalation.listed", "open escalations", {"count": len(rows)})
        waiting = sum(1 for r in rows if r.escalation.status is EscalationStatus.OPEN)  # nobody has taken them
        context = {"rows": chosen(rows, which), "show": which, "counts": counts, "filters": FILTERS,
                   "waiting": waiting, "fragment": fragment,
                   "poll": desk.config.poll_seconds, "now": desk.clock.now(), "min_note": MIN_NOTE,
                   "max_note": MAX_NOTE, "done": request.query_params.get("done"),
                   "done_id": request.query_params.get("id", "")}
        return desk.templates.render(request, "alerts_list.html" if fragment else "alerts.html", context)

    async def listing(request: Request) -> Response:
        return await page(request, fragment=True)

    async def act(request: Request) -> Response:
        coach = desk.coach(request)
        action = request.path_params["action"]
        if action not in ("ack", "close", "release"):
            return Response(status_code=404)
        e = await desk.storage.escalation(request.path_params["id"])
        if e is None or not await desk.coach_desk.may_see(coach.id, e):
            if e is not None:
                await desk.audit(request, "escalation.refused", "escalation", {"escalation_id": e.id})
            return Response(status_code=404)
        form = await request.form()
        outcome = await desk.coach_desk.take(coach.id, e, action, str(form.get("note", ""))[:MAX_NOTE])
        await desk.audit(request, f"alert.{action}", f"participant:{e.participant_ref}",
                         {"escalation_id": e.id, "outcome": outcome})
        back = str(form.get("show", "all"))
        return RedirectResponse(f"/alerts?show={back if back in FILTERS else 'all'}&done={outcome}&id={e.id}",
                                status_code=303)

    return [Route("/alerts", page), Route("/alerts/list", listing),
            Route("/alerts/{id:int}/{action:str}", act, methods=["POST"])]
