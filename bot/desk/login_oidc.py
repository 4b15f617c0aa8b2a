"""Log-in through the municipality's identity provider: OpenID Connect, authorization code flow with PKCE.

Authlib does the protocol's parts (the authorization address, the PKCE challenge, the id token's claims: issuer,
audience, expiry, nonce, authorized party) and joserfc (Authlib's own JOSE library) checks the id token's signature
against the provider's published keys (JWKS), fetched again once when a token names a key we have not seen (the
provider rotated its keys). The provider's discovery document and keys are kept for an hour.

What the log-in must remember between leaving for the provider and coming back (state, nonce, PKCE verifier, where
the coach was going) is a `DeskChallenge` in the database, found by the SHA-256 of a random value in a short-lived
cookie of this browser: any desk process can finish the log-in, it works once, and a callback in another browser
(someone else's code and state) finds nothing. The token request goes straight from the desk to the provider, with
the client secret (client_secret_basic).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from bot.clock import Clock
from bot.settings import Settings
from storage.desk_records import DeskChallenge
from storage.ports import DeskAccounts

log = logging.getLogger(__name__)
STATE_COOKIE = "desk_oidc"
STATE_LIFETIME = timedelta(minutes=10)  # time to log in at the provider
KEEP_METADATA = timedelta(hours=1)
LEEWAY = 120  # seconds of clock difference allowed with the provider
TIMEOUT = 10.0


class OidcFailure(Exception):
    """The log-in through the provider did not prove who this is; the message is for the log (no personal data)."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    login_claim: str  # the id token's claim matched with a coach's `login:`
    name: str  # on the log-in button

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """The provider's configuration, or None where there is none (passkeys and one-time codes then)."""
        if not settings.desk_oidc_issuer:
            return None
        return cls(settings.desk_oidc_issuer, settings.desk_oidc_client_id,
                   settings.desk_oidc_client_secret.get_secret_value(), settings.desk_oidc_login_claim,
                   settings.desk_oidc_name or urlsplit(settings.desk_oidc_issuer).hostname or "")


@dataclass(frozen=True)
class Pending:
    """A log-in between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str
    target: str  # where the coach was going


def cookie_hash(value: str) -> str:
    return hashlib.sha256(f"oidc\x00{value}".encode("ascii", "replace")).hexdigest()


@dataclass
class OidcProvider:
    config: OidcConfig
    accounts: DeskAccounts
    clock: Clock
    _metadata: dict[str, Any] | None = None
    _fetched_at: datetime | None = None
    _keys: KeySet | None = field(default=None, repr=False)

    async def metadata(self) -> dict[str, Any]:
        """The discovery document (kept for an hour); its issuer must be the configured one."""
        now = self.clock.now()
        if self._metadata is None or self._fetched_at is None or now - self._fetched_at > KEEP_METADATA:
            found = await self._get_json(f"{self.config.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.config.issuer.rstrip("/"):
                raise OidcFailure("the provider's discovery document names another issuer")
            for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(needed), str):
                    raise OidcFailure(f"the provider's discovery document has no {needed}")
            self._metadata, self._fetched_at, self._keys = found, now, None
        return self._metadata

    async def start(self, redirect_uri: str, target: str) -> tuple[str, str]:
        """Leave for the provider: returns the browser's state cookie value and the provider's log-in address."""
        metadata = await self.metadata()
        pending = Pending(generate_token(32), generate_token(32), generate_token(64), target)
        browser = secrets.token_urlsafe(32)
        now = self.clock.now()
        await self.accounts.save_desk_challenge(
            DeskChallenge(cookie_hash(browser), "oidc", None, json.dumps(pending.__dict__), now + STATE_LIFETIME), now)
        address = prepare_grant_uri(
            metadata["authorization_endpoint"], self.config.client_id, "code", redirect_uri=redirect_uri,
            scope="openid profile email", state=pending.state, nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier), code_challenge_method="S256")
        return browser, address

    async def pending(self, browser: str | None) -> Pending | None:
        """The log-in this browser began (taken: a second callback finds nothing)."""
        if not browser or len(browser) > 100:
            return None
        found = await self.accounts.take_desk_challenge(cookie_hash(browser), "oidc", self.clock.now())
        return None if found is None else Pending(**json.loads(found.data))

    async def identity(self, pending: Pending, state: str, code: str, redirect_uri: str) -> dict[str, Any]:
        """The id token's claims for this callback, after checking the state, the token's signature and claims."""
        if not secrets.compare_digest(state.encode(), pending.state.encode()):
            raise OidcFailure("the state does not match the log-in this browser began")
        metadata = await self.metadata()
        answer = await self._post_token(metadata["token_endpoint"], {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": pending.verifier})
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise OidcFailure("the provider's token answer has no id token")
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if a != "none"]
        try:
            token = jwt.decode(id_token, await self._key_set(metadata, id_token),
                               registry=JWSRegistry(algorithms=algorithms, strict_check_header=False))
            claims = CodeIDToken(token.claims, token.header,
                                 {"iss": {"essential": True, "value": metadata["issuer"]},
                                  "aud": {"essential": True, "value": self.config.client_id}},
                                 {"nonce": pending.nonce, "client_id": self.config.client_id,
                                  "access_token": answer.get("access_token")})
            claims.validate(now=int(self.clock.now().timestamp()), leeway=LEEWAY)
        except (JoseError, ValueError) as error:
            raise OidcFailure(f"the id token was refused: {type(error).__name__}") from None
        return dict(claims)

    async def _key_set(self, metadata: dict[str, Any], id_token: str) -> KeySet:
        """The provider's keys; fetched again once when the token names a key id they lack (rotation)."""
        try:
            header = json.loads(_b64decode(id_token.split(".")[0]))
        except (ValueError, IndexError):
            raise OidcFailure("the id token is not a JWT") from None
        kid = header.get("kid") if isinstance(header, dict) else None
        if self._keys is None or (kid is not None and kid not in {k.kid for k in self._keys.keys}):
            self._keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.get(url)
                response.raise_for_status()
                found = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise OidcFailure(f"the identity provider could not be read: {type(error).__name__}") from None
        if not isinstance(found, dict):
            raise OidcFailure("the identity provider's answer is not a JSON object")
        return found

    async def _post_token(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.post(url, data=form, auth=(quote(self.config.client_id, safe=""),
                                                                   quote(self.config.client_secret, safe="")),
                                           headers={"Accept": "application/json"})
                found = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise OidcFailure(f"the identity provider's token endpoint failed: {type(error).__name__}") from None
        if response.status_code != 200 or not isinstance(found, dict):
            error_code = found.get("error") if isinstance(found, dict) else None
            raise OidcFailure(f"the identity provider refused the code ({response.status_code}, {error_code})")
        return found


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
