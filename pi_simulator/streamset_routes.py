"""Ad hoc stream sets of the simulated PI Web API: ``streamsets/{resource}`` with ``webId`` repeated (PI
points or AF attributes), one read of many streams in the order asked: ``value`` (at ``time``, or the
snapshot), ``end``, ``recorded``, ``interpolated``, ``interpolatedattimes``, ``recordedattime``,
``recordedattimes``, ``plot`` and ``summary``.

As on a real server one bad stream fails the whole request, and ``streamsets/recorded`` answers 400
when the streams times ``maxCount`` could pass ``MaxReturnedItemsPerCall``. Each stream's answer is the
one its own ``streams/{webId}/...`` resource gives, so this module asks the router for it. (The stream
set of one element or event frame, ``streamsets/{webId}/value``, is in their route modules.)
"""

from __future__ import annotations

from . import webid
from .context import ServerContext
from .protocol import ApiError, Request, max_count
from .routing import Route, Router
from .stream_routes import STREAM_RESOURCES, stream_set_item


class StreamSetRoutes:
    def __init__(self, ctx: ServerContext, router: Router):
        self.ctx = ctx
        self.router = router

    def _webids(self, req: Request) -> list[str]:
        webids = req.args("webId")
        if not webids:
            raise ApiError(400, "The 'webId' parameter is required.")
        return webids

    def values(self, req: Request) -> dict:
        """``streamsets/value?webId=A&webId=B``: the current value of each stream (PI points or AF
        attributes), in the order asked; with ``time``, each point's value then."""
        archive = self.ctx.archive
        items = []
        for wid in self._webids(req):
            if wid[2:4] == webid.ATTRIBUTE:
                content = self.router.call(req, ["streams", wid, "value"])
                items.append({"WebId": wid, "Links": {}, "Value": content})
                continue
            point = self.ctx.point_from_webid(wid)
            items.append(
                {
                    "WebId": wid,
                    "Name": point.name,
                    "Path": f"\\\\{archive.server_name}\\{point.name}",
                    "Links": {},
                    "Value": self.router.call(req, ["streams", wid, "value"])
                    if req.arg("time")
                    else self.ctx.snapshot(point),
                }
            )
        return {"Links": {}, "Items": items}

    def recorded(self, req: Request) -> dict:
        """``streamsets/recorded?webId=A&webId=B``: each PI point's ``streams/{webId}/recorded``."""
        webids = self._webids(req)
        limit = self.ctx.max_items
        if len(webids) * max_count(req, limit) > limit:
            raise ApiError(
                400,
                f"The request would return more than the maximum allowed "
                f"({limit}) items; reduce maxCount or the number of streams.",
            )
        items = []
        for wid in webids:
            point = self.ctx.point_from_webid(wid)
            rec = self.router.call(req, ["streams", wid, "recorded"])
            assert isinstance(rec, dict)
            items.append(
                {
                    "WebId": wid,
                    "Name": point.name,
                    "Path": f"\\\\{self.ctx.archive.server_name}\\{point.name}",
                    "Links": {"Source": self.ctx.url(req, f"points/{wid}")},
                    "Items": rec["Items"],
                    "UnitsAbbreviation": point.kind.units,
                }
            )
        return {"Links": {}, "Items": items}

    def each(self, req: Request, resource: str) -> dict:
        """``streamsets/{resource}``: each stream's ``streams/{webId}/{resource}`` with the stream's name
        and path (:func:`.stream_routes.stream_set_item`)."""
        items = []
        for wid in self._webids(req):
            content = self.router.call(req, ["streams", wid, resource])
            assert isinstance(content, dict)
            items.append(stream_set_item(self._identity(req, wid), resource, content, end_as_list=True))
        return {"Links": {}, "Items": items}

    def _identity(self, req: Request, wid: str) -> dict:
        """A stream's ``WebId``, ``Name``, ``Path`` and ``Links.Source`` (its point or attribute)."""
        kind = "attributes" if wid[2:4] == webid.ATTRIBUTE else "points"
        found = self.router.call(req, [kind, wid])
        assert isinstance(found, dict)
        return {
            "WebId": wid,
            "Name": found.get("Name"),
            "Path": found.get("Path"),
            "Links": {"Source": self.ctx.url(req, f"{kind}/{wid}")},
        }


#: the stream set resources answered stream by stream through :meth:`StreamSetRoutes.each` (``recorded``
#: has its own, which bounds the streams times ``maxCount``)
EACH = tuple(r for r in (*STREAM_RESOURCES, "end") if r != "recorded")


def _each(resource: str):
    return lambda routes, req: routes.each(req, resource)


ROUTES = (
    Route("GET", "streamsets/value", StreamSetRoutes.values),
    Route("GET", "streamsets/recorded", StreamSetRoutes.recorded),
    *(Route("GET", f"streamsets/{resource}", _each(resource)) for resource in EACH),
)
