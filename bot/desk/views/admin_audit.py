"""The audit log, searchable (/admin/audit): who did what, about whom and when, newest first, filtered by actor,
action, participant and days, a page at a time.

The filtering and the paging are the database's (storage `search_audit`: keyset pages on the log's indexes), so a
log of millions of rows is read fifty at a time. Looking at the audit log is itself audited ("audit.searched",
with the filters: refs and ids only, as every audit row), before the search, so the administrator's own look is the
newest row they see. The rows hold no names, numbers or message text (that is how they are written); coaches are
shown by name, participants by ref, linked to their page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.clock import COPENHAGEN
from bot.deployment import Coach
from bot.desk.context import Desk
from bot.desk.views.admin import admin_only
from storage.admin_records import AuditQuery

PAGE = 50
PARTICIPANT = "participant:"


@dataclass(frozen=True)
class Search:
    """The form as the administrator filled it in, and the query it makes (or the problem with it)."""

    actor: str
    action: str
    ref: str
    since: str  # YYYY-MM-DD, as <input type=date> sends it
    until: str
    query: AuditQuery | None
    problem: str  # "" or a key the page says in words

    def filters(self) -> dict[str, str]:
        """The filled-in fields (for the audit row and the next page's link)."""
        return {k: v for k, v in (("actor", self.actor), ("action", self.action), ("ref", self.ref),
                                  ("from", self.since), ("to", self.until)) if v}


def as_actor(text: str, coaches: dict[str, Coach]) -> str:
    """A coach's id alone means that coach ("lead" -> "coach:lead"); anything else is matched as written."""
    return f"coach:{text}" if text in coaches else text


def as_subject(text: str) -> str:
    """A participant's ref ("p-anna" -> "participant:p-anna"); a subject with a colon ("task:12") as written."""
    return text if ":" in text else f"{PARTICIPANT}{text}"


def day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def start_of(value: date) -> datetime:
    return datetime.combine(value, time(0), COPENHAGEN)


def read_search(params: dict[str, str], coaches: dict[str, Coach]) -> Search:
    actor, action, ref = (params.get(k, "").strip() for k in ("actor", "action", "ref"))
    since, until = params.get("from", "").strip(), params.get("to", "").strip()
    first, last = day(since) if since else None, day(until) if until else None
    older = params.get("older", "")
    problem = ""
    if (since and first is None) or (until and last is None):
        problem = "bad_date"
    elif first is not None and last is not None and first > last:
        problem = "dates_swapped"
    query = None if problem else AuditQuery(
        actor=as_actor(actor, coaches) if actor else None, action=action or None,
        subject=as_subject(ref) if ref else None,
        since=start_of(first) if first else None, until=start_of(last + timedelta(days=1)) if last else None,
        older_than=int(older) if older.isdigit() else None, limit=PAGE)
    return Search(actor, action, ref, since, until, query, problem)


def shown_detail(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """The detail's keys and values as text (the "via" every desk row has is left out)."""
    return [(key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in detail.items() if key != "via"]


def routes(desk: Desk) -> list[Route]:
    async def page(request: Request, coach: Coach) -> Response:
        params = dict(request.query_params)
        search = read_search(params, dict(desk.deployment.coaches))
        await desk.audit(request, "audit.searched", "audit log",
                         {**search.filters(), **({"older": params["older"]} if params.get("older") else {})})
        found = None if search.query is None else await desk.storage.search_audit(search.query)
        names = {f"coach:{c.id}": c.name for c in desk.deployment.coaches.values()}
        return desk.templates.render(request, "admin_audit.html", {
            "search": search, "found": found, "names": names, "detail": shown_detail, "page_size": PAGE,
            "participant": PARTICIPANT, "coaches": sorted(desk.deployment.coaches.values(), key=lambda c: c.name),
            "first_page": not params.get("older")}, status=400 if search.problem else 200)

    return [Route("/admin/audit", admin_only(desk, page))]
