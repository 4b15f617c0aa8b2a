"""`enroll` (or `enrol`): enrol participants, one from the options or many from a CSV file; prints each new ref (and
Telegram invite link), says how the invite reaches them, and starts their first conversation, which asks for consent.

Nothing is enrolled until every row passed (bot/enrol_review.py): a file with a problem anywhere is refused whole,
with every problem of every row, so it can be fixed and run again without anyone enrolled twice. An unknown cohort
is refused unless it is named with `--new-cohort` (a typo must not quietly start a cohort), and a start date in the
past unless `--allow-past` (the refusal says which measurements would at once be recorded as missed).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.commands.common import Commands, handled_by
from bot.settings import settings

if TYPE_CHECKING:
    from bot.enrol_review import Review


def add_parser(commands: Commands) -> None:
    enroll = commands.add_parser("enroll", aliases=["enrol"], help="enrol participants (one, or many from a CSV file)")
    enroll.add_argument("--name", help="the participant's name (shown to coaches only)")
    enroll.add_argument("--phone", help="mobile number for SMS, e.g. 12345678 or +4512345678")
    enroll.add_argument("--telegram", action="store_true", help="make a Telegram invite link (sent by SMS when "
                        "there is a phone number; otherwise printed for you to hand over)")
    enroll.add_argument("--lang", choices=["da", "en"], default="da")
    enroll.add_argument("--start-date", metavar="DATE", help="the programme's day 0: 23-11-2026, 23.11.2026 or "
                        "2026-11-23 (default: today)")
    enroll.add_argument("--allow-past", action="store_true", help="accept a start date in the past (measurements "
                        "whose time is over are then recorded as missed at once, with a task for the coach)")
    enroll.add_argument("--coach", metavar="ID", help="the participant's coach (an id from the configuration)")
    enroll.add_argument("--cohort", metavar="NAME", help="an existing cohort (the group enrolled together; with "
                        "--csv: for the rows that name none)")
    enroll.add_argument("--new-cohort", metavar="NAME", help="start a new cohort with this name (with --csv: the "
                        "one new cohort name the file may use)")
    enroll.add_argument("--programme", metavar="ID", help="the programme they follow, by its file's id (default: the "
                        "deployment's default programme, or its only one; with --csv: for the rows that name none); "
                        "`flows check` lists them")
    enroll.add_argument("--csv", type=Path, metavar="FILE", help="enrol every row of a CSV file (`,` or `;`, as "
                        "Excel saves it) with the columns name, phone, telegram, lang, start_date, coach, cohort")
    config.add_db_argument(enroll)
    handled_by(enroll, _enrol)


async def _enrol(args: argparse.Namespace) -> int:
    from bot.allocation import AllocationKeyError, configured_key
    from bot.app import open_app
    from bot.enrol_csv import DateError, decode, parse_date, read_csv
    from bot.enrol_review import Setting, review
    from bot.enroll import EnrolmentError, EnrolmentRequest, Problem, enrol
    from bot.invites import send_invite, told

    if args.csv is None and not args.name:
        print("give --name (and --phone and/or --telegram), or --csv FILE", file=sys.stderr)
        return 2
    if args.cohort and args.new_cohort and args.cohort != args.new_cohort:
        print("give either --cohort (an existing cohort) or --new-cohort (a new one), not both", file=sys.stderr)
        return 2
    rows: list[tuple[int, EnrolmentRequest, list[Problem]]] = []
    file_problems: list[Problem] = []
    if args.csv is not None:
        read = read_csv(decode(args.csv.read_bytes()))
        file_problems = list(read.problems)
        default = args.cohort or args.new_cohort  # for the rows that name no cohort of their own
        rows = [(row.line, replace(row.request, cohort=row.request.cohort or default,
                                   programme=row.request.programme or args.programme), list(row.problems))
                for row in read.rows]
    else:
        start, problems = None, []
        if args.start_date:
            try:
                start = parse_date(args.start_date)
            except DateError as exc:
                problems.append(exc.problem)
        rows = [(0, EnrolmentRequest(args.name, args.phone, args.telegram, args.lang, start, args.coach,
                                     args.cohort or args.new_cohort, args.programme), problems)]
    try:
        allocation_key = configured_key()
    except AllocationKeyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    bot_username = settings().telegram_bot_username
    async with open_app(args.db) as app:
        library = app.registry.library
        programme = library.programme
        setting = Setting(app.deployment.coaches, programme, bot_username, allocation_key, library.programmes)
        checked = await review(app.storage, rows, setting, app.clock.now(), new_cohort=args.new_cohort,
                               file_problems=file_problems)
        refused = _refusals(checked, args.allow_past)
        if refused:
            print(f"no one was enrolled: {len(refused)} problem(s) to fix first", file=sys.stderr)
            for line in refused:
                print(f"  {line}", file=sys.stderr)
            return 1
        for row in checked.in_the_past:
            assert row.past is not None
            print(f"note: {_where(row.line)}{row.past.english()}", file=sys.stderr)
        for done, row in enumerate(checked.rows, start=1):
            if args.csv is not None:
                filled = 30 * done // len(checked.rows)
                print(f"\r[{'=' * filled}{' ' * (30 - filled)}] {done}/{len(checked.rows)}", end="", file=sys.stderr)
            try:
                invite = await enrol(app.storage, row.request, app.deployment.coaches, app.clock.now(), bot_username,
                                     programme, allocation_key=allocation_key, actor=config.operator(),
                                     programmes=library.programmes)
            except EnrolmentError as exc:  # only a race with another enrolment gets here: the review passed
                print(f"\n{_where(row.line)}not enrolled: {exc}; {done - 1} before it were enrolled, none after",
                      file=sys.stderr)
                return 1
            delivery = await send_invite(app.loop, invite, row.request, app.clock.now())
            print(f"{invite.participant.ref}" + (f"\t{invite.telegram_link}" if invite.telegram_link else ""))
            print(f"  {told(delivery)}", file=sys.stderr)
            if len(library.programmes) > 1:  # which of the deployment's programmes they are in
                chosen = row.request.programme or (programme.id if programme else "")
                print(f"  {invite.participant.ref}: programme {chosen.strip()}", file=sys.stderr)
            if invite.group_sessions is not None and invite.group_sessions.over:  # no place for someone: say so
                print("\n".join(invite.group_sessions.lines()), file=sys.stderr)
            if invite.allocation is not None:
                print(f"  {invite.participant.ref}: allocated to {invite.allocation.arm} "
                      f"({invite.allocation.cohort}, place {invite.allocation.seq + 1})", file=sys.stderr)
    if args.csv is not None:
        print(file=sys.stderr)
    print(f"{len(checked.rows)} enrolled", file=sys.stderr)
    return 0


def _where(line: int) -> str:
    return f"row {line}: " if line else ""


def _refusals(checked: Review, allow_past: bool) -> list[str]:
    """Every reason not to enrol, one a line, in the file's order, with the option that would allow it."""
    lines = [p.english() for p in checked.problems]
    for row in checked.rows:
        for problem in row.problems:
            said = problem.english()
            if problem.code == "cohort":  # the desk offers a choice; here it is an option
                said = (f"there is no cohort {problem.params['cohort']} yet: check the spelling, or add --new-cohort "
                        f"{problem.params['cohort']} to start it")
            lines.append(f"{_where(row.line)}{said}")
        if row.past is not None and not allow_past:
            lines.append(f"{_where(row.line)}{row.past.english()}; add --allow-past to enrol anyway")
    return lines
