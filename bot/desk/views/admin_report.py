"""The outcome report in the browser (/admin/report): `python -m bot report outcomes` for all participants or one
cohort, shown in the desk with its charts, and downloaded as CSV, JSON or the one-file HTML.

The figures are the report's own (bot/outcomes/reading.py reads them as the command does; `report_body` writes
them): nothing is computed here. The desk allows no inline style (CSP `style-src 'self'`), and the report's HTML
file carries its style inline so that it opens from a USB stick: the page takes the report without its page and
links the report's own rules, scoped under `.outcome-report`, from /admin/report/report.css (`scoped_style`). A
sandboxed frame with a looser policy of its own was the other way; it would need the guard to let one page be
framed and styled inline, for a report that has no script anyway.

Large deployments: the rows are read a chunk of participants at a time in a worker thread, counted and dropped;
what is kept and sent is the figures (the change chart shows quantiles past 200 participants), so the page's size
does not grow with the deployment. One report is built at a time, and the page and its downloads share a report
built in the last `FRESH` (the page says when it was made). Every look and download is audited as the command's
("report.outcomes", with format, cohort and how many participants).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.clock import COPENHAGEN
from bot.deployment import Coach
from bot.desk.context import Desk
from bot.desk.views.admin import admin_only
from bot.outcomes.build import Report
from bot.outcomes.cohort import Filters
from bot.outcomes.html import render_html, report_body, scoped_style
from bot.outcomes.reading import read_report
from bot.outcomes.tables import render_csv, render_json
from flows.programme import Programme

FRESH = timedelta(minutes=2)
SCOPE = ".outcome-report"
FORMATS: dict[str, tuple[Callable[[Report, str], str], str]] = {
    "csv": (render_csv, "text/csv; charset=utf-8"),
    "json": (render_json, "application/json"),
    "html": (render_html, "text/html; charset=utf-8"),
}


class Reports:
    """Builds one report at a time and keeps each cohort's for `FRESH`, so a page and its downloads agree and a
    double click does not read the whole database twice."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.lock = asyncio.Lock()
        self.kept: dict[tuple[str, str | None], Report] = {}

    async def report(self, programme: Programme, cohort: str | None) -> Report:
        async with self.lock:
            now = self.desk.clock.now()
            key = (programme.id, cohort)
            kept = self.kept.get(key)
            if kept is not None and now - kept.generated_at < FRESH:
                return kept
            several = len(self.desk.programmes) > 1  # then the report says which programme, as the command's
            filters = Filters(cohort, None, None, programme.id if several else None,
                              programme.name("da") if several else None)
            report = await read_report(self.desk.storage, programme, now, filters,
                                       default=programme is self.desk.programme)
            self.kept = {k: r for k, r in self.kept.items() if now - r.generated_at < FRESH}
            self.kept[key] = report
            return report


def file_name(cohort: str | None, report: Report, extension: str) -> str:
    """E.g. outcome-report-bornholm-2026-1-2026-12-06.csv (a cohort's name reduced to safe characters)."""
    who = "all" if cohort is None else (re.sub(r"[^A-Za-z0-9_-]+", "-", cohort).strip("-") or "cohort")
    return f"outcome-report-{who}-{report.generated_at.astimezone(COPENHAGEN).date().isoformat()}.{extension}"


def routes(desk: Desk, programme: Programme | None = None) -> list[Route]:
    reports = Reports(desk)

    def chosen_programme(request: Request) -> Programme | None:
        return programme or desk.programme_asked(request)

    async def cohort_asked(request: Request) -> tuple[str | None, list[str], bool]:
        """The cohort asked for (None: everyone), the cohorts there are, and whether the one asked for is one."""
        cohorts = await desk.storage.cohorts()
        asked = request.query_params.get("cohort") or None
        return asked, cohorts, asked is None or asked in cohorts

    async def page(request: Request, coach: Coach) -> Response:
        cohort, cohorts, known = await cohort_asked(request)
        current = chosen_programme(request)
        context: dict[str, object] = {"cohorts": cohorts, "cohort": cohort, "known": known, "body": None,
                                      "choices": desk.programme_choices(request.state.lang),
                                      "chosen": current.id if current is not None else "",
                                      "report": None, "programme": current is not None, "formats": tuple(FORMATS)}
        if current is None or not known:
            return desk.templates.render(request, "admin_report.html", context, status=200 if known else 404)
        report = await reports.report(current, cohort)
        await desk.audit(request, "report.outcomes", "participants", {
            "format": "page", "cohort": cohort, "participants": report.participation.enrolled,
            "programme": current.id})
        context.update(report=report, body=Markup(report_body(report, request.state.lang)))  # escaped by report_body
        return desk.templates.render(request, "admin_report.html", context)

    async def download(request: Request, coach: Coach) -> Response:
        cohort, _, known = await cohort_asked(request)
        asked = request.query_params.get("format", "")
        current = chosen_programme(request)
        if asked not in FORMATS or current is None or not known:
            return Response(status_code=404)
        render, media_type = FORMATS[asked]
        report = await reports.report(current, cohort)
        await desk.audit(request, "report.outcomes", "participants", {
            "format": asked, "cohort": cohort, "participants": report.participation.enrolled,
            "programme": current.id})
        return Response(render(report, request.state.lang), media_type=media_type, headers={
            "content-disposition": f'attachment; filename="{file_name(cohort, report, asked)}"'})

    async def style(request: Request, coach: Coach) -> Response:
        return Response(scoped_style(SCOPE), media_type="text/css; charset=utf-8")

    return [Route("/admin/report", admin_only(desk, page)),
            Route("/admin/report/download", admin_only(desk, download)),
            Route("/admin/report/report.css", admin_only(desk, style))]
