"""My participants: one's own participants in a table, a page at a time (an administrator: everyone).

Whose they are is the terminal overview's rule (bot/overview.py `_mine`: the profile names the coach; `role: admin`
sees all). Searching by name or number is bot/people.py's (`name_matches`, `phone_in`); a ref matches by any part
of it. Sorting, filtering and paging run in the database (storage/caseload.py), so 10,000 people cost what 50 do.
Each score column says whether the latest value is better or worse than the one before in words, taking the
direction from the instrument's definition (`better: lower` for PSS-10, `higher` for WHO-5), so both read the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import people
from bot.clock import COPENHAGEN
from bot.deployment import Coach
from bot.desk.context import Desk
from flows.textnorm import fold
from storage.caseload import ONLY, SORTS, CaseloadQuery, CaseloadRow

PAGE = 50
SCORES = (("pss10", "total"), ("who5", "percent"))  # the table's score columns, in this order
SORT_NAMES = ("name", *SORTS)  # by name is sorted here (names are sealed in the database)
MAX_SEARCH = 80


@dataclass(frozen=True)
class Trend:
    latest: float | None
    before: float | None
    improved: bool | None  # True better, False worse, None the same (or only one value, or no direction)


@dataclass(frozen=True)
class PersonRow:
    row: CaseloadRow
    week: int | None  # the programme week (1 in the first seven days); None before the start or without one
    finished: bool  # the programme's weeks are over
    trends: tuple[Trend, ...]  # per SCORES


@dataclass(frozen=True)
class Listing:
    rows: list[PersonRow]
    total: int
    page: int
    pages: int
    search: str
    only: str
    sort: str
    descending: bool


def scope(coach: Coach) -> str | None:
    """Whose participants the list shows: the coach's own; everyone's for an administrator (bot/overview.py)."""
    return None if coach.is_admin else coach.id


def programme_week(start: date | None, today: date) -> int | None:
    """As the terminal overview counts it: week 1 is the start date and the six days after it."""
    if start is None or today < start:
        return None
    return (today - start).days // 7 + 1


def trend(desk: Desk, flow_id: str, score_id: str, values: tuple[float, ...]) -> Trend:
    flow = desk.loop.registry.library.latest(flow_id)
    score = flow.score(score_id) if flow is not None else None
    latest = values[0] if values else None
    before = values[1] if len(values) > 1 else None
    improved = None if score is None or latest is None or before is None else score.improved(before, latest)
    return Trend(latest, before, improved)


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


class FoldedNames:
    """Names folded for searching, kept from one search to the next (folding 10,000 names takes 0.1 s), and only
    the names of the latest search: a changed or erased name does not linger."""

    def __init__(self) -> None:
        self.folded: dict[str, str] = {}

    def of(self, names: dict[int, str]) -> dict[int, str]:
        before = self.folded
        self.folded = {name: before.get(name) or people.name_form(name) for name in names.values()}
        return {pid: self.folded[name] for pid, name in names.items()}


async def search_hits(desk: Desk, who: str | None, search: str, folded: FoldedNames) -> tuple[int, ...]:
    """The people in scope whose name has every word of the search, or whose phone number it is."""
    if not people.searchable(search):
        return ()
    names = await desk.storage.profile_names(who)
    folded_names = folded.of(names)
    words = people.name_form(search).split()
    hits = [pid for pid in names if people.words_in(words, folded_names[pid])]
    phone = people.phone_in(search)
    if phone is not None:
        owner = await desk.storage.participant_by_address("sms", phone)
        if owner is not None and owner.id in names:
            hits.append(owner.id)
    return tuple(dict.fromkeys(hits))


async def listing(desk: Desk, coach: Coach, params: dict[str, str], folded: FoldedNames) -> Listing:
    who = scope(coach)
    search = " ".join(params.get("q", "").split())[:MAX_SEARCH]
    only = _choice(params.get("only"), ONLY, "")
    sort = _choice(params.get("sort"), SORT_NAMES, "attention")
    descending = params.get("dir") == "desc"
    page = _page_number(params.get("page"))
    now = desk.clock.now()
    today = now.astimezone(COPENHAGEN).date()
    weeks = desk.programme.weeks if desk.programme is not None else None
    cutoff = None if weeks is None else today - timedelta(weeks=weeks)
    each = tuple((pid, today - timedelta(weeks=p.weeks)) for pid, p in desk.loop.registry.library.programmes.items())
    query = CaseloadQuery(who, now, SCORES, finished_on_or_before=cutoff, finished_by_programme=each, search=search,
                          among=await search_hits(desk, who, search, folded) if search else None, only=only,
                          sort=sort if sort != "name" else "ref", descending=descending,
                          offset=(page - 1) * PAGE, limit=PAGE)
    if sort == "name":  # every match's id from the database, ordered by the names opened here
        names = await desk.storage.profile_names(who)
        every = await desk.storage.caseload(replace(query, limit=None, offset=0))
        ordered = sorted(every.ids, key=lambda pid: fold(names.get(pid, "")), reverse=descending)
        rows, total = await desk.storage.caseload_rows(ordered[query.offset:query.offset + PAGE], query), every.total
    else:
        found = await desk.storage.caseload(query)
        rows, total = found.rows, found.total
    shown = [PersonRow(r, programme_week(r.start_date, today),
                       cutoff is not None and r.start_date is not None and r.start_date <= cutoff,
                       tuple(trend(desk, f, s, v) for (f, s), v in zip(SCORES, r.scores, strict=True)))
             for r in rows]
    return Listing(shown, total, page, max(1, -(-total // PAGE)), search, only, sort, descending)


def link(listing: Listing, **changes: object) -> str:
    """This list's address with some of its settings changed (sort links, pages, filters)."""
    values: dict[str, object] = {"q": listing.search, "only": listing.only, "sort": listing.sort,
                                 "dir": "desc" if listing.descending else "", "page": listing.page}
    values.update(changes)
    kept = {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}
    return "/people" + (f"?{urlencode(kept)}" if kept else "")


def routes(desk: Desk) -> list[Route]:
    folded = FoldedNames()

    async def page(request: Request) -> Response:
        coach = desk.coach(request)
        shown = await listing(desk, coach, dict(request.query_params), folded)
        refs = [p.row.ref for p in shown.rows]
        # who looked at whose figures: the list once, and each person shown (their own export lists it), at once
        await asyncio.gather(
            desk.audit(request, "people.listed", "participants",
                       {"count": len(refs), "total": shown.total, "page": shown.page, "sort": shown.sort,
                        "only": shown.only, "searched": bool(shown.search)}),
            *(desk.audit(request, "people.listed", f"participant:{ref}") for ref in refs))
        fragment = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "caseload"
        context = {"listing": shown, "link": lambda **changes: link(shown, **changes), "only_choices": ONLY,
                   "page_size": PAGE, "scores": SCORES}
        return desk.templates.render(request, "people_list.html" if fragment else "people.html", context,
                                     headers={"Vary": "HX-Request, HX-Target"})

    return [Route("/people", page)]
