"""Kerberos (HTTP ``Negotiate``), the only authentication a PI Web API enables by default.

Requests carry a Kerberos service ticket for ``HTTP/<host>`` through requests-kerberos. Three choices made
here, each for a reason a production site runs into:

* **Who logs in.** ``pi.auth.username`` with ``pi.auth.password`` (a Databricks secret) or with
  ``pi.auth.kerberos_keytab``: the process (the driver and every Python worker) gets its own ticket-granting
  ticket once, into a ticket cache in its own memory, never a file. requests-kerberos can take a password
  itself, but then asks the KDC for a new ticket-granting ticket on every request. Without a username the
  process's default ticket cache is used (``kinit`` on a workstation; ``KRB5CCNAME``).
* **Renewal.** A ticket lives for hours (10 in Active Directory by default), a continuous pipeline for weeks:
  the login is taken again before its ticket ends.
* **Threads.** requests-kerberos keeps one security context per host in the auth object, so two requests
  in flight on one session would step each other's contexts; each thread gets its own auth object.
* **Every request.** Each request carries its ticket from the start (no 401 round trip, which would send
  every batch body twice and double the requests ``pi.max_requests_per_second`` counts), and with
  mutual authentication every answer must prove the server, not only a thread's first (requests-kerberos
  stops checking after one success).

Failures raise :class:`~connector_lib.errors.AuthError` with one line naming the mode and the setting to
check, never a password; a KDC that cannot be reached is transient (retried like a network error).
requests-kerberos is held at ``info``: at debug it logs each ``Authorization: Negotiate`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import threading
import time

import krb5  # python-krb5, installed with requests-kerberos (pyspnego[kerberos])
import requests
import spnego
from requests.auth import AuthBase
from requests_kerberos import DISABLED, OPTIONAL, REQUIRED, HTTPKerberosAuth
from requests_kerberos.exceptions import MutualAuthenticationError

from .config import PIConfig
from .errors import AuthError
from .timeutil import renew_in

#: a login is taken again at most this long before its ticket ends (a tenth of its life, if shorter)
RENEW_MARGIN_S = 600.0
#: but not more often than this, whatever the ticket says (a clock ahead of the KDC's makes it look over)
MIN_RENEW_S = 30.0
#: the Kerberos library's words for a KDC it could not reach: worth another attempt, not a credential problem
UNREACHABLE = re.compile(
    r"Cannot contact any KDC|Cannot find KDC|timed out|Connection refused|Resource temporarily", re.IGNORECASE
)

log = logging.getLogger(__name__)

MUTUAL = {"required": REQUIRED, "optional": OPTIONAL, "disabled": DISABLED}

_logins: dict[tuple, KerberosLogin] = {}
_KEY_SALT = os.urandom(32)  # logins are found by a keyed hash of the password, never the password itself
_logins_lock = threading.Lock()


def _gss_reason(exc: Exception) -> str:
    """The Kerberos library's own reason (its minor status text), without codes and context."""
    text = str(exc)
    minor = re.findall(r"Minor \(\d+\): ([^,]+(?:,(?! Context)[^,]*)*)", text)
    reason = re.sub(r"\s+-?\d+$", "", (minor[-1] if minor else text).strip()).rstrip(".")  # krb5 appends the code
    return reason[:300] or type(exc).__name__


def _failure(what: str, exc: Exception, settings: str) -> AuthError:
    """One line for a failed Kerberos step: a KDC that could not be reached is transient and points at the
    KDCs; anything else is a refusal and points at ``settings``."""
    reason = _gss_reason(exc)
    if UNREACHABLE.search(reason):
        return AuthError(
            f"kerberos: {what}: {reason}; check the KDCs in pi.auth.kerberos_config and the network", transient=True
        )
    return AuthError(f"kerberos: {what}: {reason}; check {settings}")


def _use_config(config: PIConfig) -> None:
    """Point this process's Kerberos library at ``pi.auth.kerberos_config``. The library reads
    ``KRB5_CONFIG`` each time it starts a context, so this also reaches executors whose workers were
    started before the pipeline (where a cluster-wide variable is not wanted)."""
    if config.kerberos_config and os.environ.get("KRB5_CONFIG") != config.kerberos_config:
        os.environ["KRB5_CONFIG"] = config.kerberos_config


class KerberosLogin:
    """A ticket-granting ticket for one principal in a memory ticket cache of this process."""

    def __init__(self, principal: str, password: str = "", keytab: str = ""):
        self.principal = principal
        self._password = password
        self.keytab = keytab
        self.ccache = ""
        self._retired = ""  # the previous cache, destroyed at the next login
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self.logins = 0  # tickets obtained (tests, logs)

    def current(self) -> str:
        """The name of a ticket cache holding a ticket that is not about to end."""
        with self._lock:
            if time.time() >= self._renew_at:
                self._login()
            return self.ccache

    def _login(self) -> None:
        with_what = "pi.auth.kerberos_keytab" if self.keytab else "pi.auth.password"
        try:
            ctx = krb5.init_context()
            principal = krb5.parse_name_flags(ctx, self.principal.encode())
            options = krb5.get_init_creds_opt_alloc(ctx)
            krb5.get_init_creds_opt_set_canonicalize(options, True)
            if self.keytab:
                creds = krb5.get_init_creds_keytab(
                    ctx, principal, options, keytab=krb5.kt_resolve(ctx, self.keytab.encode())
                )
            else:
                creds = krb5.get_init_creds_password(ctx, principal, options, password=self._password.encode())
            ccache = krb5.cc_new_unique(ctx, b"MEMORY")
            krb5.cc_initialize(ctx, ccache, creds.client)
            krb5.cc_store_cred(ctx, ccache, creds)
            if self._retired:  # the cache before the previous one: no thread still starts a context with it
                krb5.cc_destroy(ctx, krb5.cc_resolve(ctx, self._retired.encode()))
        except krb5.Krb5Error as exc:
            raise _failure(
                f"cannot log in as {self.principal}", exc, f"pi.auth.username, {with_what} and pi.auth.kerberos_config"
            ) from None
        assert ccache.name is not None  # a new unique cache always has a name
        self._retired = self.ccache
        self.ccache = f"MEMORY:{ccache.name.decode()}"
        lifetime = creds.times.endtime - time.time()
        if lifetime < MIN_RENEW_S:
            log.warning(
                "kerberos: the ticket for %s ends in %.0f s: is this machine's clock ahead of the KDC's?",
                self.principal,
                lifetime,
            )
        self._renew_at = time.time() + max(MIN_RENEW_S, renew_in(lifetime, RENEW_MARGIN_S))
        self.logins += 1


def login_for(config: PIConfig) -> KerberosLogin | None:
    """This process's login for the configured principal (one per principal and key, shared by every
    client of the process), or None to use the default ticket cache."""
    if not (config.password or config.kerberos_keytab):
        return None
    key = (
        config.username,
        config.kerberos_keytab,
        config.kerberos_config,
        hmac.new(_KEY_SALT, config.password.encode(), hashlib.sha256).hexdigest(),
    )
    with _logins_lock:
        login = _logins.get(key)
        if login is None:
            login = _logins[key] = KerberosLogin(config.username, config.password, config.kerberos_keytab)
        return login


class KerberosAuth(AuthBase):
    """requests auth for ``pi.auth.type = kerberos``: one requests-kerberos auth object per thread, with
    the process's login, the configured mutual authentication and service host."""

    def __init__(self, config: PIConfig):
        _use_config(config)
        quiet = logging.getLogger("requests_kerberos")
        if quiet.getEffectiveLevel() < logging.INFO:
            quiet.setLevel(logging.INFO)
        self.config = config
        self.login = login_for(config)
        self._local = threading.local()

    def _auth(self) -> NegotiateAuth:
        ccache = self.login.current() if self.login is not None else None
        auth = getattr(self._local, "auth", None)
        if auth is None or auth.ccache != ccache:
            auth = self._local.auth = NegotiateAuth(self.config, ccache)
        return auth

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._auth()(request)


class NegotiateAuth(HTTPKerberosAuth):
    """HTTPKerberosAuth for one thread, taking its tickets from ``ccache`` (the login's memory cache) or
    the default cache, and failing with one readable :class:`AuthError` line."""

    def __init__(self, config: PIConfig, ccache: str | None):
        principal = spnego.KerberosCCache(ccache=ccache) if ccache else (config.username or None)
        super().__init__(
            mutual_authentication=MUTUAL[config.kerberos_mutual],
            principal=principal,
            hostname_override=config.kerberos_hostname or None,
            force_preemptive=True,
            sanitize_mutual_error_response=False,
        )  # keep the server's Errors text on a 4xx
        self.ccache = ccache

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.auth_done = False  # a ticket on this request, and its answer checked (mutual authentication)
        return super().__call__(request)

    def generate_request_header(self, response, host, is_preemptive=False):
        """The base class's, with a readable error instead of its logged stack trace. No delegation (the
        PI Web API's own service account reaches PI and AF) and no password (the login has the ticket)."""
        service_host = self.hostname_override or host
        wanted = spnego.ContextReq.sequence_detect
        if self.mutual_authentication != DISABLED:
            wanted |= spnego.ContextReq.mutual_auth
        try:
            self._context[host] = context = spnego.client(
                username=self.principal,
                hostname=service_host,
                service=self.service,
                context_req=wanted,
                channel_bindings=self._cbts.get(host),
                protocol="kerberos",
            )
            token = context.step(in_token=None if is_preemptive else _negotiate_token(response))
        except spnego.exceptions.SpnegoError as exc:
            if response is not None:
                response.close()  # the 401 being answered: back to the pool
            whose = "pi.auth.username" if self.ccache else "the ticket cache (kinit, KRB5CCNAME)"
            raise _failure(
                f"no service ticket for HTTP/{service_host}",
                exc,
                f"pi.auth.kerberos_hostname (HTTP/host must be the server's service principal), "
                f"{whose} and pi.auth.kerberos_config",
            ) from None
        assert token is not None  # a client context's first step (or its answer to a challenge) is a token
        return f"Negotiate {base64.b64encode(token).decode()}"

    def handle_response(self, response, **kwargs):
        try:
            return super().handle_response(response, **kwargs)
        except MutualAuthenticationError:
            raise AuthError(
                "kerberos: the server did not prove its identity (mutual authentication failed, or "
                "its answer carried no Negotiate token); behind a proxy that drops it set "
                "pi.auth.kerberos_mutual = optional"
            ) from None


def _negotiate_token(response: requests.Response | None) -> bytes | None:
    """The token of the server's ``WWW-Authenticate: Negotiate <token>`` answer, if any (requests-kerberos
    has the same, as a private function)."""
    header = response.headers.get("www-authenticate", "") if response is not None else ""
    match = re.search(r"(?:^|,)\s*Negotiate\s+([A-Za-z0-9+/=]+)", header, re.IGNORECASE)
    return base64.b64decode(match.group(1)) if match else None
