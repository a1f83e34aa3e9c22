"""How each request proves who it is, by ``pi.auth.type``: HTTP Basic, a bearer token (a static one,
or one obtained from an OAuth 2.0 token endpoint with the client-credentials grant), or Kerberos
(``connector_lib.kerberos``).

Tokens from a token endpoint are fetched on first use, shared by the client's threads, and fetched again
shortly before they expire; a 401 answer to a request that carried a token still thought valid (revoked,
or the server's clock runs ahead) gets one new token and one retry. The token endpoint's errors name the
endpoint and its error code, never the client secret or a token.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from .config import PIConfig
from .errors import AuthError, is_transient_status
from .timeutil import renew_in

#: bearer tokens: renewed at most this long before they expire
TOKEN_MARGIN_S = 60.0


class BearerAuth(AuthBase):
    def __init__(self, config: PIConfig, session: requests.Session):
        self.config = config
        self.session = session
        self._lock = threading.Lock()
        self._token: str | None = config.token or None
        self._renew_at = float("inf")
        self.fetched = 0  # tokens obtained from the endpoint (tests, logs)

    def token(self, force: bool = False) -> str:
        if self.config.token:
            return self.config.token
        with self._lock:
            if force or self._token is None or time.monotonic() >= self._renew_at:
                self._token = self._fetch()
            return self._token

    def _fetch(self) -> str:
        endpoint = urlsplit(self.config.token_url)
        where = f"bearer: token endpoint {endpoint.scheme}://{endpoint.netloc}{endpoint.path}"
        data = {"grant_type": "client_credentials", **({"scope": self.config.scope} if self.config.scope else {})}
        try:
            resp = self.session.post(
                self.config.token_url,
                data=data,
                timeout=self.config.timeout_s,
                auth=(self.config.client_id, self.config.client_secret),
                verify=self.session.verify,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise AuthError(f"{where}: {type(exc).__name__}", transient=True) from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if is_transient_status(resp.status_code):
            raise AuthError(f"{where} answered HTTP {resp.status_code}", transient=True)
        if resp.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            code = body.get("error", "no access_token") if isinstance(body, dict) else "no access_token"
            raise AuthError(
                f"{where} answered HTTP {resp.status_code} ({code}): check pi.auth.client_id and pi.auth.client_secret"
            )
        lifetime = float(body.get("expires_in") or 3600)
        self._renew_at = time.monotonic() + renew_in(lifetime, TOKEN_MARGIN_S)
        self.fetched += 1
        return str(body["access_token"])

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        if not self.config.token:
            request.register_hook("response", self._retry_once_on_401)
        return request

    def _retry_once_on_401(self, resp: requests.Response, **kwargs) -> requests.Response:
        if resp.status_code != 401 or getattr(resp.request, "osipi_retried", False):
            return resp
        resp.content  # noqa: B018 - read the body so the connection can be reused
        resp.close()
        retry = resp.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token(force=True)}"
        retry.osipi_retried = True  # type: ignore[attr-defined]
        again = resp.connection.send(retry, **kwargs)
        again.history.append(resp)
        again.request = retry
        return again


def attach(config: PIConfig, session: requests.Session) -> None:
    """Set the session's authentication for ``pi.auth.type``."""
    if config.auth_type == "basic":
        session.auth = (config.username, config.password)
    elif config.auth_type == "bearer":
        session.auth = BearerAuth(config, session)
    elif config.auth_type == "kerberos":
        try:
            from .kerberos import KerberosAuth
        except ImportError as exc:
            raise AuthError(
                f"kerberos: the Kerberos libraries are not installed ({exc.name}); install osipi-lakeflow[kerberos]"
            ) from None
        session.auth = KerberosAuth(config)
