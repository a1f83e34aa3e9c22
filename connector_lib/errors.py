"""The connector's failures and the one retry policy, with no I/O of their own.

Every module that talks to a server raises these and asks :func:`retry_delay` whether and when to try
again, so the HTTP client, the token endpoint, Kerberos and the batch sub-requests share one rule: 429,
5xx and network failures are transient (retried with exponential backoff, ``Retry-After`` honoured as
seconds or as an HTTP date), every other 4xx is permanent. Messages never carry credentials.
"""

from __future__ import annotations

import datetime as dt
import email.utils

#: HTTP statuses a later attempt may get past: throttling and server-side failures
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: how much of a malformed answer an error or a quarantine record keeps (characters)
PAYLOAD_LIMIT = 100_000


class PIWebAPIError(Exception):
    """A failed PI Web API call. ``transient`` says whether a later retry may succeed."""

    def __init__(self, message: str, status: int | None = None, transient: bool = False, payload: str | None = None):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.payload = payload  # the body of a malformed answer (at most PAYLOAD_LIMIT characters), for quarantine


class AuthError(Exception):
    """Credentials the server or the identity provider refused; the message names the mode. ``transient``:
    the identity provider (token endpoint, KDC) could not be reached or failed, so a later attempt may do."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def is_transient_status(status: object) -> bool:
    """Whether an answer with this status (an HTTP status or a ``WebException.StatusCode``) may succeed later."""
    return status in RETRY_STATUSES


def retry_after_seconds(header: str | None, now: dt.datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for: delay-seconds or an HTTP date (RFC 9110, 10.2.3).
    ``None`` when absent or unreadable; a date in the past asks for no wait."""
    if not header or not header.strip():
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def should_retry(transient: bool, attempt: int, max_retries: int) -> bool:
    """Whether a failure of attempt ``attempt`` (counted from 0) is worth another attempt: a transient one,
    while ``max_retries`` are not used up."""
    return transient and attempt < max_retries


def backoff(attempt: int, backoff_s: float) -> float:
    """The wait before attempt ``attempt + 1``: ``backoff_s``, doubled with each attempt."""
    return backoff_s * (2**attempt)


def retry_delay(
    transient: bool,
    attempt: int,
    max_retries: int,
    backoff_s: float,
    retry_after: str | None = None,
    now: dt.datetime | None = None,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0), or ``None`` to give up:
    permanent failures and exhausted retries are not retried. The wait doubles with each attempt and is at
    least what the server's ``Retry-After`` asked for."""
    if not should_retry(transient, attempt, max_retries):
        return None
    delay = backoff(attempt, backoff_s)
    asked = retry_after_seconds(retry_after, now)
    return delay if asked is None else max(delay, asked)
