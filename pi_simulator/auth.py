"""Authentication the simulator enforces, as a PI Web API configured for it does: HTTP Basic, bearer
tokens issued by an OAuth 2.0 token endpoint it also serves (``POST /token``, the client-credentials
grant) or fixed ones, and Kerberos (``Negotiate``) against a service keytab. A request without acceptable
credentials gets 401 with one ``WWW-Authenticate`` challenge per enabled mode (a real server lists every
method its configuration allows).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter
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

    def user(self, token: str) -> str | None:
        """Who the token was issued to (the client id; ``static`` for a fixed token), or None if refused."""
        if token in self.static_tokens:
            return "static"
        with self._lock:
            expiry = self.issued.get(token)
            ok = expiry is not None and time.monotonic() < expiry
            self.refused += not ok
        return self.client_id if ok else None

    def revoke_all(self) -> None:
        """Forget every issued token (a server restart, a key rotation): the next request gets 401."""
        with self._lock:
            self.issued.clear()


@dataclass
class KerberosAcceptor:
    """Accepts ``Negotiate`` (SPNEGO/Kerberos) tokens for the service principals in ``keytab``, as a PI Web
    API with Kerberos does. ``mutual``: answer with the server's token (mutual authentication); a proxy
    that drops it is ``mutual=False``. Each request is authenticated on its own (no connection-bound auth),
    the strictest a client can meet."""

    keytab: str
    mutual: bool = True

    def accept(self, token: str) -> tuple[str | None, str | None]:
        """(client principal or None if refused, the base64 token to answer with or None)."""
        import gssapi

        try:
            creds = gssapi.Credentials(usage="accept", store={b"keytab": self.keytab.encode()})
            context = gssapi.SecurityContext(creds=creds, usage="accept")
            answer = context.step(base64.b64decode(token))
            if not context.complete:  # a multi-leg mechanism: Kerberos completes in one
                return None, base64.b64encode(answer).decode() if answer else None
            user = str(context.initiator_name)
        except (gssapi.exceptions.GSSError, ValueError):  # not a ticket, not for us, replayed, expired
            return None, None
        return user, (base64.b64encode(answer).decode() if answer and self.mutual else None)


@dataclass
class Authenticator:
    basic: tuple[str, str] | None = None
    bearer: TokenIssuer | None = None
    kerberos: KerberosAcceptor | None = None
    accepted: Counter = field(default_factory=Counter)  # requests let in, by scheme (tests)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, header: str) -> tuple[str | None, dict[str, str]]:
        """(the authenticated user or None, headers for the answer). A refused request gets 401 with
        :meth:`challenges`; an accepted Negotiate request carries the server's mutual token."""
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        user, headers = self._check(scheme, credentials.strip())
        if user is not None:
            with self._lock:
                self.accepted[scheme] += 1
        return user, headers

    def _check(self, scheme: str, credentials: str) -> tuple[str | None, dict[str, str]]:
        if self.basic is not None and scheme == "basic":
            try:
                user, _, password = base64.b64decode(credentials).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, {}
            return (user if (user, password) == self.basic else None), {}
        if self.bearer is not None and scheme == "bearer":
            return self.bearer.user(credentials), {}
        if self.kerberos is not None and scheme == "negotiate" and credentials:
            user, answer = self.kerberos.accept(credentials)
            return user, ({"WWW-Authenticate": f"Negotiate {answer}"} if answer else {})
        return None, {}

    def challenges(self, header: str) -> list[str]:
        out = []
        if self.kerberos is not None:
            out.append("Negotiate")
        if self.bearer is not None:
            invalid = ', error="invalid_token"' if header.lower().startswith("bearer ") else ""
            out.append(f'Bearer realm="PI Web API"{invalid}')
        if self.basic is not None:
            out.append('Basic realm="PI Web API"')
        return out
