"""The `DeskAccounts` port on SQL: the coaches' log-ins, passkeys, sessions and failed log-ins (bot/desk/).

Writes go through the writer as `ContactOp`s (queue order, one transaction per batch), like the rest; a TOTP
secret is sealed like a name. Using a code and counting a passkey's signature are compare-and-set writes, so two
processes (or two tabs) cannot both use the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, delete, func, insert, select, update

from storage.desk_records import DeskChallenge, DeskSession, DeskUser, Passkey
from storage.errors import AlreadyTaken
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.directory import ContactOp


@dataclass(frozen=True)
class SaveUser(ContactOp):
    row: dict[str, Any]
    replace: bool

    def run(self, conn: Connection) -> bool | Exception:
        found = conn.execute(select(s.desk_users.c.coach_id).where(s.desk_users.c.coach_id == self.row["coach_id"]))
        if found.first() is not None:
            if not self.replace:
                return AlreadyTaken("coach_id")
            conn.execute(update(s.desk_users).where(s.desk_users.c.coach_id == self.row["coach_id"])
                         .values(totp_secret=self.row["totp_secret"], totp_last_step=0))
            conn.execute(delete(s.desk_passkeys).where(s.desk_passkeys.c.coach_id == self.row["coach_id"]))
            conn.execute(delete(s.desk_sessions).where(s.desk_sessions.c.coach_id == self.row["coach_id"]))
            return True
        conn.execute(insert(s.desk_users).values(self.row))
        return True


@dataclass(frozen=True)
class UseTotpStep(ContactOp):
    coach_id: str
    step: int

    def run(self, conn: Connection) -> bool:
        u = s.desk_users
        done = conn.execute(update(u).where(u.c.coach_id == self.coach_id, u.c.totp_last_step < self.step)
                            .values(totp_last_step=self.step))
        return done.rowcount == 1


@dataclass(frozen=True)
class AddPasskey(ContactOp):
    row: dict[str, Any]

    def run(self, conn: Connection) -> Exception | None:
        found = conn.execute(select(s.desk_passkeys.c.coach_id)
                             .where(s.desk_passkeys.c.credential_id == self.row["credential_id"]))
        if found.first() is not None:
            return AlreadyTaken("credential_id")
        conn.execute(insert(s.desk_passkeys).values(self.row))
        return None


@dataclass(frozen=True)
class UsePasskey(ContactOp):
    credential_id: str
    old_count: int
    new_count: int
    at: datetime

    def run(self, conn: Connection) -> bool:
        p = s.desk_passkeys
        done = conn.execute(update(p).where(p.c.credential_id == self.credential_id, p.c.sign_count == self.old_count)
                            .values(sign_count=self.new_count, used_at=self.at))
        return done.rowcount == 1


@dataclass(frozen=True)
class Run(ContactOp):
    """One plain statement (a session opened, seen or ended; a failure counted or cleared)."""

    statement: Any

    def run(self, conn: Connection) -> int:
        return int(conn.execute(self.statement).rowcount or 0)


@dataclass(frozen=True)
class TakeChallenge(ContactOp):
    """Read and delete in one transaction: whoever deletes the row is the one who used the challenge."""

    id_hash: str
    purpose: str

    def run(self, conn: Connection) -> Any:
        c = s.desk_challenges
        row = conn.execute(select(c).where(c.c.id_hash == self.id_hash, c.c.purpose == self.purpose)).first()
        if row is None:
            return None
        gone = conn.execute(delete(c).where(c.c.id_hash == self.id_hash, c.c.purpose == self.purpose))
        return row if gone.rowcount == 1 else None


def _session(row: Any) -> DeskSession:
    return DeskSession(row.id_hash, row.coach_id, row.csrf, row.how, row.created_at, row.seen_at)


class DeskMethods(StoreBase):
    """The `DeskAccounts` port."""

    async def desk_user(self, coach_id: str) -> DeskUser | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(s.desk_users).where(s.desk_users.c.coach_id == coach_id))).first()
        if row is None:
            return None
        return DeskUser(row.coach_id, self._keys.open(row.totp_secret), row.totp_last_step, row.created_at)

    async def save_desk_user(self, user: DeskUser, replace: bool = False) -> None:
        row = {"coach_id": user.coach_id, "totp_secret": self._keys.seal(user.totp_secret),
               "totp_last_step": user.totp_last_step, "created_at": user.created_at}
        outcome = await self._writer.submit(Kind.CONTACT, SaveUser(row, replace))
        if isinstance(outcome, Exception):
            raise outcome

    async def use_totp_step(self, coach_id: str, step: int) -> bool:
        return cast(bool, await self._writer.submit(Kind.CONTACT, UseTotpStep(coach_id, step)))

    async def passkeys(self, coach_id: str | None = None, credential_id: str | None = None) -> list[Passkey]:
        p = s.desk_passkeys
        query = select(p).order_by(p.c.created_at)
        if coach_id is not None:
            query = query.where(p.c.coach_id == coach_id)
        if credential_id is not None:
            query = query.where(p.c.credential_id == credential_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Passkey(r.credential_id, r.coach_id, r.public_key, r.sign_count, r.created_at, r.used_at)
                for r in rows]

    async def add_passkey(self, passkey: Passkey) -> None:
        row = {"credential_id": passkey.credential_id, "coach_id": passkey.coach_id,
               "public_key": passkey.public_key, "sign_count": passkey.sign_count,
               "created_at": passkey.created_at, "used_at": passkey.used_at}
        outcome = await self._writer.submit(Kind.CONTACT, AddPasskey(row))
        if isinstance(outcome, Exception):
            raise outcome

    async def use_passkey(self, credential_id: str, old_count: int, new_count: int, at: datetime) -> bool:
        op = UsePasskey(credential_id, old_count, new_count, at)
        return cast(bool, await self._writer.submit(Kind.CONTACT, op))

    async def open_desk_session(self, session: DeskSession) -> None:
        row = {"id_hash": session.id_hash, "coach_id": session.coach_id, "csrf": session.csrf, "how": session.how,
               "created_at": session.created_at, "seen_at": session.seen_at}
        await self._writer.submit(Kind.CONTACT, Run(insert(s.desk_sessions).values(row)))

    async def desk_session(self, id_hash: str) -> DeskSession | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(s.desk_sessions).where(s.desk_sessions.c.id_hash == id_hash))).first()
        return None if row is None else _session(row)

    async def touch_desk_session(self, id_hash: str, at: datetime) -> None:
        d = s.desk_sessions
        await self._writer.submit(Kind.CONTACT, Run(update(d).where(d.c.id_hash == id_hash).values(seen_at=at)))

    async def end_desk_sessions(self, *, id_hash: str | None = None, seen_before: datetime | None = None) -> int:
        """End one session (log-out, expiry) or every session idle since `seen_before`; returns how many ended."""
        d = s.desk_sessions
        statement = delete(d)
        if id_hash is not None:
            statement = statement.where(d.c.id_hash == id_hash)
        if seen_before is not None:
            statement = statement.where(d.c.seen_at < seen_before)
        return cast(int, await self._writer.submit(Kind.CONTACT, Run(statement)))

    async def login_failures(self, key: str, since: datetime) -> int:
        f = s.desk_login_failures
        async with self._connect() as conn:
            found = await conn.execute(select(func.count()).select_from(f).where(f.c.key == key, f.c.at >= since))
        return int(found.scalar_one())

    async def record_login_failure(self, key: str, at: datetime, forget_before: datetime) -> None:
        """Count a failed log-in under `key`, and forget every failure older than `forget_before` (of any key)."""
        f = s.desk_login_failures
        await self._writer.submit(Kind.CONTACT, Run(delete(f).where(f.c.at < forget_before)))
        await self._writer.submit(Kind.CONTACT, Run(insert(f).values(key=key, at=at)))

    async def remove_passkey(self, coach_id: str, credential_id: str) -> bool:
        p = s.desk_passkeys
        statement = delete(p).where(p.c.coach_id == coach_id, p.c.credential_id == credential_id)
        return cast(int, await self._writer.submit(Kind.CONTACT, Run(statement))) == 1

    async def save_desk_challenge(self, challenge: DeskChallenge, now: datetime) -> None:
        c = s.desk_challenges
        row = {"id_hash": challenge.id_hash, "purpose": challenge.purpose, "coach_id": challenge.coach_id,
               "data": self._keys.seal(challenge.data), "expires_at": challenge.expires_at}
        await self._writer.submit(Kind.CONTACT, Run(delete(c).where(c.c.expires_at <= now)))
        await self._writer.submit(Kind.CONTACT, Run(insert(c).values(row)))

    async def take_desk_challenge(self, id_hash: str, purpose: str, now: datetime) -> DeskChallenge | None:
        row = await self._writer.submit(Kind.CONTACT, TakeChallenge(id_hash, purpose))
        if row is None or row.expires_at <= now:
            return None
        return DeskChallenge(row.id_hash, row.purpose, row.coach_id, self._keys.open(row.data), row.expires_at)
