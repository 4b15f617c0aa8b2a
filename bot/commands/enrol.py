"""`enroll`: enrol participants, one from the options or many from a CSV file; prints each new ref (and Telegram
invite link) and starts their first conversation, which asks for consent."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from bot import config
from bot.commands.common import Commands, handled_by
from bot.settings import settings


def add_parser(commands: Commands) -> None:
    enroll = commands.add_parser("enroll", help="enrol participants (one, or many from a CSV file)")
    enroll.add_argument("--name", help="the participant's name (shown to coaches only)")
    enroll.add_argument("--phone", help="mobile number for SMS, e.g. 12345678 or +4512345678")
    enroll.add_argument("--telegram", action="store_true", help="make a Telegram invite link")
    enroll.add_argument("--lang", choices=["da", "en"], default="da")
    enroll.add_argument("--start-date", type=date.fromisoformat, metavar="YYYY-MM-DD")
    enroll.add_argument("--coach", metavar="ID", help="the participant's coach (an id from the configuration)")
    enroll.add_argument("--cohort", metavar="NAME", help="the group enrolled together, for outcome reports")
    enroll.add_argument("--programme", metavar="ID", help="the programme they follow, by its file's id (default: the "
                        "deployment's default programme, or its only one); `flows check` lists them")
    enroll.add_argument("--csv", type=Path, metavar="FILE",
                        help="enrol every row (columns: name, phone, telegram, lang, start_date, coach, cohort, "
                             "programme); --programme fills in rows that name none")
    config.add_db_argument(enroll)
    handled_by(enroll, _enrol)


async def _enrol(args: argparse.Namespace) -> int:
    from bot.allocation import AllocationKeyError, key_bytes
    from bot.app import open_app
    from bot.enroll import EnrolmentError, EnrolmentRequest, enrol, read_csv
    from flows import phrases
    from flows.inputs import RequireConsent

    if args.csv is None and not args.name:
        print("give --name (and --phone and/or --telegram), or --csv FILE", file=sys.stderr)
        return 2
    if args.csv is not None:
        with args.csv.open(encoding="utf-8-sig", newline="") as source:
            rows = read_csv(source)
    else:
        rows = [(0, EnrolmentRequest(args.name, args.phone, args.telegram, args.lang, args.start_date, args.coach,
                                         args.cohort, args.programme))]
    bot_username = settings().telegram_bot_username
    secret = settings().bot_allocation_key
    try:
        allocation_key = key_bytes(secret.get_secret_value()) if secret is not None else None
    except AllocationKeyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not bot_username and (args.telegram or args.csv is not None):
        print("note: TELEGRAM_BOT_USERNAME (the bot's @name) is not set, so no Telegram invite links can be made",
              file=sys.stderr)
    enrolled, rejected = 0, []
    async with open_app(args.db) as app:
        for done, (number, request) in enumerate(rows, start=1):
            if args.csv is not None:
                filled = 30 * done // len(rows)
                print(f"\r[{'=' * filled}{' ' * (30 - filled)}] {done}/{len(rows)}", end="", file=sys.stderr)
            if isinstance(request, EnrolmentError):
                rejected.append((number, str(request)))
                continue
            if request.programme is None and args.programme:
                request = replace(request, programme=args.programme)
            library = app.registry.library
            try:
                invite = await enrol(app.storage, request, app.deployment.coaches, app.clock.now(), bot_username,
                                     library.programme, allocation_key=allocation_key, actor=config.operator(),
                                     programmes=library.programmes)
            except EnrolmentError as exc:
                rejected.append((number, str(exc)))
                continue
            enrolled += 1
            # the programme's terms come first in their first conversation; the first SMS says they are signed up
            channel = "sms" if request.phone else "telegram"
            notice = phrases.SMS_INVITE if request.phone else None
            await app.loop.handle(invite.participant, RequireConsent(), channel, notice=notice)
            print(f"{invite.participant.ref}" + (f"\t{invite.telegram_link}" if invite.telegram_link else ""))
            if len(library.programmes) > 1:  # which of the deployment's programmes they are in
                chosen = request.programme or (library.programme.id if library.programme else "")
                print(f"  {invite.participant.ref}: programme {chosen.strip()}", file=sys.stderr)
            if invite.allocation is not None:
                print(f"  {invite.participant.ref}: allocated to {invite.allocation.arm} "
                      f"({invite.allocation.cohort}, place {invite.allocation.seq + 1})", file=sys.stderr)
            if invite.group_sessions is not None and invite.group_sessions.over:
                print("\n".join(invite.group_sessions.lines()), file=sys.stderr)
    if args.csv is not None:
        print(file=sys.stderr)
    print(f"{enrolled} enrolled, {len(rejected)} rejected", file=sys.stderr)
    for number, reason in rejected:
        print(f"  row {number}: {reason}" if number else f"  {reason}", file=sys.stderr)
    return 0 if not rejected else 1
