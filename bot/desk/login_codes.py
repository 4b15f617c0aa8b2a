"""Log-in with a one-time code (TOTP, RFC 6238) where the municipality has no identity provider.

An account is made by `python -m bot desk add-user COACH_ID`, which prints the secret once (and an otpauth:// address
for the authenticator app). A code is accepted for its own 30-second step and the one before or after (clocks
drift), and only once: the newest used step is stored, so a code seen over a shoulder cannot be used again.
Failed attempts are counted per coach and per address (`LoginThrottle`): after too many the page says to wait, and
the coach's right code is refused as well until then. Refused passkeys count too (per address, and per coach once
the key names one), and so do answers from the identity provider that fail their checks (per address).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from starlette.requests import Request

from bot.clock import Clock
from storage.desk_records import DeskUser
from storage.ports import DeskAccounts

log = logging.getLogger(__name__)
STEP = 30
ISSUER = "Stressforløb"
WINDOW = timedelta(minutes=15)
PER_COACH = 5  # failed log-ins of one coach id within WINDOW
PER_ADDRESS = 20  # failed log-ins from one address within WINDOW (someone trying many coach ids)
BEGUN_PER_ADDRESS = 60  # passkey log-ins begun from one address within WINDOW: each one stores a challenge


def new_user(coach_id: str, now: datetime) -> DeskUser:
    return DeskUser(coach_id, pyotp.random_base32(), 0, now)


def provisioning_uri(user: DeskUser) -> str:
    return pyotp.TOTP(user.totp_secret, interval=STEP).provisioning_uri(name=user.coach_id, issuer_name=ISSUER)


def matching_step(user: DeskUser, code: str, now: datetime) -> int | None:
    """The 30-second step whose code this is (now, or one step either side), None for a wrong code."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(user.totp_secret, interval=STEP)
    step = int(now.timestamp()) // STEP
    for candidate in (step, step - 1, step + 1):
        if totp.at(candidate * STEP) == code:
            return candidate
    return None


@dataclass
class LoginThrottle:
    """Failed log-ins counted in the database, so several desk processes share the count."""

    accounts: DeskAccounts
    clock: Clock

    @staticmethod
    def keys(request: Request, coach_id: str | None) -> list[str]:
        """The counters an attempt counts in: the address's, and the coach id's when one was named."""
        address = request.client.host if request.client else "unknown"
        keys = [hashlib.sha256(f"address\x00{address}".encode()).hexdigest()]
        if coach_id is not None:
            keys.append(hashlib.sha256(f"coach\x00{coach_id.casefold()}".encode()).hexdigest())
        return keys

    async def blocked(self, request: Request, coach_id: str | None = None) -> bool:
        """Too many failures from this address, or (when a coach id is named) for this coach id."""
        address_key, *coach_key = self.keys(request, coach_id)
        since = self.clock.now() - WINDOW
        if await self.accounts.login_failures(address_key, since) >= PER_ADDRESS:
            return True
        for key in coach_key:
            if await self.accounts.login_failures(key, since) >= PER_COACH:
                return True
        return False

    async def begin(self, request: Request) -> bool:
        """Count a passkey log-in begun from this address (anyone may begin one, and each stores a challenge until
        it expires); False once too many were begun within the window: a script cannot fill the table."""
        address = request.client.host if request.client else "unknown"
        key = hashlib.sha256(f"begun\x00{address}".encode()).hexdigest()
        now = self.clock.now()
        if await self.accounts.login_failures(key, now - WINDOW) >= BEGUN_PER_ADDRESS:
            return False
        await self.accounts.record_login_failure(key, now, now - WINDOW)
        return True

    async def failed(self, request: Request, coach_id: str | None = None) -> None:
        """Count a failure: a wrong code, a refused passkey (for its coach when known), a forged provider answer."""
        now = self.clock.now()
        for key in self.keys(request, coach_id):
            await self.accounts.record_login_failure(key, now, now - WINDOW)
        log.warning("a desk log-in failed")


async def check_code(accounts: DeskAccounts, coach_id: str, code: str, now: datetime) -> bool:
    """Whether `code` logs `coach_id` in now; a right code is spent by this call."""
    user = await accounts.desk_user(coach_id)
    if user is None:
        return False
    step = matching_step(user, code, now)
    return step is not None and await accounts.use_totp_step(coach_id, step)
