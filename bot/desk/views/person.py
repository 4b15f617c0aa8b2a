"""A person's page: who they are and how to reach them, their programme, their scores over time, what is planned
for them, and everything in and out; with a coach's note, a task done, a scheduled message skipped, the programme
paused, stopped or resumed.

Who may open it is bot/people.py's `may_open` (own coach, administrators, whoever may act on one of their alerts,
the duty roster for someone without a coach); anyone else gets the same 404 whether the ref exists or not, and the
refusal is audited. Every look is audited as the terminal's PERSON is ("overview.viewed"), every action with its own
row: refs and ids only, never a note's text or a reason. The programme is paused through the conversation (flows
`CoachPause`), so the engine that sends the reminders is the one that keeps to the pause; a crisis reply is a reply,
never held back by it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time

from babel.dates import format_date
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot import people
from bot.clock import COPENHAGEN
from bot.desk.context import Desk
from bot.desk.person_page import SKIPPABLE, read_page
from bot.desk.templating import date_locale
from bot.escalation import level_name
from bot.overview import MAX_NOTE, MIN_NOTE, write_note
from bot.rendering import format_number
from flows.companion import COACH_RESUME
from flows.due import SKIPPED_BY
from flows.inputs import CoachPause
from flows.phrases import N_
from flows.state import COACH_PAUSE, COACH_STOP
from storage.records import Profile

SHOWN = 60  # timeline entries on the first view; "older" adds as many again
MAX_SHOWN = 480
ACTIONS = (COACH_PAUSE, COACH_STOP, COACH_RESUME)
MIN_REASON = MIN_NOTE


def routes(desk: Desk) -> list[Route]:
    async def opened(request: Request) -> Profile | None:
        """The person, when this coach may open them; None (audited) when not, or when there is no such ref."""
        coach = desk.coach(request)
        profile = await desk.storage.profile_by_ref(request.path_params["ref"])
        if profile is None or not await people.may_open(desk.storage, desk.deployment, coach.id, profile):
            await desk.audit(request, "overview.refused", "participant")
            return None
        return profile

    def missing(request: Request) -> Response:
        """The same page, the same status, whether the ref is someone else's or nobody's."""
        return desk.templates.render(request, "person_missing.html", status=404)

    def back(profile: Profile, done: str, anchor: str = "") -> Response:
        return RedirectResponse(f"/people/{profile.participant.ref}?done={done}{anchor}", status_code=303)

    async def page(request: Request) -> Response:
        profile = await opened(request)
        if profile is None:
            return missing(request)
        lang = request.state.lang
        translations = desk.catalogs.translations(lang)
        try:
            limit = min(max(int(request.query_params.get("shown", SHOWN)), SHOWN), MAX_SHOWN)
        except ValueError:
            limit = SHOWN
        data = await read_page(desk, profile, lang, limit, translations.gettext,
                               lambda v: format_number(round(v, 1), lang))
        await desk.audit(request, "overview.viewed", f"participant:{profile.participant.ref}", {"contact": True})
        now = desk.clock.now()
        context = {"p": data, "now": now, "done": request.query_params.get("done", ""), "shown": limit,
                   "more": min(limit + SHOWN, MAX_SHOWN) if len(data.entries) >= limit < MAX_SHOWN else None,
                   "min_note": MIN_NOTE, "max_note": MAX_NOTE, "coach_paused": data.progress.coach_paused(now),
                   "own_pause": data.progress.paused_until is not None and data.progress.paused_until > now,
                   "today": now.astimezone(COPENHAGEN).date().isoformat()}
        return desk.templates.render(request, "person.html", {**context, **words(desk, lang)})

    async def note(request: Request) -> Response:
        profile = await opened(request)
        if profile is None:
            return missing(request)
        text = str((await request.form()).get("note", ""))[:MAX_NOTE]
        saved = await write_note(desk.storage, desk.coach(request).id, profile, text, desk.clock.now(), via="desk")
        return back(profile, "note_saved" if saved else "note_needed", "#notes")

    async def task_done(request: Request) -> Response:
        profile = await opened(request)
        if profile is None:
            return missing(request)
        task_id = request.path_params["id"]
        tasks = await desk.storage.coach_tasks(only_open=True, participant_id=profile.participant.id)
        if not any(t.id == task_id for t in tasks):
            return back(profile, "task_already", "#tasks")
        if await desk.storage.complete_task(task_id, desk.coach(request).id, desk.clock.now()):
            await desk.audit(request, "task.done", f"task:{task_id}", {"participant": profile.participant.ref})
            return back(profile, "task_done", "#tasks")
        return back(profile, "task_already", "#tasks")

    async def skip(request: Request) -> Response:
        profile = await opened(request)
        if profile is None:
            return missing(request)
        schedule_id = request.path_params["id"]
        undo = str((await request.form()).get("undo", "")) == "1"
        pid = profile.participant.id
        row = next((r for r in await desk.storage.schedule_of(pid) if r.id == schedule_id), None)
        coach_id = desk.coach(request).id
        if row is None or row.kind not in SKIPPABLE or not await desk.storage.annotate_schedule(
                pid, schedule_id, {SKIPPED_BY: None if undo else coach_id}, desk.clock.now()):
            return back(profile, "skip_too_late", "#upcoming")
        await desk.audit(request, "schedule.unskipped" if undo else "schedule.skipped",
                         f"participant:{profile.participant.ref}", {"schedule_id": schedule_id, "kind": row.kind})
        return back(profile, "unskipped" if undo else "skipped", "#upcoming")

    async def programme(request: Request) -> Response:
        profile = await opened(request)
        if profile is None:
            return missing(request)
        form = await request.form()
        action = str(form.get("action", ""))
        reason = str(form.get("reason", "")).strip()[:MAX_NOTE]
        if action not in ACTIONS:
            return Response(status_code=400)
        if len(reason) < MIN_REASON:
            return back(profile, "reason_needed", "#programme")
        until = _until(str(form.get("until", ""))) if action == COACH_PAUSE else None
        if action == COACH_PAUSE and until is not None and until <= desk.clock.now():
            return back(profile, "until_past", "#programme")
        coach_id = desk.coach(request).id
        await desk.loop.handle(profile.participant, CoachPause(action, coach_id, reason, until), "console")
        await desk.audit(request, f"programme.coach_{action}", f"participant:{profile.participant.ref}",
                         {"until": until.isoformat()} if until else {})
        return back(profile, f"programme_{action}", "#programme")

    return [Route("/people/{ref:str}", page),
            Route("/people/{ref:str}/note", note, methods=["POST"]),
            Route("/people/{ref:str}/tasks/{id:int}/done", task_done, methods=["POST"]),
            Route("/people/{ref:str}/schedule/{id:int}/skip", skip, methods=["POST"]),
            Route("/people/{ref:str}/programme", programme, methods=["POST"])]


# The flows' score ids (flows/definitions/*.yaml `scores:`) as a coach reads them next to the flow's title; an id
# not listed here is shown as it is.
SCORE_NAMES = {"total": N_("total"), "raw": N_("raw score"), "percent": N_("percent"), "minutes": N_("minutes"),
               "tension_before": N_("tension before"), "tension_after": N_("tension after"),
               "tension_change": N_("change in tension"), "wellbeing": N_("well-being"),
               "work_status": N_("work status"), "work_since_days": N_("days since the change at work"),
               "satisfaction": N_("life satisfaction")}


def words(desk: Desk, lang: str) -> dict[str, Callable[..., str]]:
    """Names the page takes from where they are defined: task kinds (the terminal's phrases), alert levels, and the
    flows' own titles and band labels (flows/definitions)."""
    library = desk.loop.registry.library

    def task_name(kind: str) -> str:
        return desk.task_name(kind, lang)

    def flow_title(flow_id: str) -> str:
        flow = library.latest(flow_id)
        return flow.title.get(lang) if flow else flow_id

    def band_name(flow_id: str, score_id: str, band_id: str) -> str:
        flow = library.latest(flow_id)
        score = next((s for s in flow.scores if s.id == score_id), None) if flow else None
        band = next((b for b in score.bands if b.id == band_id), None) if score else None
        return band.label.get(lang) if band else band_id

    def score_name(score_id: str) -> str:
        return desk.catalogs.gettext(lang, SCORE_NAMES[score_id]) if score_id in SCORE_NAMES else score_id

    return {"task_name": task_name, "flow_title": flow_title, "band_name": band_name, "score_name": score_name,
            "level_name": lambda level: level_name(desk.catalogs, lang, level),
            "day": lambda d: _day(d, lang),
            "coach_name": lambda coach_id: c.name if (c := desk.deployment.coaches.get(coach_id)) else coach_id}


def _day(value: date | str | None, lang: str) -> str:
    """A day in the coach's language; a stored ISO text ("2026-03-20T00:00:00+01:00", a pause's end in a
    milestone's detail) is read as the day it names, so no date is ever shown in ISO form."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10]) if value else None
    return format_date(value, "short", locale=date_locale(lang)) if value else "–"


def _until(value: str) -> datetime | None:
    """A date from the form's date field: the pause ends as that day begins in Copenhagen; None: no end date."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(day, time.min, COPENHAGEN)
