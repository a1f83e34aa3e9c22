"""The simulated PI Web API without its HTTP transport: the route modules wired to one archive, asset
model, clock and fault plan, behind one router (the HTTP server and the batch controller both use it;
benchmarks call it in process).

Behaviours real clients rely on are reproduced on purpose: case-insensitive query names and enum
values, ``{"Errors": [...]}`` bodies on every 4xx/5xx, absolute ``Links``, silent ``maxCount``
truncation with an inclusive ``startTime``, 400 past ``MaxReturnedItemsPerCall``, the batch controller
with ``ParentIds``/``Parameters``/``RequestTemplate`` and 207 answers, ``selectedFields``, and WebID 2.0
ids of every type.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable

from . import asset_routes, batch, eventframe_routes, point_routes, stream_routes, streamset_routes, updates
from .af import AssetModel
from .asset_routes import AssetRoutes
from .batch import BatchController
from .context import ServerContext
from .eventframe_routes import EventFrameRoutes
from .faults import FaultInjector, FaultPlan
from .model import Archive, Point
from .point_routes import PointRoutes
from .protocol import Request, Response
from .routing import Router
from .stream_routes import StreamRoutes
from .streamset_routes import StreamSetRoutes
from .updates import UpdateRoutes


class PiWebApi:
    """Routing and resource logic, independent of the HTTP transport (the batch controller reuses it)."""

    def __init__(
        self,
        archive: Archive,
        max_items_per_call: int = 150_000,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        require_csrf_header: bool = True,
        faults: FaultPlan | None = None,
        assets: AssetModel | None = None,
        point_denials: dict[str, Iterable[str]] | None = None,
        updates_cache_s: float = 900.0,
        stream_updates: bool = True,
    ):
        """``assets``: the Asset Framework behind the AF routes; by default one derived from the archive,
        built on the first AF request. ``point_denials``: user -> tag names whose point security denies
        that user reading (403), as a PI Data Archive's per-identity point security does.
        ``updates_cache_s``: how long a Stream Updates registration lives unused (:mod:`updates`);
        ``stream_updates=False``: a PI Web API from before Stream Updates (its routes answer 404)."""
        self.ctx = ServerContext(archive, clock, max_items_per_call)
        self.faults = FaultInjector(faults)
        self.requests = 0  # HTTP requests answered (counts())
        self._counting = threading.Lock()
        self.require_csrf_header = require_csrf_header
        self._asset_model = assets
        self._assets: AssetRoutes | None = None
        self._eventframes: EventFrameRoutes | None = None
        self.points = PointRoutes(self.ctx, self.faults, point_denials)
        self.streams = StreamRoutes(self.ctx, self.points)
        self.updates = UpdateRoutes(self.ctx, self.points, updates_cache_s)
        self.router = Router(
            [
                (point_routes.ROUTES, lambda: self.points),
                (stream_routes.ROUTES, lambda: self.streams),
                (streamset_routes.ROUTES, lambda: self.streamsets),
                (updates.ROUTES if stream_updates else (), lambda: self.updates),
                (asset_routes.ROUTES, lambda: self.assets),
                (eventframe_routes.ROUTES, lambda: self.eventframes),
                (batch.ROUTES, lambda: self.batch),
            ]
        )
        self.streamsets = StreamSetRoutes(self.ctx, self.router)
        self.batch = BatchController(self.router, self.faults)

    @property
    def assets(self) -> AssetRoutes:
        """The AF routes, built on first use (deriving the asset model from a large archive takes time)."""
        if self._assets is None:
            self._assets = AssetRoutes(self.ctx, self._asset_model or AssetModel(self.ctx.archive), self.router)
        return self._assets

    @property
    def eventframes(self) -> EventFrameRoutes:
        """The event frame routes, built on first use."""
        if self._eventframes is None:
            self._eventframes = EventFrameRoutes(self.ctx, self.assets)
        return self._eventframes

    @property
    def archive(self) -> Archive:
        return self.ctx.archive

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Callable[[], dt.datetime]) -> None:
        """Tests move the server's clock; every route module reads it through the shared context."""
        self.ctx.clock = clock

    @property
    def max_items(self) -> int:
        return self.ctx.max_items

    @property
    def server_webid(self) -> str:
        return self.ctx.server_webid

    def point_webid(self, point: Point) -> str:
        return self.ctx.point_webid(point)

    def handle(self, req: Request) -> Response:
        with self._counting:
            self.requests += 1
        return self.router.handle(req)

    def counts(self) -> dict[str, int]:
        """Requests answered so far: HTTP requests, and the sub-requests of batch calls among them."""
        return {"requests": self.requests, "sub_requests": self.batch.sub_requests}
