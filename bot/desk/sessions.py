"""Server-side sessions for the desk: an opaque id in the cookie, the rest in the database.

The cookie (`Secure; HttpOnly; SameSite=Strict`, path /) carries 256 random bits and nothing else; the database keeps
only their SHA-256, so a copy of the database logs no one in. A session ends after 15 minutes unused or 8 hours in
all (`DeskConfig`), at log-out, and when the coach's log-in is replaced. Several desk processes share the sessions
through the database (PostgreSQL behind a load balancer). `seen_at` is written at most once a minute per session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from starlette.responses import Response

from bot.clock import Clock
from storage.desk_records import DeskSession
from storage.ports import DeskAccounts

COOKIE = "desk_session"
TOUCH_EVERY = timedelta(minutes=1)


def id_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class Sessions:
    def __init__(self, accounts: DeskAccounts, clock: Clock, idle: timedelta, lifetime: timedelta) -> None:
        self.accounts = accounts
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime

    async def open(self, coach_id: str, how: str) -> tuple[str, DeskSession]:
        """A new session for the coach who just proved who they are; returns the cookie's value and the session."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        session = DeskSession(id_hash(token), coach_id, secrets.token_urlsafe(32), how, now, now)
        await self.accounts.end_desk_sessions(seen_before=now - self.idle)  # the expired ones of everyone
        await self.accounts.open_desk_session(session)
        return token, session

    async def load(self, token: str | None, *, activity: bool = True) -> DeskSession | None:
        """The live session of this cookie, or None (no cookie, unknown, idle too long, too old: then ended).
        `activity` False: the request is a page asking for news by itself (a poll), which does not keep the session
        from going idle: a tab left open on an unattended screen is logged out as promised."""
        if not token or len(token) > 100:
            return None
        session = await self.accounts.desk_session(id_hash(token))
        if session is None:
            return None
        now = self.clock.now()
        if now - session.seen_at > self.idle or now - session.created_at > self.lifetime:
            await self.accounts.end_desk_sessions(id_hash=session.id_hash)
            return None
        if activity and now - session.seen_at >= TOUCH_EVERY:
            await self.accounts.touch_desk_session(session.id_hash, now)
        return session

    async def end(self, session: DeskSession) -> None:
        await self.accounts.end_desk_sessions(id_hash=session.id_hash)


def set_cookie(response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, path="/", secure=True, httponly=True, samesite="strict")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
