"""What the coaches' desk in the browser stores about its users (bot/desk/): log-ins, passkeys, sessions.

Kept apart from storage/records.py (the participants' records): none of this is about a participant, and none of it
is erased with one. A session is known by its id's SHA-256 only; the id itself lives in the coach's cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DeskUser:
    """A coach's own log-in (`python -m bot desk add-user`), used where there is no identity provider."""

    coach_id: str
    totp_secret: str  # base32, as an authenticator app takes it; sealed at rest
    totp_last_step: int  # the newest 30-second step whose code was used: a code works once
    created_at: datetime


@dataclass(frozen=True)
class Passkey:
    credential_id: str  # base64url
    coach_id: str
    public_key: str  # base64url COSE key
    sign_count: int
    created_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class DeskSession:
    id_hash: str  # SHA-256 hex of the opaque id in the cookie
    coach_id: str
    csrf: str  # the token every POST of this session must carry
    how: str  # "oidc", "passkey" or "totp"
    created_at: datetime
    seen_at: datetime


@dataclass(frozen=True)
class DeskChallenge:
    """What a log-in in progress must answer (a passkey's challenge; the identity provider's state, nonce and PKCE
    verifier), kept in the database so any desk process can finish it, and taken once."""

    id_hash: str  # SHA-256 hex of the challenge, or of the browser's state cookie
    purpose: str  # "passkey_add", "passkey_login" or "oidc"
    coach_id: str | None
    data: str  # opaque to storage (JSON); sealed at rest
    expires_at: datetime
