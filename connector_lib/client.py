"""HTTP access to the PI Web API: one ``requests`` session with auth, TLS, timeouts and retries.

Every call is retried by the rule of :mod:`connector_lib.errors`: 429, 5xx and connection failures with
exponential backoff (honouring ``Retry-After``), other 4xx never. A 2xx body carrying a top-level
``WebException`` is treated as the status it names. (The sub-requests of a batch call have their own
status each; :mod:`connector_lib.batch` judges them by the same rule.) Errors never include credentials:
messages carry the method, the path and the server's own ``Errors`` text only.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from .auth import attach
from .config import PIConfig
from .errors import PAYLOAD_LIMIT, AuthError, PIWebAPIError, is_transient_status, retry_delay
from .logs import use_level
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

try:  # orjson decodes large value pages several times faster; the stdlib is the fallback
    import orjson

    def _loads(data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            # strict JSON has no NaN or Infinity, but .NET serialisers can write them bare; the stdlib
            # reads them, and the value typing decides what they become
            return json.loads(data)
except ImportError:  # pragma: no cover

    def _loads(data: bytes) -> Any:
        return json.loads(data)


# failures of the network or of the body in transit: a later attempt may succeed
TRANSIENT_TRANSPORT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def _errors_text(content: Any) -> str:
    if isinstance(content, dict):
        errors = content.get("Errors") or content.get("errors")
        if isinstance(errors, list):
            return "; ".join(str(e) for e in errors)[:500]
    if isinstance(content, str):
        return content[:500]
    return ""


def _transport_reason(exc: Exception, timeout_s: float) -> str:
    """Why a request got no answer, in words a network engineer acts on (the exception chain names the
    cause; it holds no credentials)."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {timeout_s:g}s (pi.http.timeout): a firewall or a missing route drops it"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {timeout_s:g}s (pi.http.timeout)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke in the middle of the answer"
    chain: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(f"{type(seen).__name__} {seen}")
        seen = seen.__cause__ or seen.__context__
    text = " ".join(chain)
    for needles, reason in (
        (
            (
                "NameResolutionError",
                "Name or service not known",
                "Failed to resolve",
                "name resolution",
                "nodename nor servname",
            ),
            "the host name does not resolve (DNS)",
        ),
        (("Connection refused",), "connection refused (nothing listens on that port)"),
        (("Network is unreachable", "No route to host"), "no route to the host"),
        (("Connection reset", "RemoteDisconnected", "Connection aborted"), "the connection was reset"),
    ):
        if any(n in text for n in needles):
            return reason
    return type(exc).__name__


def _tls_reason(exc: Exception) -> str:
    """The reason of a failed TLS handshake, from the exception text (it names no credentials)."""
    match = re.search(r"certificate verify failed[^'\"(]*|hostname '[^']*' doesn't match[^'\"(]*", str(exc))
    return match.group(0).strip() if match else "the handshake failed"


class PIWebAPIClient:
    def __init__(
        self, config: PIConfig, session: requests.Session | None = None, requests_per_second: float | None = None
    ):
        """``requests_per_second`` is this client's share of ``pi.max_requests_per_second`` (default: all
        of this pipeline's share, :attr:`PIConfig.requests_per_second`); every attempt, retries included,
        waits for its slot."""
        use_level(config.log_level)
        self.config = config
        rate = config.requests_per_second if requests_per_second is None else requests_per_second
        self.limiter = RateLimiter(rate)
        self.base = config.url.rstrip("/")
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(16, config.max_concurrent_requests), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "osipi-lakeflow"})
        self.session.verify = config.ca_bundle or config.verify_tls
        attach(config, self.session)
        if not config.verify_tls:
            log.warning(
                "TLS certificate verification is DISABLED for %s (pi.tls.verify=false); "
                "use this only against test servers",
                urlsplit(self.base).netloc,
            )

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}/{path.lstrip('/')}"

    def get(self, path: str, params: Any = None) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._call(
            "POST",
            path,
            data=json.dumps(body, separators=(",", ":")),
            headers={"X-Requested-With": "XMLHttpRequest", "Content-Type": "application/json"},
        )

    def batch(self, requests_by_id: dict[str, dict]) -> dict[str, dict]:
        """POST ``batch``; returns the per-id ``{Status, Headers, Content}`` dictionary."""
        result = self.post("batch", requests_by_id)
        if not isinstance(result, dict):
            raise PIWebAPIError("POST batch: response is not a JSON object", transient=True)
        return result

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url(path)
        where = f"{method} {urlsplit(url).path}"
        attempt = 0
        while True:
            try:
                self.limiter.acquire()
                # verify passed on each request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
                # environment replace a session's CA bundle, which would silently ignore pi.tls.ca_bundle
                resp = self.session.request(
                    method, url, timeout=self.config.timeout_s, verify=self.session.verify, **kwargs
                )
                error = self._check(resp, where)
                if error is None:
                    return self._decode(resp, where)
            except requests.exceptions.SSLError as exc:  # fails closed: no retry turns an untrusted server trusted
                raise PIWebAPIError(
                    f"{where}: TLS: {_tls_reason(exc)} for {urlsplit(url).netloc}; give the "
                    f"server's CA as pi.tls.ca_bundle (a PEM file)"
                ) from None
            except TRANSIENT_TRANSPORT as exc:
                error = PIWebAPIError(
                    f"{where}: cannot reach {urlsplit(url).netloc}: {_transport_reason(exc, self.config.timeout_s)}",
                    transient=True,
                )
                resp = None
            except AuthError as exc:  # refused: no retry helps; unreachable: retried as a network error is
                error = PIWebAPIError(f"{where}: {exc}", status=None if exc.transient else 401, transient=exc.transient)
                resp = None
            except requests.RequestException as exc:  # a bad URL, redirect loop, ...: no retry helps
                raise PIWebAPIError(f"{where}: {type(exc).__name__}") from None
            except PIWebAPIError as exc:
                error = exc
            retry_after = resp.headers.get("Retry-After") if resp is not None else None
            delay = retry_delay(error.transient, attempt, self.config.max_retries, self.config.backoff_s, retry_after)
            if delay is None:
                raise error
            log.info("%s; retry %d/%d in %.1fs", error, attempt + 1, self.config.max_retries, delay)
            time.sleep(delay)
            attempt += 1

    @staticmethod
    def _check(resp: requests.Response, where: str) -> PIWebAPIError | None:
        if resp.status_code < 400:
            return None
        try:
            detail = _errors_text(_loads(resp.content))
        except ValueError:
            detail = ""
        if resp.status_code == 401:
            detail = detail or "authentication failed"
            scheme = (resp.request.headers.get("Authorization") or "no").split(" ", 1)[0].lower()
            detail += f" (the server refused the {scheme} credentials; check pi.auth.type and pi.auth.*)"
        message = f"{where}: HTTP {resp.status_code}" + (f": {detail}" if detail else "")
        return PIWebAPIError(message, resp.status_code, is_transient_status(resp.status_code))

    @staticmethod
    def _decode(resp: requests.Response, where: str) -> Any:
        if not resp.content:
            return None
        try:
            content = _loads(resp.content)
        except ValueError:
            log.warning(
                "%s: HTTP %s with a body that is not valid JSON (%d bytes, %s)",
                where,
                resp.status_code,
                len(resp.content),
                resp.headers.get("Content-Type", "no content type"),
            )
            raise PIWebAPIError(
                f"{where}: response body is not valid JSON ({len(resp.content)} bytes)",
                resp.status_code,
                transient=True,
                payload=resp.content[:PAYLOAD_LIMIT].decode("utf-8", "replace"),
            ) from None
        if isinstance(content, dict) and isinstance(content.get("WebException"), dict):
            exc = content["WebException"]
            status = exc.get("StatusCode") or 500
            raise PIWebAPIError(
                f"{where}: WebException {status}: {_errors_text(exc)}", status, transient=is_transient_status(status)
            )
        return content
