"""Re-read requests: chosen tags and time ranges read again without a full refresh.

A user adds a row to a small control table (``pi.reread_table``, see docs/state.md): a request id, the
tags (names or PI name filters, or all), and a time range. At pipeline start the rows are read and
checked, and each request learns how far every tag was already re-read (from the completion records of
earlier re-read windows). The stream reader then reads the rest in ``pi.max_window`` chunks beside the
regular windows, one chunk per tag per micro-batch, so a long re-read neither blocks fresh data nor
exhausts memory. A request is done for a tag once ``ok`` re-read windows cover its range without a gap;
a failed chunk is read again at the next update.

Re-read windows never move a watermark: the watermark says how far the regular stream holds every value,
and a re-read of last year must not bridge (or reset) that. Their values land in bronze like any other,
and silver keeps the latest value read for each key, so an edit older than ``pi.lookback`` is corrected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .config import ConfigError
from .timeutil import as_utc

#: columns of the control table; ``tags`` and ``note`` may be null
COLUMNS = ("request_id", "tags", "start_time", "end_time")
DDL = (
    "request_id STRING NOT NULL, tags STRING, start_time TIMESTAMP NOT NULL, end_time TIMESTAMP NOT NULL, "
    "requested_at TIMESTAMP, note STRING"
)


def name_pattern(filters: str | None) -> re.Pattern | None:
    """One regular expression for a comma-separated list of tag names or PI name filters (``*`` any
    run of characters, ``?`` one character; case-insensitive as PI tag names are). ``None``: every tag."""
    parts = [p.strip() for p in (filters or "").split(",") if p.strip()]
    if not parts or "*" in parts:
        return None
    alternatives = ["".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p) for p in parts]
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


@dataclass(frozen=True)
class RereadRequest:
    """One row of the control table, with how far each tag was already re-read (``covered``: web id to
    the end of the gapless run of ``ok`` re-read windows from ``start``)."""

    request_id: str
    tags: str | None
    start: dt.datetime
    end: dt.datetime
    covered: Mapping[str, dt.datetime] = field(default_factory=dict)

    def matches(self, name: str) -> bool:
        pattern = name_pattern(self.tags)
        return pattern is None or pattern.fullmatch(name) is not None

    def to_json(self) -> dict:
        return {
            "id": self.request_id,
            "tags": self.tags,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "covered": {k: v.isoformat() for k, v in self.covered.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping) -> RereadRequest:
        return cls(
            data["id"],
            data["tags"],
            dt.datetime.fromisoformat(data["start"]),
            dt.datetime.fromisoformat(data["end"]),
            {k: dt.datetime.fromisoformat(v) for k, v in data["covered"].items()},
        )


def covered_until(start: dt.datetime, windows: Iterable[tuple[dt.datetime, dt.datetime]]) -> dt.datetime:
    """The end of the gapless run of windows ``(start, end)`` that begins at or before ``start``."""
    reach = start
    for lo, hi in sorted(windows):
        if lo > reach:
            break
        reach = max(reach, hi)
    return reach


def _utc(value: object) -> dt.datetime | None:
    return as_utc(value) if isinstance(value, dt.datetime) else None


def requests_from_rows(table: str, rows: Iterable[Mapping], done: Iterable[Mapping] = ()) -> list[RereadRequest]:
    """Check the control table's rows and attach what earlier updates already re-read. ``done`` holds
    ``ok`` re-read completion records (request_id, web_id, window_start, window_end). Any bad row
    fails the update with one message naming the table, the request and the column: a re-read the user
    asked for must not be skipped silently."""
    requests: dict[str, RereadRequest] = {}
    for row in rows:
        request_id = row.get("request_id")
        if not isinstance(request_id, str) or not request_id.strip():
            raise ConfigError(f"{table}: request_id must be a non-empty string, got {request_id!r}")
        name = f"{table}: request {request_id!r}"
        start, end = _utc(row.get("start_time")), _utc(row.get("end_time"))
        if start is None or end is None:
            raise ConfigError(f"{name}: start_time and end_time are required timestamps")
        if start >= end:
            raise ConfigError(
                f"{name}: start_time must be before end_time, got {start.isoformat()} >= {end.isoformat()}"
            )
        tags = row.get("tags")
        if tags is not None and not isinstance(tags, str):
            raise ConfigError(f"{name}: tags must be a string of names or filters, got {tags!r}")
        request = RereadRequest(request_id, tags, start, end)
        earlier = requests.get(request_id)
        if earlier is not None and (earlier.tags, earlier.start, earlier.end) != (tags, start, end):
            raise ConfigError(f"{name}: the id is used by two different rows; give each request its own id")
        requests[request_id] = request
    windows: dict[tuple[str, str], list[tuple[dt.datetime, dt.datetime]]] = {}
    for w in done:
        start, end = as_utc(w["window_start"]), as_utc(w["window_end"])
        windows.setdefault((w["request_id"], w["web_id"]), []).append((start, end))
    covered: dict[str, dict[str, dt.datetime]] = {}
    for (request_id, web_id), spans in windows.items():
        known = requests.get(request_id)
        if known is not None:
            covered.setdefault(request_id, {})[web_id] = covered_until(known.start, spans)
    return [
        RereadRequest(r.request_id, r.tags, r.start, r.end, covered.get(r.request_id, {})) for r in requests.values()
    ]
