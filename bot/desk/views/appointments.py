"""Appointments: the upcoming talks and group sessions of the people a coach may see, with attended / not attended
buttons, and a form to book one (issue 15).

Booking goes through bot/appointments.py as the command line does (the same checks, reminders and audit row); a
coach books only for people they may see (bot/people.py `visible`), an administrator for anyone or a cohort.
Marking someone not attended makes a coach task (storage). Appointments stay listed until a day after they began,
so the coach can mark them after the session.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot import people
from bot.appointments import KINDS, BookingError, BookingRequest, book
from bot.desk.context import Desk

SHOWN_AFTER_START = timedelta(days=1)
MAX_FIELD = 500


def routes(desk: Desk) -> list[Route]:
    async def visible_ids(coach_id: str) -> dict[int, str]:
        return {p.participant.id: p.participant.ref for p in await people.visible(desk.storage, desk.deployment,
                                                                                   coach_id)}

    async def page(request: Request, problems: tuple[str, ...] = (), form: dict[str, str] | None = None,
                   status: int = 200) -> Response:
        coach = desk.coach(request)
        mine = await visible_ids(coach.id)
        now = desk.clock.now()
        listed = await desk.storage.appointments(since=now - SHOWN_AFTER_START, participant_ids=list(mine))
        if not problems:
            await desk.audit(request, "appointment.listed", "appointments", {"count": len(listed)})
        context = {"appointments": listed, "kinds": KINDS, "problems": problems, "form": form or {},
                   "done": request.query_params.get("done"), "is_admin": coach.is_admin, "now": now}
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
        hidden = [ref for ref in refs if ref not in mine]
        minutes = form.get("minutes", "60").strip()
        problems: list[str] = [f"no participant {ref!r}" for ref in hidden]
        if not minutes.isdigit():
            problems.append(f"minutes {minutes!r} is not a whole number")
        if not problems:
            request_ = BookingRequest(form.get("kind", ""), form.get("time", ""), int(minutes), form.get("place", ""),
                                      form.get("video", ""), refs, cohort)
            try:
                [booked] = await book(desk.storage, [request_], f"coach:{coach.id}", desk.clock.now())
            except BookingError as exc:
                problems += exc.problems
            else:
                return RedirectResponse(f"/appointments?done=booked&id={booked}", status_code=303)
        await desk.audit(request, "appointment.refused", "appointments", {"problems": len(problems)})
        return await page(request, tuple(problems), form, status=400)

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

    return [Route("/appointments", listing), Route("/appointments", book_one, methods=["POST"]),
            Route("/appointments/{id:int}/{pid:int}/{action:str}", mark, methods=["POST"])]
