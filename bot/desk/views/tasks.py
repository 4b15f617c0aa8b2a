"""Tasks: every open task of one's own participants (an administrator: everyone's), overdue first, then by due
date; done with a note. Done is the terminal's DONE (bot/overview.py `complete_task`): the same rule for whose
tasks a coach may finish, the same audit row; the note is kept as a note on the person, never in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.desk.context import Desk
from bot.desk.views.people import scope
from bot.overview import MAX_NOTE
from storage.caseload import TaskRow
from storage.records import CoachTask

RECENT = timedelta(days=7)  # tasks done this recently are listed under the open ones


@dataclass(frozen=True)
class TaskLine:
    item: TaskRow
    kind: str  # the task's name in the coach's language
    overdue: bool


def task_title(desk: Desk, task: CoachTask, lang: str) -> str:
    """The task's name; a missed measurement with its day in the programme ("... (Dag 28)"): a person can miss
    several, and two identical lines told the coach nothing about which."""
    name = desk.task_name(task.kind, lang)
    wave = task.detail.get("wave") if task.kind == "wave_missed" else None
    day = next((w.day for p in desk.programmes.values() for w in p.waves if w.id == wave), None)
    return name if day is None else f"{name} ({desk.catalogs.gettext(lang, 'Day {n}').format(n=day)})"


def ordered(rows: list[TaskRow], now: datetime) -> list[TaskRow]:
    """Overdue first (the longest overdue at the top), then by due date, tasks without one last."""
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda r: (r.task.due_at is None or r.task.due_at >= now, r.task.due_at or far,
                                       r.task.created_at, r.task.id))


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request) -> Response:
        coach = desk.coach(request)
        now = desk.clock.now()
        rows = await desk.storage.tasks_of(scope(coach), done_since=now - RECENT)
        lang = request.state.lang
        open_rows = [TaskLine(r, task_title(desk, r.task, lang), r.task.due_at is not None and r.task.due_at < now)
                     for r in ordered([r for r in rows if r.task.done_at is None], now)]
        done_rows = [TaskLine(r, task_title(desk, r.task, lang), False)
                     for r in sorted((r for r in rows if r.task.done_at is not None),
                                     key=lambda r: r.task.done_at or now, reverse=True)]
        await desk.audit(request, "tasks.viewed", "tasks", {"count": len(open_rows)})
        context = {"open_rows": open_rows, "done_rows": done_rows, "max_note": MAX_NOTE,
                   "coach_names": {c.id: c.name for c in desk.deployment.coaches.values()},
                   "done": request.query_params.get("done"), "done_id": request.query_params.get("id", "")}
        return desk.templates.render(request, "tasks.html", context)

    async def done(request: Request) -> Response:
        coach = desk.coach(request)
        task_id = request.path_params["id"]
        form = await request.form()
        note = str(form.get("note", ""))[:MAX_NOTE]
        finished = await desk.coach_desk.overview.complete_task(coach.id, task_id, note)
        if finished is None:
            await desk.audit(request, "task.refused", f"task:{task_id}")
        outcome = "done" if finished is not None else "unknown"
        return RedirectResponse(f"/tasks?done={outcome}&id={task_id}", status_code=303)

    return [Route("/tasks", page), Route("/tasks/{id:int}/done", done, methods=["POST"])]
