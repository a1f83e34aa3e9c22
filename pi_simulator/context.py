"""What every route module of the simulated PI Web API shares: the PI Data Archive behind it, the server's
clock, its ``MaxReturnedItemsPerCall``, absolute URLs, and the identity of PI points by WebID.

PI Web API answers as of its own clock (tests move it); every ``Links`` entry is an absolute URL on the
host the client called; a point WebID resolves by its ID (Full and IDOnly WebIDs) or its path (PathOnly
WebIDs clients build themselves), and a point not yet created, or deleted, is a 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from . import pitime, webid
from .model import TICKS_PER_SECOND, Archive, Point
from .protocol import ApiError, Request
from .render import timed_values
from .truth import to_ticks


@dataclass
class ServerContext:
    archive: Archive
    clock: Callable[[], dt.datetime]
    max_items: int = 150_000  # MaxReturnedItemsPerCall

    def __post_init__(self) -> None:
        self.server_webid = webid.data_server_webid(self.archive.server_id, self.archive.server_name)

    def now(self) -> int:
        """The server's clock in ticks."""
        return to_ticks(self.clock())

    def url(self, req: Request, path: str) -> str:
        return f"{req.base_url}/piwebapi/{path}"

    def point_webid(self, point: Point) -> str:
        return webid.point_webid(self.archive.server_id, point.point_id, f"{self.archive.server_name}\\{point.name}")

    def point_from_webid(self, text: str) -> Point:
        try:
            decoded = webid.decode(text)
        except ValueError:
            raise ApiError(400, f"Unknown or invalid WebID format: '{text}'.") from None
        if decoded.marker != webid.POINT:
            raise ApiError(400, f"The WebID '{text}' does not identify a PI Point.")
        point = None
        if decoded.kind == webid.PATH_ONLY:
            server, _, tag = (decoded.path or "").partition("\\")
            if server.upper() == self.archive.server_name.upper():
                point = self.archive.by_name.get(tag.upper())
        elif decoded.server_id == self.archive.server_id:
            point = self.archive.by_id.get(decoded.point_id)
            if point is not None and decoded.path:
                _, _, tag = decoded.path.partition("\\")
                if tag.upper() != point.name.upper():
                    point = None
        if point is None or not self.archive.exists(point, self.now()):
            raise ApiError(404, f"A PI Point with the WebID '{text}' was not found.")
        return point

    def time_range(self, req: Request) -> tuple[int, int]:
        """(start, end) in ticks. As in AFTimeRange, a bare interval ("+1h", "-30m") is relative to the
        other end of the range when only one of the two is bare, not to now."""
        now = self.clock()
        tz = req.arg("timeZone")
        start_text, end_text = req.arg("startTime", "*-1d"), req.arg("endTime", "*")
        start_bare, end_bare = ((t or "").strip().startswith(("+", "-")) for t in (start_text, end_text))
        try:
            if end_bare and not start_bare:
                start = pitime.parse_ticks(start_text, now, tz)
                return start, start + pitime.parse_ticks(end_text, now, tz) - to_ticks(now)
            end = pitime.parse_ticks(end_text, now, tz)
            if start_bare and not end_bare:
                return end + pitime.parse_ticks(start_text, now, tz) - to_ticks(now), end
            return pitime.parse_ticks(start_text, now, tz), end
        except pitime.TimeParseError as exc:
            raise ApiError(400, str(exc)) from None

    def snapshot(self, point: Point) -> dict | None:
        """The point's current value (its last event of the past week), or None."""
        now = self.now()
        items = timed_values(point, self.archive.events(point, now - 7 * 86400 * TICKS_PER_SECOND, now, as_of=now))
        return items[-1] if items else None
