"""The desk's log-in records (storage/sql/desk.py): a challenge is taken once, a coach removes only their own
passkey; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import SqlStorage
from storage.desk_records import DeskChallenge, DeskUser, Passkey
from tests.conftest import T0


def challenge(id_hash: str, minutes: int = 5, purpose: str = "passkey_login") -> DeskChallenge:
    return DeskChallenge(id_hash, purpose, None, '{"challenge": "abc"}', T0 + timedelta(minutes=minutes))


async def test_a_challenge_is_taken_once_even_by_two_at_the_same_time(store: SqlStorage) -> None:
    await store.save_desk_challenge(challenge("a" * 64), T0)
    first, second = await asyncio.gather(store.take_desk_challenge("a" * 64, "passkey_login", T0),
                                         store.take_desk_challenge("a" * 64, "passkey_login", T0))
    assert [c for c in (first, second) if c is not None] == [challenge("a" * 64)]
    assert await store.take_desk_challenge("a" * 64, "passkey_login", T0) is None


async def test_a_challenge_is_not_taken_for_another_purpose_nor_after_it_expires(store: SqlStorage) -> None:
    await store.save_desk_challenge(challenge("b" * 64, minutes=2), T0)
    assert await store.take_desk_challenge("b" * 64, "oidc", T0) is None
    assert await store.take_desk_challenge("b" * 64, "passkey_login", T0 + timedelta(minutes=2)) is None


async def test_saving_a_challenge_forgets_the_expired_ones(store: SqlStorage) -> None:
    await store.save_desk_challenge(challenge("c" * 64, minutes=1), T0)
    await store.save_desk_challenge(challenge("d" * 64, minutes=10), T0 + timedelta(minutes=5))
    # gone from the table, not merely refused: taking it with the clock turned back finds nothing
    assert await store.take_desk_challenge("c" * 64, "passkey_login", T0) is None
    assert await store.take_desk_challenge("d" * 64, "passkey_login", T0) == challenge("d" * 64, minutes=10)


async def test_a_coach_removes_their_own_passkey_and_no_one_else_s(store: SqlStorage) -> None:
    for coach in ("coach", "backup"):
        await store.save_desk_user(DeskUser(coach, "JBSWY3DPEHPK3PXP", 0, T0))
    await store.add_passkey(Passkey("key-of-coach", "coach", "pk", 0, T0))
    assert not await store.remove_passkey("backup", "key-of-coach")
    assert [p.credential_id for p in await store.passkeys("coach")] == ["key-of-coach"]
    assert await store.remove_passkey("coach", "key-of-coach")
    assert await store.passkeys("coach") == []
