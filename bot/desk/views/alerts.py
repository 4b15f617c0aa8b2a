"""Alerts: the open escalations a coach may act on, most urgent first, kept current by htmx polling.

Three views: mine (sent to me, or taken by me), my participants', all I may see (bot/people.py decides who may see
which). Acknowledge, close with an outcome note and release the hold are the terminal desk's own actions
(bot/coach.py `CoachDesk`), so the rules, the audit rows and the participant's conversation are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot import people
from bot.coach import MAX_NOTE, MIN_NOTE
from bot.desk.context import Desk
from bot.escalation import level_name
from storage.records import Escalation, EscalationStatus, Profile

LEVELS = {"high": 0, "moderate": 1, "low": 2}
FILTERS = ("mine", "my_participants", "all")


@dataclass(frozen=True)
class AlertRow:
    escalation: Escalation
    level: str  # the level's name in the coach's language
    profile: Profile | None
    mine: bool  # sent to this coach, or taken by them
    my_participant: bool
    minutes_left: int | None  # to the deadline; negative when past it; None once acknowledged


async def visible_alerts(desk: Desk, coach_id: str, lang: str, now: datetime) -> list[AlertRow]:
    rows = []
    for e in await desk.storage.escalations(only_open=True):
        if not await people.may_act_on(desk.storage, desk.deployment, coach_id, e):
            continue
        profile = await desk.storage.profile(e.participant_id)
        sent_to = {n.coach_id for n in await desk.storage.notifications(e.id)}
        left = None if e.deadline_at is None else int((e.deadline_at - now).total_seconds() // 60)
        rows.append(AlertRow(e, level_name(desk.catalogs, lang, e.level), profile,
                             coach_id in sent_to or e.acknowledged_by == coach_id,
                             profile is not None and profile.coach_id == coach_id, left))
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
        if not fragment:
            await desk.audit(request, "escalation.listed", "open escalations", {"count": len(rows)})
        context = {"rows": chosen(rows, which), "show": which, "counts": counts, "filters": FILTERS,
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
        back = str(form.get("show", "all"))
        return RedirectResponse(f"/alerts?show={back if back in FILTERS else 'all'}&done={outcome}&id={e.id}",
                                status_code=303)

    return [Route("/alerts", page), Route("/alerts/list", listing),
            Route("/alerts/{id:int}/{action:str}", act, methods=["POST"])]
