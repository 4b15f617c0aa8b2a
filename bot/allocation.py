"""Concealed, reproducible allocation of a randomised cohort's participants (issue 15, seed 002's lottery).

Each participant enrolled in a randomised cohort takes the next place of the cohort's sequence, in the transaction
that enrols them (`Allocations.enroll_allocated`). The sequence is permuted blocks of 4 and 6 (half programme,
half control in every block, so the arms stay within 3 of each other at any time), drawn from a generator keyed by
the deployment's allocation key (`BOT_ALLOCATION_KEY`) and the cohort's name:

    stream(block b) = HMAC-SHA256(key, "stressbot-allocation-v1" 0x00 cohort 0x00 b as 8 bytes big-endian),
                      then HMAC-SHA256(key, that block's previous 32 bytes) for more bytes
    block size      = 4 if the stream's first byte is even, else 6
    the block       = a Fisher-Yates shuffle of [programme] * size/2 + [control] * size/2, each index drawn from
                      the stream's next 4-byte big-endian numbers, rejection-sampled (no modulo bias)

So an auditor with the key recomputes every allocation (`bot cohort verify`), and nobody without it can predict
the next one, not even from every allocation so far (the block sizes vary too). Nothing is stored ahead: the
sequence is computed at the moment of each enrolment. The key's fingerprint (`key_id`) is stored with the cohort,
so a changed key is noticed instead of silently making a different sequence.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from functools import lru_cache

from storage.allocation_records import CONTROL, PROGRAMME, Draw

SCHEME = "blocks-4-6/hmac-sha256/v1"
BLOCK_SIZES = (4, 6)
_LABEL = b"stressbot-allocation-v1"


class AllocationKeyError(ValueError):
    """No allocation key, or one too short to keep the sequence secret."""


def configured_key() -> bytes | None:
    """BOT_ALLOCATION_KEY as the key (`key_bytes`), None when it is not set; AllocationKeyError when it is set but
    unusable. Each caller says so its own way (a line on stderr, a problem on the enrolment page)."""
    from bot.settings import settings

    secret = settings().bot_allocation_key
    return None if secret is None else key_bytes(secret.get_secret_value())


def key_bytes(secret: str) -> bytes:
    if len(secret) < 16:
        raise AllocationKeyError("BOT_ALLOCATION_KEY must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    return secret.encode("utf-8")


def key_id(key: bytes) -> str:
    """A fingerprint that names the key without revealing it (stored with the cohort)."""
    return hmac.new(key, b"stressbot-allocation-key-id", hashlib.sha256).hexdigest()[:16]


def _stream(key: bytes, cohort: str, block: int) -> Iterator[int]:
    """The block's bytes, as many as are asked for."""
    chunk = hmac.new(key, _LABEL + b"\0" + cohort.encode("utf-8") + b"\0" + block.to_bytes(8, "big"),
                     hashlib.sha256).digest()
    while True:
        yield from chunk
        chunk = hmac.new(key, chunk, hashlib.sha256).digest()


def _below(stream: Iterator[int], n: int) -> int:
    """A uniform whole number in [0, n) from the stream's 4-byte numbers (rejection sampling)."""
    limit = (1 << 32) - (1 << 32) % n
    while True:
        value = int.from_bytes(bytes(next(stream) for _ in range(4)), "big")
        if value < limit:
            return value % n


@lru_cache(maxsize=4096)
def block_of(key: bytes, cohort: str, block: int) -> tuple[str, ...]:
    """The arms of one block, in order."""
    stream = _stream(key, cohort, block)
    size = BLOCK_SIZES[next(stream) % 2]
    arms = [PROGRAMME] * (size // 2) + [CONTROL] * (size // 2)
    for i in range(size - 1, 0, -1):
        j = _below(stream, i + 1)
        arms[i], arms[j] = arms[j], arms[i]
    return tuple(arms)


def sequence(key: bytes, cohort: str) -> Iterator[Draw]:
    """The cohort's whole sequence, place 0 first (endless)."""
    block = 0
    while True:
        arms = block_of(key, cohort, block)
        for arm in arms:
            yield Draw(arm, block, len(arms))
        block += 1


def draw(key: bytes, cohort: str, seq: int) -> Draw:
    """What place `seq` (0-based) of the cohort's sequence is."""
    if seq < 0:
        raise ValueError("a place in the sequence is 0 or more")
    for place, found in enumerate(sequence(key, cohort)):
        if place == seq:
            return found
    raise AssertionError("unreachable: the sequence is endless")
