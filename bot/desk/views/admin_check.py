"""Files checked in the browser (/admin/check): the flow, programme, word-list and deployment files the bot reads,
each problem with its file, line and what to do; and an edited file checked before it is put in place.

The checking is `flows check`'s (bot/desk/file_checks.py calls it); an edited file is checked in a scratch folder,
never written where the bot reads. A pasted file is at most `MAX_TEXT` characters (the guard lets this one form
carry that much, bot/desk/guard.py `LARGER_FORMS`); the page's script (static/admin_check.js) reads a chosen file
into the text box in the browser, so the form is a plain one that works without it. Audited: the check, with
counts and which file an edit replaces; never a file's text.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.deployment import Coach
from bot.desk.context import Desk
from bot.desk.file_checks import MAX_TEXT, NEW_FLOW, BotFiles, CheckResult, Edit, check_files, shown
from bot.desk.views.admin import admin_only


def routes(desk: Desk) -> list[Route]:
    def choices(files: BotFiles) -> list[tuple[str, str]]:
        """(key, name) of each file an edit may replace; a new flow has no name yet ("" says it in words)."""
        return [(key, "" if key.endswith(NEW_FLOW) else shown(path)) for key, path in files.choices().items()]

    def render(request: Request, files: BotFiles, result: CheckResult | None, *, edit: Edit | None = None,
               problem: str = "", status: int = 200) -> Response:
        return desk.templates.render(request, "admin_check.html", {
            "result": result, "edit": edit, "problem": problem, "choices": choices(files), "max_text": MAX_TEXT,
            "max_kb": MAX_TEXT // 1024, "edited_name": _edited_name(files, edit)}, status=status)

    async def page(request: Request, coach: Coach) -> Response:
        files = BotFiles.in_use()
        result = await check_files(files, desk.storage)
        await desk.audit(request, "files.checked", "files", {"errors": result.errors, "warnings": result.warnings})
        return render(request, files, result)

    async def check_edit(request: Request, coach: Coach) -> Response:
        files = BotFiles.in_use()
        form = await request.form()
        replaces, text = str(form.get("replaces", "")), str(form.get("text", ""))
        if replaces not in files.choices():
            return Response(status_code=400)
        edit = Edit(replaces, text.replace("\r\n", "\n"))
        if len(edit.text) > MAX_TEXT:
            await desk.audit(request, "files.check_refused", "files", {"replaces": replaces, "reason": "too large"})
            return render(request, files, None, edit=Edit(replaces, ""), problem="too_large", status=413)
        if not edit.text.strip():
            return render(request, files, None, edit=edit, problem="empty", status=400)
        result = await check_files(files, desk.storage, edit)
        await desk.audit(request, "files.checked_edit", "files",
                         {"replaces": replaces, "errors": result.errors, "warnings": result.warnings})
        return render(request, files, result, edit=edit)

    return [Route("/admin/check", admin_only(desk, page)),
            Route("/admin/check", admin_only(desk, check_edit), methods=["POST"])]


def _edited_name(files: BotFiles, edit: Edit | None) -> str:
    if edit is None:
        return ""
    return shown(files.choices()[edit.replaces])
