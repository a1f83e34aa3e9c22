"""The HTTP transport of the simulated PI Web API: the deterministic archive served over real HTTP(S)
(:mod:`pi_simulator.api` answers the requests).

What a client sees of a real server's front end is reproduced here: ``Microsoft-HTTPAPI/2.0`` with
HTTP/1.1 keep-alive, everything under ``/piwebapi``, ``X-Requested-With`` required on POST (CSRF
defense), Basic, bearer and Kerberos authentication with their ``WWW-Authenticate`` challenges, TLS with
handshakes in the connection's thread, a 500 (not a dead server) on an internal error, the latency and
capacity of a remote server, and the faults of ``pi_simulator.faults`` (failing servers, proxies and
networks).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import orjson

from .api import PiWebApi
from .auth import Authenticator, KerberosAcceptor, TokenIssuer
from .faults import (
    BARE_TOKENS,
    PROXY_PAGE,
    FaultPlan,
    marker,
)
from .model import Archive
from .protocol import Request, Response, parse_query

if TYPE_CHECKING:
    from .tls import TestPKI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "Microsoft-HTTPAPI/2.0"
    api: PiWebApi
    auth: Authenticator | None
    latency_s: float = 0.0
    capacity: threading.BoundedSemaphore

    def log_message(self, fmt, *args):  # quiet: tests and `make run` read stdout
        pass

    def setup(self) -> None:
        """HTTPS: the TLS handshake, here in the connection's own thread. A client that refuses the
        certificate ends the connection quietly (it is the client's decision, not a server error)."""
        self.tls_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.settimeout(30)
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.tls_failed = True
        super().setup()

    def handle(self) -> None:
        if not self.tls_failed:
            super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        except (ssl.SSLError, OSError):
            pass

    def _send(self, status: int, content: object, headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(content)
        if "hostile" in self.api.faults.plan.sub_kinds and self.api.faults.plan.sub_rate:
            for kind, token in BARE_TOKENS.items():
                data = data.replace(b'"' + marker(kind).encode() + b'"', token)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            for one in value if isinstance(value, list) else [value]:  # e.g. one challenge per auth mode
                self.send_header(key, one)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): not our error
                self.close_connection = True

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.latency_s:  # network round trip of a remote server: costs time, not server capacity
            time.sleep(self.latency_s)
        with self.capacity:
            self._serve(body)

    def _serve(self, body: bytes) -> None:
        resp = self._respond(body)
        fault = self.api.faults.http_fault(self.command, self.path, body)
        if fault is None:
            self._send(resp.status, resp.content, resp.headers)
        else:
            self._send_faulty(fault, resp)

    def _respond(self, body: bytes) -> Response:
        url = urlsplit(self.path)
        path = unquote(url.path)
        header = self.headers.get("Authorization", "")
        if self.auth is not None and self.auth.bearer is not None and path.rstrip("/") == "/token":
            if self.command != "POST":
                return Response(405, {"error": "invalid_request"})
            return Response(*self.auth.bearer.issue(body, header))
        user, auth_headers = self.auth.check(header) if self.auth is not None else (None, {})
        if self.auth is not None and user is None:
            return Response(
                401,
                {"Errors": ["Authorization has been denied for this request."]},
                {"WWW-Authenticate": self.auth.challenges(header)},
            )
        resp = self._api_response(url, path, body, user)
        resp.headers.update(auth_headers)
        return resp

    def _api_response(self, url, path: str, body: bytes, user: str | None) -> Response:
        if path.lower().rstrip("/") != "/piwebapi" and not path.lower().startswith("/piwebapi/"):
            return Response(404, {"Errors": ["The specified resource was not found."]})
        if (
            self.command in ("POST", "PUT", "PATCH", "DELETE")
            and self.api.require_csrf_header
            and "X-Requested-With" not in self.headers
        ):
            return Response(
                403,
                {
                    "Errors": [
                        "The request requires the 'X-Requested-With' header "
                        "(cross-site request forgery defense is enabled)."
                    ]
                },
            )
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        req = Request(
            self.command, url.path[len("/piwebapi") :], parse_query(url.query), body, f"{scheme}://{host}", user
        )
        try:
            return self.api.handle(req)
        except Exception as exc:  # noqa: BLE001 - a server answers 500, it does not die
            return Response(500, {"Errors": [f"Internal server error: {type(exc).__name__}"]})

    def _send_raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_faulty(self, fault: str, resp: Response) -> None:
        """Answer as a failing server, proxy or network would (see ``pi_simulator.faults``)."""
        plan = self.api.faults.plan
        if fault == "500":
            self._send(500, {"Errors": ["An unexpected error occurred on the server."]})
        elif fault in ("502", "503"):
            self._send_raw(int(fault), PROXY_PAGE, "text/html")
        elif fault == "429":
            self._send(429, {"Errors": ["Too many requests."]}, {"Retry-After": str(plan.retry_after_s)})
        elif fault == "slow":
            time.sleep(plan.slow_s)
            self._send(resp.status, resp.content, resp.headers)
        elif fault == "reset":
            data = orjson.dumps(resp.content)
            self._send_raw(
                resp.status, data[: len(data) // 2], "application/json; charset=utf-8", resp.headers, length=len(data)
            )
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif fault == "truncated":
            data = orjson.dumps(resp.content)
            self._send_raw(200, data[: max(1, len(data) * 2 // 3)], "application/json; charset=utf-8")
        elif fault == "malformed":
            self._send_raw(200, PROXY_PAGE, "text/html")
        elif fault == "webexception":
            self._send(
                200,
                {
                    "WebException": {
                        "StatusCode": 500,
                        "Errors": ["Error occurred during writing of the output stream."],
                    }
                },
            )
        else:  # pragma: no cover - FaultPlan validates its kinds
            raise ValueError(fault)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class SimulatorServer:
    """Run the simulator in a background thread (tests, ``make run``) or in the foreground (CLI)."""

    def __init__(
        self,
        archive: Archive,
        host: str = "127.0.0.1",
        port: int = 0,
        basic_auth: tuple[str, str] | None = None,
        latency_ms: float = 0.0,
        max_concurrency: int = 64,
        tls: TestPKI | None = None,
        bearer: TokenIssuer | None = None,
        kerberos: KerberosAcceptor | None = None,
        **api_kwargs,
    ):
        """``latency_ms`` is added to every HTTP request (a remote server's round trip);
        ``max_concurrency`` caps the requests served at once (a server's worker threads); ``tls`` serves
        HTTPS with that PKI's server certificate (``pi_simulator.tls``); ``basic_auth``, ``bearer`` and
        ``kerberos`` accept those credentials, any of them (``pi_simulator.auth``; the token endpoint is
        ``/token``)."""
        self.api = PiWebApi(archive, **api_kwargs)
        handler = type(
            "Handler",
            (_Handler,),
            {
                "api": self.api,
                "latency_s": latency_ms / 1000.0,
                "auth": Authenticator(basic_auth, bearer, kerberos) if basic_auth or bearer or kerberos else None,
                "capacity": threading.BoundedSemaphore(max(1, max_concurrency)),
            },
        )
        self.auth: Authenticator | None = handler.auth  # what it accepted (tests)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.tls = tls
        if tls is not None:  # handshakes happen in the handler threads, so a bad client cannot stall the server
            self.httpd.socket = tls.server_context().wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}/piwebapi"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint (with ``bearer``)."""
        return self.url.rsplit("/piwebapi", 1)[0] + "/token"

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Swap the fault plan (tests change it between pipeline updates); ``None`` stops injecting."""
        self.api.faults.plan = plan or FaultPlan()

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="pi-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
