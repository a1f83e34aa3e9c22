"""Stream Updates of the simulated PI Web API: a client registers PI points for updates and then retrieves,
with the marker each answer gives, what changed in their archive since: values that arrived (``Add`` when at
or after the newest timestamp the point had, ``Update`` when inserted before it, as a late value of a
buffered interface is) and values edited in place (``Update``). The changes are the archive's own
(:meth:`pi_simulator.model.Archive.arrivals`), so what a client assembles from them is the ground truth.

Routes: ``POST streams/{webId}/updates``, ``POST streamsets/updates?webId=...`` (``StreamUpdatesRegister``),
``GET streams/updates/{marker}`` and ``GET streamsets/updates?marker=...`` (``StreamUpdatesRetrieve``).

As on a real server the registrations live in the server's memory, per user: they are gone when the server
restarts, and a registration not used for ``cache_s`` (PI Web API's per-user cache expires after 15 minutes
unused) is dropped. A retrieve then answers 404 ``Cache not found``; a marker the server never gave, or one
older than the last ``kept_markers`` it gave, answers 409 ``Invalid marker supplied``; a point deleted since
it was registered answers the item with ``The signup was removed because it is no longer valid.`` In a
stream set each marker's item carries its own failure (``Status: Failed`` and ``Exception``). Registering a
point the user has registered already answers ``AlreadyRegistered`` with that registration's newest marker.

Markers are ``<32 hex digits>_<n>``: the registration and the number of events it has handed out. Retrieving
with the same marker twice answers what happened since that marker again (a client that lost an answer
asks again), for the last ``kept_markers`` markers.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .context import ServerContext
from .model import NEVER, SEGMENT_TICKS, Point
from .point_routes import PointRoutes
from .protocol import ApiError, Request
from .render import event_value, timed_value
from .routing import Route

CACHE_NOT_FOUND = "Cache not found"
INVALID_MARKER = "Invalid marker supplied"
SIGNUP_REMOVED = "The signup was removed because it is no longer valid."
#: server time (ticks) between two sweeps of every registration for expired ones
SWEEP_TICKS = 10_000_000


def changes(ctx: ServerContext, point: Point, after: int, upto: int) -> tuple[list[dict], int]:
    """The point's archive events that arrived or were edited in ``(after, upto]`` (ticks), in the order
    they happened, as ``DataPipeEvent`` objects; and the earliest instant after ``upto`` at which its next
    change can happen (a data pipe holds nothing until then, so a retrieve before it costs nothing)."""
    archive = ctx.archive
    newest = archive.events(point, 0, after, limit=1, newest_first=True, as_of=after)
    running = int(newest.ticks[-1]) if len(newest.ticks) else -1
    happened: list[tuple[int, int, int, int, dict]] = []  # (when, 0 arrival | 1 edit, ticks, order, event)
    order = 0
    hour_end = upto // SEGMENT_TICKS * SEGMENT_TICKS + SEGMENT_TICKS - 1
    upcoming = hour_end + 1  # an event of a later hour is visible at its own time or later
    for seg in archive.arrivals(point, after - archive.longest_change_delay, hour_end):
        assert seg.visible is not None and seg.edit_at is not None
        later = np.concatenate(
            [seg.visible[seg.visible > upto], seg.edit_at[(seg.edit_at > upto) & (seg.edit_at != NEVER)]]
        )
        if len(later):
            upcoming = min(upcoming, int(later.min()))
        moved = ((seg.visible > after) & (seg.visible <= upto)) | ((seg.edit_at > after) & (seg.edit_at <= upto))
        if not moved.any():
            continue
        edited = dataclasses.replace(
            seg, number=seg.edited_number, text=seg.edited_text if seg.edited_text is not None else seg.text
        )
        for i in np.nonzero(moved)[0].tolist():
            order += 1
            ticks, visible, edit_at = int(seg.ticks[i]), int(seg.visible[i]), int(seg.edit_at[i])
            good = int(seg.system_code[i]) == 0
            if after < visible <= upto:
                value = timed_value(point, ticks, event_value(point, seg, i), good, seg, i)
                happened.append((visible, 0, ticks, order, value))
            if after < edit_at <= upto:
                value = timed_value(point, ticks, event_value(point, edited, i), good, seg, i)
                happened.append((edit_at, 1, ticks, order, value))
    happened.sort(key=lambda h: h[:4])
    events = []
    for _, kind, ticks, _, value in happened:
        if kind == 0 and ticks >= running:
            events.append({"Action": "Add", "PreviousEventAction": "PreviousEventArchived", **value})
        else:  # an edit, or a value inserted before the newest one
            events.append({"Action": "Update", "PreviousEventAction": "None", **value})
        if kind == 0:
            running = max(running, ticks)
    return events, upcoming


@dataclass
class Signup:
    """One registration: whose, of which point (as the WebID it was registered by), and the server time of
    each marker it handed out that is still kept."""

    key: str
    user: str | None
    point_id: int
    web_id: str
    used: int
    positions: OrderedDict[int, int] = field(default_factory=OrderedDict)
    #: no change of the point happens in (quiet_from, quiet_until): a retrieve from a marker at or after
    #: quiet_from, before quiet_until, has nothing to look up
    quiet_from: int = 0
    quiet_until: int = 0

    @property
    def latest(self) -> int:
        return next(reversed(self.positions))

    def marker(self, n: int) -> str:
        return f"{self.key}_{n}"


class UpdateRoutes:
    def __init__(self, ctx: ServerContext, points: PointRoutes, cache_s: float = 900.0, kept_markers: int = 32):
        self.ctx = ctx
        self.points = points
        self.cache_ticks = int(cache_s * 10_000_000)
        self.kept_markers = kept_markers
        self._lock = threading.Lock()
        self._signups: dict[str, Signup] = {}
        self._by_stream: dict[tuple[str | None, int], str] = {}
        self._made = 0
        self._swept = 0

    @property
    def registrations(self) -> int:
        """Registrations made so far (each answered ``Succeeded``), expired ones included."""
        return self._made

    def forget_all(self) -> None:
        """Drop every registration (tests: what a server restart does)."""
        with self._lock:
            self._signups.clear()
            self._by_stream.clear()

    def _expire(self, now: int) -> None:
        """Drop the registrations unused for the cache time. A sweep looks at every registration, so it runs
        at most once a second of server time; :meth:`_live` checks the one a request names exactly."""
        if now - self._swept < SWEEP_TICKS:
            return
        self._swept = now
        for key in [k for k, s in self._signups.items() if s.used < now - self.cache_ticks]:
            self._drop(self._signups[key])

    def _drop(self, signup: Signup) -> None:
        self._signups.pop(signup.key, None)
        self._by_stream.pop((signup.user, signup.point_id), None)

    def _live(self, key: str | None, now: int) -> Signup | None:
        """The registration ``key`` names, unless it went unused for the cache time (then it is dropped)."""
        signup = self._signups.get(key) if key else None
        if signup is not None and signup.used < now - self.cache_ticks:
            self._drop(signup)
            return None
        return signup

    def _identity(self, point: Point, web_id: str) -> dict:
        return {
            "Source": web_id,
            "SourceName": point.name,
            "SourcePath": f"\\\\{self.ctx.archive.server_name}\\{point.name}",
        }

    def _register(self, req: Request, web_id: str) -> dict:
        point = self.points.readable(req, web_id)
        now = self.ctx.now()
        with self._lock:
            self._expire(now)
            signup = self._live(self._by_stream.get((req.user, point.point_id)), now)
            status = "AlreadyRegistered"
            if signup is None:
                status = "Succeeded"
                self._made += 1
                signup = Signup(uuid.uuid4().hex, req.user, point.point_id, web_id, now)
                signup.positions[0] = now
                self._signups[signup.key] = signup
                self._by_stream[(req.user, point.point_id)] = signup.key
            signup.used = now
            latest = signup.marker(signup.latest)
        return {**self._identity(point, web_id), "Status": status, "LatestMarker": latest}

    def _retrieve(self, req: Request, marker: str) -> dict:
        """One marker's ``StreamUpdatesRetrieve``; :class:`ApiError` 404 or 409 when it cannot be used."""
        key, sep, number = marker.partition("_")
        if not sep or not number.isdigit():
            raise ApiError(409, INVALID_MARKER)
        now = self.ctx.now()
        with self._lock:
            self._expire(now)
            signup = self._live(key, now)
            if signup is None or signup.user != req.user:
                raise ApiError(404, CACHE_NOT_FOUND)
            after = signup.positions.get(int(number))
            if after is None:
                raise ApiError(409, INVALID_MARKER)
            signup.used = now
        point = self.ctx.archive.by_id[signup.point_id]
        identity = self._identity(point, signup.web_id)
        if not self.ctx.archive.exists(point, now):
            with self._lock:
                self._drop(signup)
            return {
                **identity,
                "RequestedMarker": marker,
                "Status": "Failed",
                "Exception": {"Errors": [SIGNUP_REMOVED]},
            }
        events: list[dict] = []
        if not signup.quiet_from <= after or now >= signup.quiet_until:
            events, upcoming = changes(self.ctx, point, after, now)
            signup.quiet_from, signup.quiet_until = now, upcoming
        with self._lock:
            if events:
                latest = signup.latest + len(events)
                signup.positions[latest] = now
                while len(signup.positions) > self.kept_markers:
                    signup.positions.popitem(last=False)
            else:  # nothing since: the same marker now stands for this instant
                latest = int(number)
                signup.positions[latest] = now
        return {
            **identity,
            "RequestedMarker": marker,
            "LatestMarker": signup.marker(latest),
            "Status": "Updated",
            "Events": events,
        }

    # ---- routes --------------------------------------------------------------------------------
    def register_stream(self, req: Request, web_id: str) -> dict:
        """``POST streams/{webId}/updates``."""
        return self._register(req, web_id)

    def register_set(self, req: Request) -> dict:
        """``POST streamsets/updates?webId=A&webId=B``: as on a real server, one WebID that is not valid
        fails the whole request."""
        webids = req.args("webId")
        if not webids:
            raise ApiError(400, "The 'webId' parameter is required.")
        return {"Items": [self._register(req, w) for w in webids], "Links": {}}

    def retrieve_stream(self, req: Request, marker: str) -> dict:
        """``GET streams/updates/{marker}``."""
        return self._retrieve(req, marker)

    def retrieve_set(self, req: Request) -> dict:
        """``GET streamsets/updates?marker=A&marker=B``: one item per marker, in the order asked, each with
        its own failure."""
        markers = req.args("marker")
        if not markers:
            raise ApiError(400, "The 'marker' parameter is required.")
        items = []
        for marker in markers:
            try:
                items.append(self._retrieve(req, marker))
            except ApiError as exc:
                items.append({"RequestedMarker": marker, "Status": "Failed", "Exception": {"Errors": exc.messages}})
        return {"Items": items, "Links": {}}


ROUTES = (
    Route("POST", "streams/{web_id}/updates", UpdateRoutes.register_stream),
    Route("GET", "streams/updates/{marker}", UpdateRoutes.retrieve_stream),
    Route("POST", "streamsets/updates", UpdateRoutes.register_set),
    Route("GET", "streamsets/updates", UpdateRoutes.retrieve_set),
)
