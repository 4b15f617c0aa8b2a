"""A fake OpenID Connect provider on 127.0.0.1, for the desk's log-in tests: a real HTTP server in a thread.

It serves what a municipality's identity provider serves: the discovery document, its public keys (JWKS, one RSA
key), `/authorize` (which logs in at once whoever the test chose, and sends the browser straight back with a code)
and `/token` (the client's secret, the code once, the redirect address and the PKCE verifier checked; an id token
signed RS256 with the nonce the desk sent). Its clock is the test's, so the tokens' times match the desk's.

Usage::

    with FakeOidc(clock=lambda: live.clock.now(), host="localhost") as idp:
        idp.next_user = {"sub": "u-1", "email": "coach@kommune.dk"}
        ...  # the desk configured with DESK_OIDC_ISSUER=idp.issuer, DESK_OIDC_CLIENT_ID=idp.client_id, ...
        idp.forge_next = True   # the next id token is signed with a key that is not in the JWKS
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "stressdesk"
CLIENT_SECRET = "desk-secret-for-tests"


@dataclass
class Grant:
    claims: dict[str, Any]
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str


@dataclass
class FakeOidc:
    clock: Callable[[], datetime]
    host: str = "127.0.0.1"  # "localhost": another site than a desk on 127.0.0.1, as a real provider is
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    next_user: dict[str, Any] = field(default_factory=dict)
    forge_next: bool = False
    grants: dict[str, Grant] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}))
    _server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOidc:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler(self))
        threading.Thread(target=self._server.serve_forever, name="fake-oidc", daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"]}

    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser goes next: back to the client with a code for `next_user`."""
        self.authorize_requests.append(query)
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
            raise ValueError("unknown client, or no PKCE")
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(dict(self.next_user), query["client_id"], query["redirect_uri"],
                                  query.get("nonce", ""), query["code_challenge"])
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if authorization != "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode():
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)  # a code works once
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = self.clock()
        claims = {"iss": self.issuer, "aud": grant.client_id, "iat": int(now.timestamp()),
                  "exp": int((now + timedelta(minutes=5)).timestamp()), "nonce": grant.nonce, **grant.claims}
        key = self.key
        if self.forge_next:
            self.forge_next = False
            key = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # the same key id, another key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                     "id_token": id_token}


def handler(idp: FakeOidc) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, idp.discovery())
            elif url.path == "/jwks":
                self._json(200, {"keys": [idp.key.as_dict(private=False)]})
            elif url.path == "/authorize":
                try:
                    target = idp.authorize(dict(parse_qsl(url.query)))
                except (ValueError, KeyError):
                    self._json(400, {"error": "invalid_request"})
                    return
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            status, answer = idp.token(dict(parse_qsl(body)), self.headers.get("Authorization", ""))
            self._json(status, answer)

    return Handler
