"""Enrolment in the desk (issue 15 item 5): an administrator enrols one person from a form, or many from a CSV file.

Nothing is saved before a preview: the form or file is read and checked as a whole (bot/enrol_csv.py,
bot/enrol_review.py, the same checks as `python -m bot enrol`), every problem of every row is shown, and only a list
without problems can be enrolled, with one click on "Enrol N people" that names the number. A cohort is picked from
the ones that exist or created on purpose ("Create a new cohort" and its name), so a typo never starts a cohort; a
start date in the past needs a tick, next to what it will do at once (bot/enrol_past.py). The checked list waits in
the storage under a one-time token (bot/desk/enrolment_pending.py). After enrolling, the page tells how each invite
reaches the person: an SMS through the outbox when there is a phone (carrying the Telegram link when asked), else a
QR code of the Telegram link to show or print (bot/desk/qr.py), with when the link stops working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.allocation import AllocationKeyError, configured_key
from bot.deployment import Coach
from bot.desk import enrolment_pending
from bot.desk.context import Desk
from bot.desk.enrolment_pending import Pending
from bot.desk.qr import qr_svg
from bot.desk.templating import date_locale
from bot.desk.views.admin import admin_only
from bot.enrol_csv import DateError, decode, parse_date, read_csv
from bot.enrol_review import Review, Setting, known_cohorts, review
from bot.enroll import EnrolmentError, EnrolmentRequest, Problem, enrol
from bot.invites import SHOW, Delivery, send_invite, until
from bot.phone import PhoneNumberError, normalize
from bot.settings import settings
from flows.phrases import N_

NEW = "+new"  # the cohort list's "Create a new cohort" (no cohort name starts with +: it is not a name one types)
MAX_FIELD = 200

# TRANSLATORS: problems of the enrolment form itself, in the desk
NO_NEW_NAME = N_("Write the new cohort's name, or pick a cohort from the list.")
NEW_NAME_NOT_CHOSEN = N_("You wrote a new cohort name: choose “Create a new cohort…” in the list to create it.")
NO_FILE = N_("Choose the CSV file to upload.")
BAD_KEY = N_("The setting BOT_ALLOCATION_KEY is not usable: ask the person who runs the bot.")
PAST_NOT_CONFIRMED = N_("Tick the box to confirm the start dates in the past, or change them.")


@dataclass(frozen=True)
class Enrolled:
    name: str
    delivery: Delivery
    arm: str | None  # in a randomised cohort: the arm just drawn
    qr: Any  # the QR code's <svg> when the link is to be handed over


def routes(desk: Desk) -> list[Route]:
    def translate(request: Request) -> Callable[[Problem], str]:
        lang = request.state.lang
        gettext = desk.catalogs.translations(lang).gettext
        dates = date_locale(lang)
        return lambda p: gettext(p.text).format(**{k: format_date(v, "medium", locale=dates) if isinstance(v, date)
                                                   else v for k, v in p.params.items()})

    def setting() -> tuple[Setting, list[Problem]]:
        try:
            key = configured_key()
        except AllocationKeyError:
            key, problems = None, [Problem(BAD_KEY)]
        else:
            problems = []
        return Setting(desk.deployment.coaches, desk.programme, settings().telegram_bot_username, key,
                       desk.programmes), problems

    async def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        coaches = sorted(desk.deployment.coaches.values(), key=lambda c: c.name)
        lang = request.state.lang
        base = {"coaches": coaches, "coach_names": {c.id: c.name for c in coaches}, "new": NEW,
                "cohorts": await known_cohorts(desk.storage), "say": translate(request), "form": {}, "problems": [],
                "past": None, "day": lambda d: format_date(d, "medium", locale=date_locale(lang)),
                "shown_phone": _shown_phone,
                "programmes": sorted(desk.programmes.values(), key=lambda p: (not p.default, p.id)),
                "programme_title": lambda pid: desk.programme_title(pid, lang)}
        return desk.templates.render(request, name, {**base, **context}, status=status)

    async def page(request: Request, coach: Coach) -> Response:
        await desk.audit(request, "enrolment.viewed", "enrolment")
        return await render(request, "enrolment.html", {})

    async def check_one(request: Request, coach: Coach) -> Response:
        form = _fields(await request.form())
        cohort, new_cohort, problems = _cohort_choice(form)
        start = None
        if form.get("start_date"):
            try:
                start = parse_date(form["start_date"])
            except DateError as exc:
                problems.append(exc.problem)
        one = EnrolmentRequest(form.get("name", ""), form.get("phone") or None, form.get("telegram") == "yes",
                               form.get("lang", "da"), start, form.get("coach") or None, cohort,
                               form.get("programme") or None)
        return await preview(request, coach, Pending("form", ((0, one),), new_cohort), problems, form)

    async def check_file(request: Request, coach: Coach) -> Response:
        async with request.form() as received:
            upload = received.get("file")
            data = await upload.read() if isinstance(upload, UploadFile) else b""
            file_name = (upload.filename or "")[:MAX_FIELD] if isinstance(upload, UploadFile) else ""
            form = _fields(received)
        cohort, new_cohort, problems = _cohort_choice(form)
        if not data:
            problems.append(Problem(NO_FILE))
        read = read_csv(decode(data)) if data else None
        rows = tuple((r.line, _with_cohort(r.request, cohort, form.get("programme") or None))
                     for r in read.rows) if read else ()
        found = {r.line: r.problems for r in read.rows} if read else {}
        return await preview(request, coach, Pending("csv", rows, new_cohort, file_name),
                             [*problems, *(read.problems if read else ())], form, found)

    async def preview(request: Request, coach: Coach, pending: Pending, problems: Sequence[Problem],
                      form: Mapping[str, str], found: Mapping[int, Sequence[Problem]] | None = None,
                      status: int = 200, notice: Problem | None = None) -> Response:
        """Check everything, keep the list if it can be enrolled, and show it: nothing is saved here. `notice`:
        why the confirmation came back (it does not stop the list)."""
        config, config_problems = setting()
        rows = [(line, request_, (found or {}).get(line, ())) for line, request_ in pending.rows]
        checked = await review(desk.storage, rows, config, desk.clock.now(), new_cohort=pending.new_cohort,
                               file_problems=[*config_problems, *problems])
        await desk.audit(request, "enrolment.previewed", "enrolment", {
            "source": pending.source, "rows": len(checked.rows), "with_problems": len(checked.with_problems),
            "file_problems": len(checked.problems), "in_the_past": len(checked.in_the_past)})
        if pending.source == "form" and checked.blocked:  # one person: the form again, with what to fix
            row = checked.rows[0]
            return await render(request, "enrolment.html", {
                "form": form or _refill(pending), "problems": [*checked.problems, *row.problems], "past": row.past},
                status=400)
        token = "" if checked.blocked else await enrolment_pending.keep(desk.storage, pending, coach.id,
                                                                         desk.clock.now())
        return await render(request, "enrolment_preview.html", {
            "review": checked, "pending": pending, "token": token, "notice": notice}, status=status)

    async def confirm(request: Request, coach: Coach) -> Response:
        form = _fields(await request.form())
        now = desk.clock.now()
        pending = await enrolment_pending.take(desk.storage, form.get("token", ""), coach.id, now)
        if pending is None:
            await desk.audit(request, "enrolment.refused", "enrolment", {"reason": "token"})
            return await render(request, "enrolment_gone.html", {}, status=409)
        config, config_problems = setting()
        checked = await review(desk.storage, [(line, r, ()) for line, r in pending.rows], config, now,
                               new_cohort=pending.new_cohort, file_problems=config_problems)
        if checked.blocked or (checked.in_the_past and form.get("past") != "yes"):
            await desk.audit(request, "enrolment.refused", "enrolment", {"reason": "problems" if checked.blocked
                                                                         else "past_not_confirmed"})
            notice = None if checked.blocked else Problem(PAST_NOT_CONFIRMED)
            return await preview(request, coach, pending, [], {}, status=400, notice=notice)
        done, failed = await _enrol_all(desk, checked, config, coach, now)
        refs = [e.delivery.ref for e in done]
        await desk.audit(request, "enrolment.saved", "enrolment", {
            "source": pending.source, "count": len(done), "refs": refs, "in_the_past": len(checked.in_the_past),
            "new_cohort": bool(pending.new_cohort), "sms": sum(e.delivery.how != SHOW for e in done),
            "shown": sum(e.delivery.how == SHOW for e in done), "failed": failed[0] if failed else None})
        return await render(request, "enrolment_done.html", {
            "enrolled": done, "failed": failed, "until": lambda moment: until(moment, request.state.lang)})

    async def edit(request: Request, coach: Coach) -> Response:
        """Back from one person's preview to the form, filled in as it was (the preview's token is used up)."""
        form = _fields(await request.form())
        pending = await enrolment_pending.take(desk.storage, form.get("token", ""), coach.id, desk.clock.now())
        await desk.audit(request, "enrolment.viewed", "enrolment", {"edit": pending is not None})
        if pending is None or pending.source != "form":
            return await render(request, "enrolment.html", {})
        return await render(request, "enrolment.html", {"form": _refill(pending)})

    return [Route("/admin/enrol", admin_only(desk, page)),
            Route("/admin/enrol/check", admin_only(desk, check_one), methods=["POST"]),
            Route("/admin/enrol/import", admin_only(desk, check_file), methods=["POST"]),
            Route("/admin/enrol/confirm", admin_only(desk, confirm), methods=["POST"]),
            Route("/admin/enrol/edit", admin_only(desk, edit), methods=["POST"])]


async def _enrol_all(desk: Desk, checked: Review, config: Setting, coach: Coach,
                     now: datetime) -> tuple[list[Enrolled], tuple[int, str] | None]:
    """Enrol the checked rows in order and send each invite. Only a race with another enrolment (the same phone
    number enrolled between the check and now) can stop it: then the rows before it are enrolled, none after."""
    done: list[Enrolled] = []
    for row in checked.rows:
        try:
            invite = await enrol(desk.storage, row.request, config.coaches, now, config.bot_username, config.programme,
                                 allocation_key=config.allocation_key, actor=f"coach:{coach.id}",
                                 programmes=config.programmes)
        except EnrolmentError as exc:
            return done, (row.line, str(exc))
        delivery = await send_invite(desk.loop, invite, row.request, now)
        qr = qr_svg(delivery.link, invite.participant.ref) if delivery.how == SHOW and delivery.link else None
        arm = invite.allocation.arm if invite.allocation is not None else None
        done.append(Enrolled(row.request.name, delivery, arm, qr))
    return done, None


def _refill(pending: Pending) -> dict[str, str]:
    """One person's form as it was filled in (a new cohort as "Create a new cohort" and its name)."""
    one = pending.rows[0][1]
    return {"name": one.name, "phone": one.phone or "", "telegram": "yes" if one.telegram else "", "lang": one.lang,
            "start_date": one.start_date.isoformat() if one.start_date else "", "coach": one.coach or "",
            "cohort": NEW if pending.new_cohort else one.cohort or "", "new_cohort": pending.new_cohort or "",
            "programme": one.programme or ""}


def _shown_phone(raw: str) -> str:
    """The number as it will be used (+45...), so a wrong country or a digit too many shows; as typed if unusable."""
    try:
        return normalize(raw)
    except PhoneNumberError:
        return raw


def _fields(form: FormData) -> dict[str, str]:
    return {k: str(v).strip()[:MAX_FIELD] for k, v in form.items() if k != "csrf" and isinstance(v, str)}


def _cohort_choice(form: Mapping[str, str]) -> tuple[str | None, str | None, list[Problem]]:
    """The cohort picked in the list, or the new one named on purpose: (cohort, new cohort, problems)."""
    picked, named = form.get("cohort", ""), form.get("new_cohort", "")
    if picked == NEW:
        return (named, named, []) if named else (None, None, [Problem(NO_NEW_NAME)])
    if named and named != picked:
        return picked or None, None, [Problem(NEW_NAME_NOT_CHOSEN)]
    return picked or None, None, []


def _with_cohort(request: EnrolmentRequest, cohort: str | None, programme: str | None = None) -> EnrolmentRequest:
    """A file's row without a cohort (or programme) of its own gets the one chosen in the form."""
    return replace(request, cohort=request.cohort or cohort, programme=request.programme or programme)
