"""`desk`: the coaches' desk in the browser (bot/desk/); `desk add-user COACH_ID`: a coach's own log-in."""

from __future__ import annotations

import argparse
import sys

from bot import config
from bot.commands.common import Commands, handled_by
from bot.settings import settings


def add_parser(commands: Commands) -> None:
    desk = commands.add_parser("desk", help="the coaches' desk in the browser (default http://127.0.0.1:8090)")
    desk.add_argument("--port", type=int, default=settings().desk_port or 8090, help="default: $DESK_PORT or 8090")
    desk.add_argument("--host", default=settings().desk_host, help="default: $DESK_HOST or 127.0.0.1")
    config.add_db_argument(desk)
    handled_by(desk, _serve)
    sub = desk.add_subparsers(dest="desk_command", metavar="add-user")
    add = sub.add_parser("add-user", help="make a coach's log-in (one-time codes) and print its secret once")
    add.add_argument("coach_id", help="the coach's id in the deployment file")
    add.add_argument("--replace", action="store_true",
                     help="a new secret for an existing log-in, ending its passkeys and sessions (a lost phone)")
    config.add_db_argument(add)
    handled_by(add, _add_user)


async def _serve(args: argparse.Namespace) -> int:
    from bot.desk.server import serve_desk  # the web stack: only loaded for this command

    try:
        return await serve_desk(args.db, args.host, args.port)
    except KeyboardInterrupt:
        return 0


async def _add_user(args: argparse.Namespace) -> int:
    from bot.app import open_app
    from bot.desk.login_codes import new_user, provisioning_uri
    from storage.errors import AlreadyTaken

    async with open_app(args.db) as app:
        if args.coach_id not in app.deployment.coaches:
            print(f"{args.coach_id!r} is not a coach in the deployment file (coaches: "
                  f"{', '.join(sorted(app.deployment.coaches))})", file=sys.stderr)
            return 2
        user = new_user(args.coach_id, app.clock.now())
        try:
            await app.storage.save_desk_user(user, replace=args.replace)
        except AlreadyTaken:
            print(f"{args.coach_id} has a log-in already; --replace gives a new secret", file=sys.stderr)
            return 1
        print(f"Log-in made for {args.coach_id}. Add it to an authenticator app (shown once):")
        print(f"  secret: {user.totp_secret}")
        print(f"  address: {provisioning_uri(user)}")
    return 0
