"""Authentication the simulator enforces, as a PI Web API configured for it does: HTTP Basic, and bearer
tokens issued by an OAuth 2.0 token endpoint it also serves (``POST /token``, the client-credentials
grant) or fixed ones. A request without acceptable credentials gets 401 with one ``WWW-Authenticate``
challenge per enabled mode (a real server lists every method its configuration allows).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


@dataclass
class TokenIssuer:
    """Issues and checks bearer tokens. ``lifetime_s``: how long an issued token is valid;
    ``static_tokens``: tokens accepted without being issued (a long-lived token from an identity provider)."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    lifetime_s: float = 3600.0
    static_tokens: frozenset[str] = frozenset()
    issued: dict[str, float] = field(default_factory=dict, repr=False)  # token -> expiry (monotonic)
    requests: int = 0  # token requests answered (tests count refreshes)
    refused: int = 0  # bearer tokens refused (unknown or expired)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue(self, body: bytes, authorization: str) -> tuple[int, dict]:
        """``POST /token``: (status, JSON body) as RFC 6749 section 5 says."""
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization.lower().startswith("basic "):  # client_secret_basic, what most clients send
            try:
                client_id, _, client_secret = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if not self.client_id or (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = time.monotonic() + self.lifetime_s
            self.requests += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime_s)}

    def valid(self, token: str) -> bool:
        if token in self.static_tokens:
            return True
        with self._lock:
            expiry = self.issued.get(token)
            ok = expiry is not None and time.monotonic() < expiry
            self.refused += not ok
        return ok

    def revoke_all(self) -> None:
        """Forget every issued token (a server restart, a key rotation): the next request gets 401."""
        with self._lock:
            self.issued.clear()


@dataclass
class Authenticator:
    basic: tuple[str, str] | None = None
    bearer: TokenIssuer | None = None

    def authorised(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        if self.basic is not None and scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return (user, password) == self.basic
        if self.bearer is not None and scheme.lower() == "bearer":
            return self.bearer.valid(credentials.strip())
        return False

    def challenges(self, header: str) -> list[str]:
        out = []
        if self.bearer is not None:
            invalid = ', error="invalid_token"' if header.lower().startswith("bearer ") else ""
            out.append(f'Bearer realm="PI Web API"{invalid}')
        if self.basic is not None:
            out.append('Basic realm="PI Web API"')
        return out
