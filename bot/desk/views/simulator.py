"""The simulator (/admin/simulator): an administrator lives the programme as a participant, on a scratch database.

The chat (what the bot said, what "the participant" answered, and notes of what the bot did besides: an alert that
would be raised, a task for the coach, a measurement answered) stands beside the programme: what comes next and its
modules and measurements by day. Buttons answer (the question's own choices, free text, "answer for me") and move
the simulated clock (the next message, a day, a week, to day N). It is bot/simulator.py: the real engine, loop and
scheduler on a temporary SQLite file under a fake clock, one per administrator (bot/desk/simulations.py); nothing
reaches the live database, a channel or a coach, and the page says so.

Audit rows name the action and the simulated day, never what was typed (a risk sentence tried here is nobody's).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.clock import COPENHAGEN
from bot.deployment import Coach
from bot.desk.context import Desk
from bot.desk.simulations import Simulations, TooManySimulations
from bot.desk.views.admin import admin_only
from bot.desk.views.programme_timeline import start_from
from bot.simulator import MAX_DAYS, MAX_TEXT, Simulation, SimulationLimit, auto_answer

SHOWN = 400  # the latest chat entries on the page (a whole 6-month programme answered is about 700)
MOVES = {"next": None, "day": timedelta(days=1), "week": timedelta(weeks=1)}


def routes(desk: Desk) -> list[Route]:
    simulations = Simulations(desk.clock)

    def back(problem: str = "") -> Response:
        return RedirectResponse("/admin/simulator" + (f"?problem={problem}" if problem else ""), status_code=303)

    async def page(request: Request, coach: Coach) -> Response:
        await simulations.sweep()
        held = simulations.get(coach.id)
        today = desk.clock.now().astimezone(COPENHAGEN).date()
        context: dict[str, object] = {"programme": desk.programme, "problem": request.query_params.get("problem", ""),
                                      "choices": desk.programme_choices(request.state.lang),
                                      "chosen": desk.programme.id if desk.programme else "",
                                      "default_start": start_from("", today)[0], "max_days": MAX_DAYS,
                                      "max_text": MAX_TEXT, "simulation": None}
        if held is not None:
            async with held.lock:
                if held.ended:  # ended while this request waited
                    return back("gone")
                async with held.simulation.awake():
                    context.update(await showing(held.simulation))
            lang = request.state.lang
            context["task_name"] = lambda kind: desk.task_name(kind, lang)
        await desk.audit(request, "simulator.viewed", "simulator",
                         {"day": held.simulation.day if held is not None else None})
        return desk.templates.render(request, "admin_simulator.html", context)

    async def start(request: Request, coach: Coach) -> Response:
        form = await request.form()
        programme = desk.programmes.get(str(form.get("programme", ""))) or desk.programme
        today = desk.clock.now().astimezone(COPENHAGEN).date()
        first, understood = start_from(str(form.get("start", "")).strip(), today)
        lang = str(form.get("lang", "da"))
        channel = str(form.get("channel", "sms"))
        if programme is None or not understood or lang not in ("da", "en") or channel not in ("sms", "telegram"):
            return back("start")
        by_itself = form.get("auto") == "yes"

        def create() -> Awaitable[Simulation]:
            return Simulation.create(first, lang, channel, answerer=auto_answer if by_itself else None,
                                   programme=programme, library=desk.loop.registry.library,
                                   deployment=desk.deployment, catalogs=desk.catalogs)
        try:
            await simulations.start(coach.id, create)
        except TooManySimulations:
            return back("busy")
        await desk.audit(request, "simulator.started", "simulator",
                         {"programme": programme.id, "start": first.isoformat(), "lang": lang, "channel": channel,
                          "auto": by_itself})
        return back()

    async def act(request: Request, coach: Coach) -> Response:
        action = request.path_params["action"]
        held = simulations.get(coach.id)
        if held is None:
            return back("gone")
        form = await request.form()
        async with held.lock:
            if held.ended:  # ended while this request waited
                return back("gone")
            done = await acting(held.simulation, action, form)
        if done is not None:
            return back(done)
        await desk.audit(request, f"simulator.{action}", "simulator",
                         {"day": held.simulation.day, **({"by": str(form.get("by"))} if action == "move" else {})})
        return back()

    async def end(request: Request, coach: Coach) -> Response:
        if await simulations.end(coach.id):
            await desk.audit(request, "simulator.ended", "simulator")
        return back()

    return [Route("/admin/simulator", admin_only(desk, page)),
            Route("/admin/simulator/start", admin_only(desk, start), methods=["POST"]),
            Route("/admin/simulator/end", admin_only(desk, end), methods=["POST"]),
            Route("/admin/simulator/{action:str}", admin_only(desk, act), methods=["POST"])]


async def acting(simulation: Simulation, action: str, form: FormData) -> str | None:
    """Do what a button asked, awake; the problem to show (None: done)."""
    async with simulation.awake():
        try:
            if action == "say":
                await simulation.say(str(form.get("text", ""))[:MAX_TEXT])
            elif action == "answer_for_me":
                await simulation.answer_for_me()
            elif action == "release":
                await simulation.release_hold()
            elif action == "move" and str(form.get("by", "")) in MOVES:
                delta = MOVES[str(form.get("by"))]
                await (simulation.next_message() if delta is None else simulation.forward(delta))
            elif action == "to_day" and str(form.get("day", "")).strip().isdigit():
                await simulation.to_day(int(str(form.get("day")).strip()))
            else:
                return "unknown"
        except SimulationLimit:
            return "limit"
    return None


async def showing(simulation: Simulation) -> dict[str, object]:
    """What the page shows of a simulation: the chat, where the clock stands, what is asked and what comes next."""
    programme = simulation.programme
    question = await simulation.question()
    sent = simulation.scratch.moment  # a milestone is passed once its day's send time has come
    milestones = sorted([(m.day, "module", str(m.number), sent(m.day, programme.send_time) <= simulation.now)
                         for m in programme.modules]
                        + [(w.day, "wave_open", w.id, sent(w.day, programme.send_time) <= simulation.now)
                           for w in programme.waves]
                        + [(programme.days, "end", "", sent(programme.days, programme.send_time) <= simulation.now)])
    entries = simulation.entries
    return {
        "simulation": simulation, "entries": entries[-SHOWN:], "hidden": max(0, len(entries) - SHOWN),
        "now": simulation.now, "day": simulation.day, "question": question,
        "coming": await simulation.coming(), "milestones": milestones,
        "start_date": simulation.scratch.start, "programme_days": programme.days,
        "asked": await simulation.asked(), "on_hold": await simulation.on_hold(),
        "participant_lang": simulation.scratch.participant.lang,
    }

