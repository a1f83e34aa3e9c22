"""Ad hoc stream sets of the simulated PI Web API: ``streamsets/value`` and ``streamsets/recorded`` with
``webId`` repeated, one read of many streams in the order asked.

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
        attributes), in the order asked."""
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
                    "Value": self.ctx.snapshot(point),
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


ROUTES = (
    Route("GET", "streamsets/value", StreamSetRoutes.values),
    Route("GET", "streamsets/recorded", StreamSetRoutes.recorded),
)
