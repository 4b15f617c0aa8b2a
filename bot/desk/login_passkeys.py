"""Passkeys (WebAuthn, the `webauthn` package) for coaches where the municipality has no identity provider.

A coach logged in with a one-time code adds a passkey on their account page; from then on "Log in with a passkey"
needs no coach id and no code (a discoverable credential: the authenticator offers the desk's keys). The browser's
side is bot/desk/static/passkeys.js (no inline script under the desk's CSP).

Every ceremony's challenge is a `DeskChallenge` in the database, found by the SHA-256 of the challenge the browser
signed (it comes back in clientDataJSON): short-lived, taken once, so an answer cannot be replayed, and any desk
process can finish what another began. A challenge for adding a passkey belongs to the coach who asked for it.
The relying party is the desk's public address (DESK_PUBLIC_URL) or, without one, the address the browser used on
this machine; the browser only signs for the site it is on, so a look-alike site gets nothing usable here.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bot.clock import Clock
from bot.deployment import Coach
from storage.desk_records import DeskChallenge, Passkey
from storage.ports import DeskAccounts

LIFETIME = timedelta(minutes=5)
RP_NAME = "Stressforløb"
ADD, LOG_IN = "passkey_add", "passkey_login"


class PasskeyFailure(Exception):
    """The browser's answer does not log anyone in; `reason` is short, for the audit row and the log."""

    def __init__(self, reason: str, coach_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.coach_id = coach_id


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host name
    origin: str  # scheme://host[:port]

    @classmethod
    def of(cls, public_url: str, request: Request) -> RelyingParty:
        if public_url:
            parts = urlsplit(public_url)
            return cls(parts.hostname or "", f"{parts.scheme}://{parts.netloc}")
        return cls(request.url.hostname or "", f"{request.url.scheme}://{request.url.netloc}")


def user_handle(coach_id: str) -> bytes:
    """What the authenticator stores as the user's id: not the coach id itself (it may be a person's name)."""
    return hashlib.sha256(f"desk-coach\x00{coach_id}".encode()).digest()


def challenge_hash(challenge: bytes) -> str:
    return hashlib.sha256(b"passkey\x00" + challenge).hexdigest()


def signed_challenge(credential: dict[str, Any]) -> bytes:
    """The challenge the browser signed, from the answer's clientDataJSON (checked again by `webauthn`)."""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        return base64url_to_bytes(client_data["challenge"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise PasskeyFailure("malformed answer") from None


@dataclass
class Passkeys:
    accounts: DeskAccounts
    clock: Clock

    async def _keep(self, challenge: bytes, purpose: str, coach_id: str | None) -> None:
        now = self.clock.now()
        await self.accounts.save_desk_challenge(
            DeskChallenge(challenge_hash(challenge), purpose, coach_id, bytes_to_base64url(challenge),
                          now + LIFETIME), now)

    async def _take(self, credential: dict[str, Any], purpose: str) -> DeskChallenge:
        found = await self.accounts.take_desk_challenge(challenge_hash(signed_challenge(credential)), purpose,
                                                        self.clock.now())
        if found is None:
            raise PasskeyFailure("unknown or expired challenge")
        return found

    async def adding_options(self, coach: Coach, rp: RelyingParty) -> str:
        """The options for navigator.credentials.create(), as JSON; the coach's own passkeys excluded."""
        own = await self.accounts.passkeys(coach.id)
        options = generate_registration_options(
            rp_id=rp.id, rp_name=RP_NAME, user_id=user_handle(coach.id), user_name=coach.id,
            user_display_name=coach.name,
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in own],
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.PREFERRED))
        await self._keep(options.challenge, ADD, coach.id)
        return options_to_json(options)

    async def add(self, coach: Coach, rp: RelyingParty, credential: dict[str, Any]) -> Passkey:
        """Check the authenticator's answer and keep the new passkey as the coach's."""
        challenge = await self._take(credential, ADD)
        if challenge.coach_id != coach.id:
            raise PasskeyFailure("the challenge was another coach's", coach.id)
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=base64url_to_bytes(challenge.data),
                expected_rp_id=rp.id, expected_origin=rp.origin)
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise PasskeyFailure("the new passkey's answer was refused", coach.id) from None
        passkey = Passkey(bytes_to_base64url(verified.credential_id), coach.id,
                          bytes_to_base64url(verified.credential_public_key), verified.sign_count, self.clock.now())
        await self.accounts.add_passkey(passkey)
        return passkey

    async def log_in_options(self, rp: RelyingParty) -> str:
        """The options for navigator.credentials.get(): no user named, the authenticator offers its keys."""
        options = generate_authentication_options(rp_id=rp.id,
                                                  user_verification=UserVerificationRequirement.PREFERRED)
        await self._keep(options.challenge, LOG_IN, None)
        return options_to_json(options)

    async def log_in(self, rp: RelyingParty, credential: dict[str, Any]) -> str:
        """The coach id this signed answer proves, or PasskeyFailure."""
        challenge = await self._take(credential, LOG_IN)
        found = await self.accounts.passkeys(credential_id=str(credential.get("id", ""))[:700])
        if not found:
            raise PasskeyFailure("unknown passkey")
        passkey = found[0]
        response = credential.get("response")
        handle = response.get("userHandle") if isinstance(response, dict) else None
        if handle and base64url_to_bytes(str(handle)) != user_handle(passkey.coach_id):
            raise PasskeyFailure("the passkey belongs to someone else", passkey.coach_id)
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=base64url_to_bytes(challenge.data), expected_rp_id=rp.id,
                expected_origin=rp.origin, credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count)
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise PasskeyFailure("the signature was refused", passkey.coach_id) from None
        if not await self.accounts.use_passkey(passkey.credential_id, passkey.sign_count, verified.new_sign_count,
                                               self.clock.now()):
            raise PasskeyFailure("the passkey's counter moved meanwhile (a copy of the key?)", passkey.coach_id)
        return passkey.coach_id
