"""Time handling on the client side: UTC everywhere, 7-digit PI timestamps, relative config times.

The connector always sends UTC ISO strings with ``Z`` so the server's own time zone never matters.
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.I)
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^\s*\*\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w))?\s*$", re.I)


def parse_duration(text: str) -> dt.timedelta:
    """``"10m"``, ``"1h"``, ``"30"`` (seconds), ``"250ms"``; raises ``ValueError``."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 10m, 2h, 1d)")
    return dt.timedelta(seconds=float(m.group(1)) * _DURATION_SECONDS[(m.group(2) or "s").lower()])


def parse_time(text: str, now: dt.datetime) -> dt.datetime:
    """A configuration time: ``*``, ``*-2h`` or an ISO 8601 instant (naive means UTC)."""
    m = _RELATIVE.match(str(text))
    if m:
        if not m.group(1):
            return now
        delta = parse_duration(m.group(2) + m.group(3))
        return now - delta if m.group(1) == "-" else now + delta
    try:
        value = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use *-2h or an ISO 8601 time such as 2026-01-01T00:00:00Z)") from None
    return as_utc(value)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken as UTC (Spark and config times without a zone are)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def to_pi(when: dt.datetime) -> str:
    """UTC ISO string with ``Z`` and microseconds, the form the connector sends."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_pi_timestamp(text: str) -> dt.datetime:
    """A PI Web API output timestamp as a UTC datetime, truncated to microseconds.

    PI prints UTC with ``Z``, whole seconds without a fraction and otherwise up to 7 digits (100 ns);
    ``datetime.fromisoformat`` (Python >= 3.11) reads all of these and keeps 6 digits. This is the
    connector's hottest line, hence no regular expression. Raises ``ValueError``."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def epoch_micros(when: dt.datetime) -> int:
    delta = when - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_micros(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(micros))


#: a credential is renewed this share of its lifetime before it ends (at most a margin each mode sets)
RENEW_SHARE = 0.1


def renew_in(lifetime_s: float, margin_s: float) -> float:
    """Seconds from now to renew a credential that lives ``lifetime_s``: a tenth of its life before it
    ends, at most ``margin_s`` before (bearer tokens and Kerberos tickets alike)."""
    return lifetime_s - min(margin_s, RENEW_SHARE * lifetime_s)
