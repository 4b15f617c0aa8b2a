"""`appointments book|list|import|cancel|move|sessions`: talks and group sessions booked from the command line or a
CSV file (issue 15), cancelled or moved, and a cohort's group sessions booked as the programme file declares them.

Times as Danes write them (24-12-2026 14:00, 24.12.2026 kl. 14.00); a CSV with `,` or `;` is read whole and every
problem reported, with its line, before anything is saved. The reminders go out the day before and two hours before;
a cancelled or moved appointment's attendees are told (bot/appointment_changes.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot import config
from bot.commands.common import Commands, handled_by

KINDS = ("screening", "group", "coaching", "counselling", "follow_up")  # bot/appointments.py KINDS


def add_parser(commands: Commands) -> None:
    appointments = commands.add_parser("appointments", help="book talks and group sessions, with reminders")
    actions = appointments.add_subparsers(dest="appointments_command", required=True, metavar="ACTION")
    book = actions.add_parser("book", help="book one appointment for people or a cohort")
    book.add_argument("--kind", required=True, choices=KINDS)
    book.add_argument("--time", required=True, metavar="WHEN", help="local time, e.g. '24-12-2026 14:00'")
    book.add_argument("--minutes", type=int, default=60)
    book.add_argument("--place", default="", help="address or room")
    book.add_argument("--video", default="", help="a video link (https://...)")
    book.add_argument("--cohort", default="", metavar="NAME", help="everyone enrolled in this cohort")
    book.add_argument("people", nargs="*", metavar="REF", help="participants' refs")
    config.add_db_argument(book)
    handled_by(book, _book)
    listing = actions.add_parser("list", help="upcoming appointments with who confirmed, asked to move or came")
    config.add_db_argument(listing)
    handled_by(listing, _list, existing_db=True)
    imports = actions.add_parser("import", help="book every row of a CSV file (kind, time, minutes, place, video, "
                                 "people, cohort), or none when any row has a problem")
    imports.add_argument("csv", type=Path, metavar="CSV")
    config.add_db_argument(imports)
    handled_by(imports, _import)
    cancel = actions.add_parser("cancel", help="cancel an appointment: its reminders are withdrawn and every attendee "
                                "is told")
    cancel.add_argument("id", type=int, metavar="ID", help="the appointment's number (see `appointments list`)")
    config.add_db_argument(cancel)
    handled_by(cancel, _cancel, existing_db=True)
    move = actions.add_parser("move", help="move an appointment to another time: new reminders, every attendee told")
    move.add_argument("id", type=int, metavar="ID")
    move.add_argument("--time", required=True, metavar="WHEN", help="the new local time, e.g. '24-12-2026 14:00'")
    config.add_db_argument(move)
    handled_by(move, _move, existing_db=True)
    sessions = actions.add_parser("sessions", help="book the group sessions the programme file declares for a cohort "
                                  "(enrolment does it too; running it again books nothing twice)")
    sessions.add_argument("--cohort", required=True, metavar="NAME")
    config.add_db_argument(sessions)
    handled_by(sessions, _sessions, existing_db=True)


async def _book(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.appointments import BookingError, BookingRequest, book

    request = BookingRequest(args.kind, args.time, args.minutes, args.place, args.video, tuple(args.people),
                             args.cohort)
    async with open_app(args.db) as app:
        try:
            [booked] = await book(app.storage, [request], config.operator(), app.clock.now())
        except BookingError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    print(f"booked appointment {booked}")
    return 0


async def _import(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.appointments import BookingError, import_csv

    text = args.csv.read_text(encoding="utf-8-sig")
    async with open_app(args.db) as app:
        try:
            booked = await import_csv(app.storage, text, config.operator(), app.clock.now())
        except BookingError as exc:
            print("nothing was booked; fix these and import the file again:", file=sys.stderr)
            print(str(exc), file=sys.stderr)
            return 2
    print(f"booked {len(booked)} appointments: {', '.join(map(str, booked))}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.appointments import written

    async with open_app(args.db) as app:
        for appointment in await app.storage.appointments(since=app.clock.now()):
            b = appointment.booking
            print(f"{appointment.id}  {written(b.starts_at, 'en')}  {b.minutes} min  {b.kind}  {b.place or b.video}")
            if appointment.cancelled_at is not None:
                print("    cancelled")
                continue
            for a in appointment.attendees:
                said = "confirmed" if a.confirmed else "asked to move" if a.move_asked else "no answer"
                print(f"    {a.ref}  {said}  {a.attendance or ''}".rstrip())
    return 0


async def _cancel(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.appointment_changes import cancel
    from bot.appointments import BookingError

    async with open_app(args.db) as app:
        try:
            await cancel(app.storage, args.id, config.operator(), app.clock.now())
        except BookingError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    print(f"cancelled appointment {args.id}; its attendees are told")
    return 0


async def _move(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.appointment_changes import move
    from bot.appointments import BookingError, written

    async with open_app(args.db) as app:
        try:
            starts = await move(app.storage, args.id, args.time, config.operator(), config.operator(),
                                app.clock.now())
        except BookingError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    print(f"moved appointment {args.id} to {written(starts, 'en')}; its attendees are told")
    return 0


async def _sessions(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.group_sessions import book_cohort_sessions

    async with open_app(args.db) as app:
        library = app.registry.library
        cohorts = await app.storage.cohorts()
        if args.cohort not in cohorts:
            print(f"no cohort {args.cohort!r} (cohorts: {', '.join(cohorts) or 'none yet'})", file=sys.stderr)
            return 2
        # the programmes the cohort's members follow (one, in practice): each books its own sessions for its own
        members = await app.storage.cohort_members(args.cohort)
        chosen = {m.programme for m in members}
        programmes = {p.id: p for c in chosen if (p := library.programme_for(c)) is not None and p.group_sessions}
        if not programmes:
            print("the programme file declares no group_sessions (see docs/programme.md)", file=sys.stderr)
            return 2
        default_id = library.programme.id if library.programme is not None else None
        reports = [await book_cohort_sessions(app.storage, p, args.cohort, app.clock.now(), config.operator(),
                                              default_id) for _, p in sorted(programmes.items())]
    print("\n".join(line for report in reports for line in report.lines()))
    return 1 if any(report.over for report in reports) else 0
