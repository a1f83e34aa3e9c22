"""PI time strings as the server reads them: ``*``, ``t``/``today``, ``y``/``yesterday``, ISO 8601
with ``Z`` or an offset, ``dd-Mon-yy HH:MM:SS`` (tagreader's form), each optionally followed by
intervals such as ``-1d+2h``. Strings without an offset are read in ``timeZone`` (default UTC, the
simulated server's own zone).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_INTERVAL = re.compile(r"\s*([+-])\s*(\d+(?:\.\d+)?)\s*([a-z]+)", re.I)
_BASE_DATE = re.compile(r"^\d{1,2}-[a-z]{3}-\d{2,4}(?:\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.I)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?", re.I)


class TimeParseError(ValueError):
    pass


def _zone(name: str | None) -> dt.tzinfo:
    if not name or name.upper() in ("UTC", "GMT", "Z"):
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeParseError(f"Unknown time zone '{name}'.") from exc


def _parse_iso(text: str, tz: dt.tzinfo) -> dt.datetime:
    norm = text.replace(" ", "T", 1)
    if norm.endswith(("Z", "z")):
        norm = norm[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; PI prints 7
    norm = re.sub(r"(\.\d{6})\d+", r"\1", norm)
    value = dt.datetime.fromisoformat(norm)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


def parse(text: str | None, now: dt.datetime, time_zone: str | None = None) -> dt.datetime:
    """Parse a PI time string relative to ``now`` (an aware UTC datetime)."""
    tz = _zone(time_zone)
    raw = (text or "*").strip().strip("'\"")
    if not raw:
        raw = "*"
    lower = raw.lower()
    rest = ""
    if lower.startswith("*"):
        base, rest = now, raw[1:]
    elif re.match(r"^(today|t)(?![a-z])", lower):
        n = len("today") if lower.startswith("today") else 1
        local = now.astimezone(tz)
        base = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
        rest = raw[n:]
    elif re.match(r"^(yesterday|y)(?![a-z])", lower):
        n = len("yesterday") if lower.startswith("yesterday") else 1
        local = now.astimezone(tz) - dt.timedelta(days=1)
        base = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
        rest = raw[n:]
    elif m := _ISO.match(raw):
        try:
            base = _parse_iso(m.group(0), tz)
        except ValueError as exc:
            raise TimeParseError(f"Cannot parse time string '{raw}'.") from exc
        rest = raw[m.end() :]
    elif m := _BASE_DATE.match(raw):
        fmt_date = "%d-%b-%y" if len(m.group(0).split()[0].split("-")[2]) == 2 else "%d-%b-%Y"
        parts = m.group(0).split()
        fmt = fmt_date
        if len(parts) > 1:
            fmt += " %H:%M:%S" if parts[1].count(":") == 2 else " %H:%M"
        try:
            base = dt.datetime.strptime(re.sub(r"\.\d+$", "", m.group(0)), fmt).replace(tzinfo=tz)
        except ValueError as exc:
            raise TimeParseError(f"Cannot parse time string '{raw}'.") from exc
        base = base.astimezone(dt.UTC)
        rest = raw[m.end() :]
    elif re.match(r"^[+-]", raw):
        base, rest = now, raw
    else:
        raise TimeParseError(f"Cannot parse time string '{raw}'.")
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _INTERVAL.match(rest, pos)
        if not m or m.group(3).lower() not in _UNITS:
            raise TimeParseError(f"Cannot parse time string '{raw}'.")
        seconds = float(m.group(2)) * _UNITS[m.group(3).lower()]
        base = base + dt.timedelta(seconds=seconds if m.group(1) == "+" else -seconds)
        pos = m.end()
    return base


def parse_ticks(text: str | None, now: dt.datetime, time_zone: str | None = None) -> int:
    """Like :func:`parse`, in 100 ns ticks: a 7th fractional digit (as PI prints) is honoured, so a
    client that resumes at a timestamp it was given gets exactly the events from that tick on."""
    from .truth import to_ticks

    ticks = to_ticks(parse(text, now, time_zone))
    m = re.match(r"^\s*['\"]?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d{6}(\d)", text or "")
    return ticks + int(m.group(1)) if m else ticks


_SPAN = re.compile(r"^\s*\+?\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$", re.I)
_CLOCK_SPAN = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*$")


def parse_span_ticks(text: str) -> int:
    """A positive AFTimeSpan (``1h``, ``15m``, ``30 s``, ``1.5 hours``, ``01:30:00``) in 100 ns ticks."""
    m = _SPAN.match(text or "")
    if m and m.group(2).lower() in _UNITS:
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    elif m := _CLOCK_SPAN.match(text or ""):
        seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    else:
        raise TimeParseError(f"Cannot parse time span '{text}'.")
    if seconds <= 0:
        raise TimeParseError(f"The time span '{text}' must be positive.")
    return round(seconds * 10_000_000)  # PI's 100 ns ticks
