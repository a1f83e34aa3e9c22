"""The PI Data Archive side of the simulated PI Web API: the service root, ``system``, the data server,
its points (listed, by path, by WebID, ``points/search``) and a point's streams (``recorded``, ``value``,
``end``).

Reproduced on purpose: absolute ``Links``, silent ``maxCount`` truncation with an inclusive
``startTime``, a descending read when ``endTime`` is before ``startTime``, 400 past
``MaxReturnedItemsPerCall``, AFTimeRange's relative ends, per-identity point security (403), and
points that do not exist yet or any more (404).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from . import webid
from .calculation import CALC_FAILED, NO_DATA
from .context import ServerContext
from .faults import FaultInjector
from .model import DIGITAL_SETS, PT_CREATED, SYSTEM_STATES, Point, stable_int
from .point_query import matches, parse_point_query
from .protocol import (
    ApiError,
    Request,
    Response,
    bool_arg,
    enum_arg,
    max_count,
    name_matcher,
    paging,
    select_fields,
    wildcard,
)
from .render import format_ticks, timed_values
from .routing import Route

PRODUCT_TITLE = "PI Web API 2023 SP1 (osipi-lakeflow simulator)"
PRODUCT_VERSION = "1.19.1.28"


class PointRoutes:
    def __init__(
        self,
        ctx: ServerContext,
        faults: FaultInjector,
        point_denials: dict[str, Iterable[str]] | None = None,
    ):
        """``point_denials``: user -> tag names whose point security denies that user reading (403), as a
        PI Data Archive's per-identity point security does."""
        self.ctx = ctx
        self.archive = ctx.archive
        self.faults = faults
        self.point_denials = {
            user: frozenset(n.upper() for n in names) for user, names in (point_denials or {}).items()
        }

    # ---- JSON shapes ---------------------------------------------------------------------------
    def data_server_json(self, req: Request) -> dict:
        wid = self.ctx.server_webid
        url = self.ctx.url
        return {
            "WebId": wid,
            "Id": str(self.archive.server_id),
            "Name": self.archive.server_name,
            "Path": f"\\\\PIServers[{self.archive.server_name}]",
            "IsConnected": True,
            "ServerVersion": "3.4.445.688",
            "ServerTime": format_ticks(self.ctx.now()),
            "Links": {
                "Self": url(req, f"dataservers/{wid}"),
                "Points": url(req, f"dataservers/{wid}/points"),
                "EnumerationSets": url(req, f"dataservers/{wid}/enumerationsets"),
            },
        }

    def point_json(self, req: Request, point: Point) -> dict:
        wid = self.ctx.point_webid(point)
        kind = point.kind
        url = self.ctx.url

        def link(suffix: str) -> str:
            return url(req, f"streams/{wid}/{suffix}")

        return {
            "WebId": wid,
            "Id": point.point_id,
            "Name": point.name,
            "Path": f"\\\\{self.archive.server_name}\\{point.name}",
            "Descriptor": point.descriptor,
            "PointClass": "classic",
            "PointType": point.point_type,
            "DigitalSetName": kind.digital_set,
            "Span": 100.0 if kind.amplitude else 0.0,
            "Zero": 0.0,
            "EngineeringUnits": kind.units,
            "Step": point.step,
            "Future": False,
            "DisplayDigits": -5,
            "Links": {
                "Self": url(req, f"points/{wid}"),
                "DataServer": url(req, f"dataservers/{self.ctx.server_webid}"),
                "Attributes": url(req, f"points/{wid}/attributes"),
                "InterpolatedData": link("interpolated"),
                "RecordedData": link("recorded"),
                "PlotData": link("plot"),
                "SummaryData": link("summary"),
                "Value": link("value"),
                "EndValue": link("end"),
            },
        }

    @staticmethod
    def query_attributes(point: Point) -> dict[str, object]:
        """The point's attributes as a PI point query names them."""
        return {
            "tag": point.name,
            "descriptor": point.descriptor,
            "pointtype": point.point_type,
            "pointid": point.point_id,
            "engunits": point.kind.units,
            "digitalset": point.kind.digital_set,
            "ptclassname": "classic",
        }

    # ---- helpers -------------------------------------------------------------------------------
    def _check_server(self, text: str) -> None:
        try:
            decoded = webid.decode(text)
        except ValueError:
            raise ApiError(400, f"Unknown or invalid WebID format: '{text}'.") from None
        same = decoded.marker == webid.DATA_SERVER and (
            decoded.server_id == self.archive.server_id
            or (decoded.kind == webid.PATH_ONLY and (decoded.path or "").upper() == self.archive.server_name.upper())
        )
        if not same:
            raise ApiError(404, f"A Data Server with the WebID '{text}' was not found.")

    # ---- routes --------------------------------------------------------------------------------
    def home(self, req: Request) -> dict:
        return {
            "Links": {
                name: self.ctx.url(req, name.lower())
                for name in ("AssetServers", "DataServers", "PIDirectory", "Search", "System")
            }
        }

    def system(self, req: Request) -> dict:
        return {
            "Links": {"Self": self.ctx.url(req, "system")},
            "ProductTitle": PRODUCT_TITLE,
            "ProductVersion": PRODUCT_VERSION,
        }

    def data_servers(self, req: Request) -> dict:
        """``dataservers``, or ``dataservers?path=`` / ``?name=`` for the one data server."""
        path, name = req.arg("path"), req.arg("name")
        if path or name:
            wanted = (path or "").lstrip("\\").upper()
            if wanted.startswith("PISERVERS["):
                wanted = wanted[len("PISERVERS[") :].rstrip("]")
            if (name or wanted).upper() != self.archive.server_name.upper():
                raise ApiError(404, "The specified path was not found.")
            return self.data_server_json(req)
        return {"Links": {}, "Items": [self.data_server_json(req)]}

    def data_server(self, req: Request, web_id: str) -> dict:
        self._check_server(web_id)
        return self.data_server_json(req)

    def list_points(self, req: Request, web_id: str) -> dict:
        """``dataservers/{webId}/points`` with ``nameFilter`` and paging."""
        self._check_server(web_id)
        start, count = paging(req, self.ctx.max_items)
        rx = re.compile(wildcard(req.arg("nameFilter") or "*"), re.I | re.S)
        chosen = [p for p in self.archive.live_points(self.ctx.now()) if rx.fullmatch(p.name)]
        return {"Links": {}, "Items": [self.point_json(req, p) for p in chosen[start : start + count]]}

    def search_points(self, req: Request) -> dict:
        """``points/search`` (PI Web API 2021 SP3+), the PI point query tagreader and newer clients use."""
        server = req.arg("dataServerWebId")
        if server:
            self._check_server(server)
        start, count = paging(req, 1000)
        option = (req.arg("searchOption") or "ExactMatch").lower()
        if option not in ("contains", "exactmatch", "startswith", "endswith"):
            raise ApiError(400, f"The value '{req.arg('searchOption')}' is not valid for searchOption.")
        conditions = parse_point_query(req.arg("query") or "", option)
        both = bool_arg(req, "searchNameAndDescriptor", False)
        chosen = [
            p
            for p in self.archive.live_points(self.ctx.now())
            if any(matches(self.query_attributes(p), cond, both) for cond in conditions)
        ]
        return {"Links": {}, "Items": [self.point_json(req, p) for p in chosen[start : start + count]]}

    def point_by_path(self, req: Request) -> dict:
        r"""``points?path=\\SERVER\TAG``."""
        path = req.arg("path")
        if not path:
            raise ApiError(400, "The 'path' parameter is required.")
        return self.point_json(req, self._point_at(path))

    def _point_at(self, path: str) -> Point:
        server, _, tag = path.lstrip("\\").partition("\\")
        point = self.archive.by_name.get(tag.upper())
        if point is not None and not self.archive.exists(point, self.ctx.now()):
            point = None
        if server.upper() != self.archive.server_name.upper() or point is None:
            raise ApiError(
                404,
                "The specified path was not found. If more details are needed, "
                "please contact your PI Web API administrator for help in enabling debug mode.",
            )
        return point

    def point(self, req: Request, web_id: str) -> dict:
        return self.point_json(req, self.ctx.point_from_webid(web_id))

    def points_multiple(self, req: Request) -> Response:
        """``points/multiple?path=...&webId=...``: each point found or its error, in the order asked; 207
        when any item failed. ``includeMode`` keeps all items, or only those with (without) an error."""
        asked = [("Path", p) for p in req.args("path")] + [("WebId", w) for w in req.args("webId")]
        if not asked:
            raise ApiError(400, "The 'path' or 'webId' parameter is required.")
        mode = enum_arg(req, "includeMode", ("All", "ItemsWithExceptionOnly", "ItemsWithoutExceptionOnly"), "All")
        items = []
        for kind, identifier in asked:
            item: dict = {"Identifier": identifier, "IdentifierType": kind, "Object": None, "Exception": None}
            try:
                point = self._point_at(identifier) if kind == "Path" else self.ctx.point_from_webid(identifier)
                item["Object"] = self.point_json(req, point)
            except ApiError as exc:
                item["Exception"] = {"Errors": exc.messages}
            items.append(item)
        failed = any(i["Exception"] is not None for i in items)
        if mode == "ItemsWithExceptionOnly":
            items = [i for i in items if i["Exception"] is not None]
        elif mode == "ItemsWithoutExceptionOnly":
            items = [i for i in items if i["Exception"] is None]
        body = select_fields({"Links": {}, "Items": items}, req.arg("selectedFields"))
        return Response(207 if failed else 200, body)

    def point_attributes(self, req: Request, web_id: str) -> dict:
        """``points/{webId}/attributes`` (``name`` repeated, or ``nameFilter``): the PI point attributes."""
        point = self.ctx.point_from_webid(web_id)
        attributes = self.attribute_values(point)
        names = [n.lower() for n in req.args("name")]
        if names:
            if any(n not in attributes for n in names):
                raise ApiError(400, "Some or all of the point attribute names could not be found.")
            chosen = names
        else:
            match = name_matcher(req, "nameFilter")
            chosen = [n for n in attributes if match(n)]
        return {"Links": {}, "Items": [self._attribute_json(req, point, n, attributes[n]) for n in chosen]}

    def point_attribute(self, req: Request, web_id: str, name: str) -> dict:
        point = self.ctx.point_from_webid(web_id)
        attributes = self.attribute_values(point)
        if name.lower() not in attributes:
            raise ApiError(404, f"The point attribute '{name}' was not found.")
        return self._attribute_json(req, point, name.lower(), attributes[name.lower()])

    def _attribute_json(self, req: Request, point: Point, name: str, value: object) -> dict:
        wid = self.ctx.point_webid(point)
        return {
            "Name": name,
            "Value": value,
            "Links": {
                "Self": self.ctx.url(req, f"points/{wid}/attributes/{name}"),
                "Point": self.ctx.url(req, f"points/{wid}"),
            },
        }

    def attribute_values(self, point: Point) -> dict[str, object]:
        """A PI point's attributes by their lower-case names, as the Data Archive keeps them."""
        kind = point.kind
        return {
            "tag": point.name,
            "descriptor": point.descriptor,
            "exdesc": "",
            "pointtype": point.point_type,
            "pointsource": "L",
            "ptclassname": "classic",
            "pointid": point.point_id,
            "engunits": kind.units,
            "digitalset": kind.digital_set,
            "zero": 0.0,
            "span": 100.0 if kind.amplitude else 0.0,
            "typicalvalue": kind.base,
            "step": int(point.step),
            "future": 0,
            "displaydigits": -5,
            "compressing": 1,
            "compdev": 0.0,
            "excdev": 0.0,
            "archiving": 1,
            "scan": 1,
            "shutdown": 1,
            "creationdate": format_ticks(point.created_ticks),
        }

    def enumeration_sets(self, req: Request, web_id: str) -> dict:
        """``dataservers/{webId}/enumerationsets``: the data server's digital state sets (System first)."""
        self._check_server(web_id)
        return {"Links": {}, "Items": [self._set_json(req, name) for name in self._state_sets()]}

    def enumeration_values(self, req: Request, web_id: str) -> dict:
        """``enumerationsets/{webId}/enumerationvalues``: a digital state set's states in code order."""
        name = self._set_from_webid(web_id)
        states = self._state_sets()[name]
        set_wid = self._set_webid(name)
        items = [
            {
                "WebId": f"{set_wid}.{code}",
                "Id": str(uuid.UUID(int=stable_int("state", self.archive.seed, name, code))),
                "Name": state,
                "Description": "",
                "Value": code,
                "Parent": "",
                "Path": f"\\\\{self.archive.server_name}\\EnumerationSets[{name}]\\{state}",
                "Links": {"EnumerationSet": self.ctx.url(req, f"enumerationsets/{set_wid}")},
            }
            for code, state in states
        ]
        return {"Links": {}, "Items": items}

    def enumeration_set(self, req: Request, web_id: str) -> dict:
        return self._set_json(req, self._set_from_webid(web_id))

    def _state_sets(self) -> dict[str, list[tuple[int, str]]]:
        system = sorted((code, state) for state, code in (PT_CREATED, *SYSTEM_STATES, CALC_FAILED, NO_DATA))
        return {"System": system, **{n: list(enumerate(states)) for n, states in DIGITAL_SETS.items()}}

    def _set_webid(self, name: str) -> str:
        """Enumeration sets are named by a PathOnly WebID of their path (the simulator's own encoding)."""
        return "P1MS" + webid.encode_path(f"{self.archive.server_name}\\{name}")

    def _set_from_webid(self, text: str) -> str:
        sets = self._state_sets()
        for name in sets:
            if self._set_webid(name) == text:
                return name
        raise ApiError(404, f"An Enumeration Set with the WebID '{text}' was not found.")

    def _set_json(self, req: Request, name: str) -> dict:
        wid = self._set_webid(name)
        return {
            "WebId": wid,
            "Id": str(uuid.UUID(int=stable_int("enumerationset", self.archive.seed, name))),
            "Name": name,
            "Description": "System states" if name == "System" else f"{name} digital states",
            "Path": f"\\\\{self.archive.server_name}\\EnumerationSets[{name}]",
            "Links": {
                "Self": self.ctx.url(req, f"enumerationsets/{wid}"),
                "Values": self.ctx.url(req, f"enumerationsets/{wid}/enumerationvalues"),
                "DataServer": self.ctx.url(req, f"dataservers/{self.ctx.server_webid}"),
            },
        }

    def readable(self, req: Request, web_id: str) -> Point:
        """The point whose data ``req`` reads, after its point security (403) and the fault plan's
        failing points."""
        point = self.ctx.point_from_webid(web_id)
        if self.faults.point_fails(point.name):
            raise ApiError(
                self.faults.plan.failing_status, f"Access to PI Point '{point.name}' is denied for the requesting user."
            )
        if point.name.upper() in self.point_denials.get(req.user or "", ()):
            raise ApiError(
                403,
                f"Access to PI Point '{point.name}' is denied for user '{req.user}' (point security: no read access).",
            )
        return point

    def recorded(self, req: Request, web_id: str) -> dict:
        """``streams/{webId}/recorded`` of a PI point (``boundaryType=Inside``)."""
        point = self.readable(req, web_id)
        start, end = self.ctx.time_range(req)
        boundary = (req.arg("boundaryType") or "Inside").lower()
        if boundary not in ("inside", "outside", "interpolated"):
            raise ApiError(400, f"The value '{req.arg('boundaryType')}' is not valid for boundaryType.")
        if boundary != "inside":
            raise ApiError(400, "The simulator supports boundaryType=Inside only.")
        limit = max_count(req, self.ctx.max_items)
        descending = end < start
        lo, hi = (end, start) if descending else (start, end)
        now_ticks = self.ctx.now()
        seg = self.archive.events(point, lo, min(hi, now_ticks), limit=limit, newest_first=descending, as_of=now_ticks)
        items = timed_values(point, seg)
        if descending:
            items.reverse()
        return {"Links": {}, "Items": items, "UnitsAbbreviation": point.kind.units}

    def value(self, req: Request, web_id: str) -> dict:
        """``streams/{webId}/value`` (and ``end``) of a PI point: its snapshot."""
        value = self.ctx.snapshot(self.ctx.point_from_webid(web_id))
        if value is None:
            raise ApiError(404, "No value found.")
        return value


ROUTES = (
    Route("GET", "", PointRoutes.home),
    Route("GET", "system", PointRoutes.system),
    Route("GET", "dataservers", PointRoutes.data_servers),
    Route("GET", "dataservers/{web_id}", PointRoutes.data_server),
    Route("GET", "dataservers/{web_id}/points", PointRoutes.list_points),
    Route("GET", "points", PointRoutes.point_by_path),
    Route("GET", "points/search", PointRoutes.search_points),
    Route("GET", "points/multiple", PointRoutes.points_multiple),
    Route("GET", "points/{web_id}/attributes", PointRoutes.point_attributes),
    Route("GET", "points/{web_id}/attributes/{name}", PointRoutes.point_attribute),
    Route("GET", "dataservers/{web_id}/enumerationsets", PointRoutes.enumeration_sets),
    Route("GET", "enumerationsets/{web_id}", PointRoutes.enumeration_set),
    Route("GET", "enumerationsets/{web_id}/enumerationvalues", PointRoutes.enumeration_values),
    Route("GET", "points/{web_id}", PointRoutes.point),
    Route("GET", "streams/{web_id}/recorded", PointRoutes.recorded),
    Route("GET", "streams/{web_id}/end", PointRoutes.value),
)
