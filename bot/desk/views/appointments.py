"""Appointments: the upcoming talks and group sessions of the people a coach may see, with attended / not attended
buttons, a form to book one, and each one's move and cancel (issue 15).

Booking, moving and cancelling go through bot/appointments.py and bot/appointment_changes.py as the command line
does (the same checks, reminders, notices to the participants and audit rows); their problems are shown in the
coach's language. A coach books only for people they may see (bot/people.py `visible`), an administrator for anyone
or a cohort; a coach moves or cancels an appointment only when every attendee is theirs to see (a group session of
several coaches' participants is the administrators'). A participant's request to move it (FLYT) shows next to the
appointment, with the form to move it open. Marking someone not attended makes a coach task (storage).
Appointments stay listed until a day after they began, so the coach can mark them after the session; a cancelled
one stays listed as cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot import people
from bot.appointment_changes import cancel, move
from bot.appointments import (
    KINDS,
    MINUTES_NOT_WHOLE,
    NO_PARTICIPANT,
    BookingError,
    BookingProblem,
    BookingRequest,
    book,
)
from bot.desk.context import Desk
from flows.phrases import N_
from storage.appointment_records import Appointment

SHOWN_AFTER_START = timedelta(days=1)
CONFIRM_CANCEL = N_("tick the box to confirm that it is cancelled and the participants told")
MAX_FIELD = 500


def routes(desk: Desk) -> list[Route]:
    async def visible_ids(coach_id: str) -> dict[int, str]:
        return {p.participant.id: p.participant.ref for p in await people.visible(desk.storage, desk.deployment,
                                                                                   coach_id)}

    def gettext(request: Request) -> Callable[[str], str]:
        lang = request.state.lang
        return lambda message: desk.catalogs.gettext(lang, message)

    async def changeable(is_admin: bool, mine: dict[int, str]) -> set[int]:
        """The appointments still ahead, not cancelled, that this coach may move or cancel."""
        return {a.id for a in await desk.storage.appointments(since=desk.clock.now())
                if a.cancelled_at is None and may_change(a, is_admin, mine)}

    async def page(request: Request, problems: tuple[str, ...] = (), form: dict[str, str] | None = None,
                   status: int = 200, change: tuple[int, tuple[str, ...]] | None = None) -> Response:
        coach = desk.coach(request)
        mine = await visible_ids(coach.id)
        now = desk.clock.now()
        listed = await desk.storage.appointments(since=now - SHOWN_AFTER_START, participant_ids=list(mine))
        if not problems and change is None:
            await desk.audit(request, "appointment.listed", "appointments", {"count": len(listed)})
        context = {"appointments": listed, "kinds": KINDS, "problems": problems, "form": form or {},
                   "done": request.query_params.get("done"), "is_admin": coach.is_admin, "now": now,
                   "changeable": await changeable(coach.is_admin, mine),
                   "change": change or (0, ()), "changed": request.query_params.get("id", "")}
        response = desk.templates.render(request, "appointments.html", context)
        response.status_code = status
        return response

    async def listing(request: Request) -> Response:
        return await page(request)

    async def book_one(request: Request) -> Response:
        coach = desk.coach(request)
        form = {k: str(v)[:MAX_FIELD] for k, v in (await request.form()).items() if k != "csrf"}
        refs = tuple(form.get("people", "").replace(",", " ").split())
        cohort = form.get("cohort", "").strip() if coach.is_admin else ""
        mine = set((await visible_ids(coach.id)).values())
        minutes = form.get("minutes", "60").strip()
        problems = [BookingProblem(NO_PARTICIPANT, {"ref": repr(ref)}) for ref in refs if ref not in mine]
        if not minutes.isdigit():
            problems.append(BookingProblem(MINUTES_NOT_WHOLE, {"minutes": repr(minutes)}))
        if not problems:
            request_ = BookingRequest(form.get("kind", ""), form.get("time", ""), int(minutes), form.get("place", ""),
                                      form.get("video", ""), refs, cohort)
            try:
                [booked] = await book(desk.storage, [request_], f"coach:{coach.id}", desk.clock.now())
            except BookingError as exc:
                problems += exc.details
            else:
                return RedirectResponse(f"/appointments?done=booked&id={booked}", status_code=303)
        await desk.audit(request, "appointment.refused", "appointments", {"problems": len(problems)})
        return await page(request, tuple(p.said(gettext(request)) for p in problems), form, status=400)

    async def mark(request: Request) -> Response:
        coach = desk.coach(request)
        appointment_id, participant_id = request.path_params["id"], request.path_params["pid"]
        action = request.path_params["action"]
        if action not in ("attended", "missed") or participant_id not in await visible_ids(coach.id):
            return Response(status_code=404)
        done = await desk.storage.mark_attendance(appointment_id, participant_id, action == "attended", coach.id,
                                                  desk.clock.now())
        if not done:
            return Response(status_code=404)
        return RedirectResponse(f"/appointments?done={action}", status_code=303)

    async def change(request: Request) -> Response:
        coach = desk.coach(request)
        appointment_id, action = request.path_params["id"], request.path_params["action"]
        mine = await visible_ids(coach.id)
        since = desk.clock.now() - SHOWN_AFTER_START  # what the page lists (one begun is refused with a reason)
        found = next((a for a in await desk.storage.appointments(since=since) if a.id == appointment_id), None)
        if action not in ("move", "cancel") or found is None or not may_change(found, coach.is_admin, mine):
            return Response(status_code=404)  # not theirs to change, or not there: the same answer
        form = await request.form()
        now, actor = desk.clock.now(), f"coach:{coach.id}"
        try:
            if action == "move":
                await move(desk.storage, appointment_id, str(form.get("time", ""))[:MAX_FIELD], actor, coach.id, now)
            elif form.get("confirm") != "yes":  # the browser asks for the tick too; this is for a page without it
                raise BookingError([BookingProblem(CONFIRM_CANCEL)])
            else:
                await cancel(desk.storage, appointment_id, actor, now)
        except BookingError as exc:
            await desk.audit(request, "appointment.change_refused", f"appointment:{appointment_id}",
                             {"action": action, "problems": len(exc.details)})
            return await page(request, status=400, change=(appointment_id, tuple(exc.said(gettext(request)))))
        done = "moved" if action == "move" else "cancelled"
        return RedirectResponse(f"/appointments?done={done}&id={appointment_id}#appointment-{appointment_id}",
                                status_code=303)

    return [Route("/appointments", listing), Route("/appointments", book_one, methods=["POST"]),
            Route("/appointments/{id:int}/{pid:int}/{action:str}", mark, methods=["POST"]),
            Route("/appointments/{id:int}/{action:str}", change, methods=["POST"])]



def may_change(appointment: Appointment, is_admin: bool, mine: dict[int, str]) -> bool:
    """An administrator may change any appointment; a coach one whose every attendee they may see."""
    return is_admin or all(p.participant_id in mine for p in appointment.attendees)
