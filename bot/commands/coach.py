"""The coaches' commands: `coach` (the desk: list, show, acknowledge and close risk alerts), `tasks` (the week-4
evaluation, TRE check-ins, missed measurements) and `escalations list`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from bot import config
from bot.commands.common import Commands, handled_by


def add_desk_parser(commands: Commands) -> None:
    coach = commands.add_parser("coach", help="the coach's desk: list, show, acknowledge and close risk alerts")
    coach.add_argument("--coach", required=True, metavar="ID", help="your coach id from the deployment configuration")
    config.add_db_argument(coach)
    handled_by(coach, _desk)


def add_escalations_parser(commands: Commands) -> None:
    escalations = commands.add_parser("escalations", help="risk escalations")
    escalation_commands = escalations.add_subparsers(dest="escalations_command", required=True, metavar="ACTION")
    listing = escalation_commands.add_parser("list", help="print escalations, newest first")
    listing.add_argument("--open", action="store_true", help="only those not closed")
    config.add_db_argument(listing)
    handled_by(listing, _escalations, existing_db=True)


def add_tasks_parser(commands: Commands) -> None:
    tasks = commands.add_parser("tasks", help="coach tasks: week-4 evaluation, TRE check-ins, missed measurements")
    task_commands = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
    task_list = task_commands.add_parser("list", help="print your participants' open tasks, oldest first")
    task_list.add_argument("--coach", required=True, metavar="ID", help="who is looking (written to the audit log)")
    config.add_db_argument(task_list)
    handled_by(task_list, _tasks, existing_db=True)
    task_done = task_commands.add_parser("done", help="mark a task done")
    task_done.add_argument("task_id", type=int, metavar="TASK")
    task_done.add_argument("--coach", required=True, metavar="ID")
    config.add_db_argument(task_done)
    handled_by(task_done, _tasks, existing_db=True)


async def _desk(args: argparse.Namespace) -> int:
    """The desk on standard input and output; escalation deadlines run while a coach is at it."""
    from bot.app import open_app

    async with open_app(args.db) as app:
        if not app.deployment.is_coach(args.coach):
            print("unknown coach id", file=sys.stderr)
            return 1
        await app.escalations.tick()
        watcher = asyncio.create_task(app.escalations.watch())  # deadlines run while a coach is at the desk
        try:
            print(await app.desk.handle(args.coach, "LIST"))
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return 0
                if line.strip():
                    print(await app.desk.handle(args.coach, line.strip()), flush=True)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _tasks(args: argparse.Namespace) -> int:
    """The coach's open tasks (their own participants'; an administrator's: everyone's), or one marked done."""
    from bot.app import open_app

    async with open_app(args.db) as app:
        if args.coach not in app.deployment.coaches:
            print(f"{args.coach!r} is not a coach in the deployment configuration", file=sys.stderr)
            return 2
        if args.tasks_command == "done":
            print(await app.desk.overview.task_done(args.coach, args.task_id))
        else:
            print(await app.desk.overview.tasks(args.coach))
    return 0


async def _escalations(args: argparse.Namespace) -> int:
    """Every escalation (or the open ones), newest first; the look is written to the audit log."""
    from bot.app import open_app
    from storage.records import AuditRecord

    async with open_app(args.db) as app:
        rows = await app.storage.escalations(only_open=args.open)
        for e in rows:
            print(f"#{e.id}\t{e.level}\t{e.status}\tparticipant {e.participant_ref}\topened {e.opened_at.isoformat()}"
                  f"\ttier {e.tier}\tacknowledged {e.acknowledged_by or '-'}\tclosed {e.closed_by or '-'}")
        if not rows:
            print("no escalations")
        await app.storage.record_audit(AuditRecord("admin:cli", "escalation.listed", "escalations", app.clock.now(),
                                                   {"count": len(rows), "only_open": args.open}))
    return 0
