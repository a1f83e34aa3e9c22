"""A PI Web API served over real HTTP from the deterministic archive.

Behaviours real clients rely on are reproduced on purpose: case-insensitive query names and enum
values, ``{"Errors": [...]}`` bodies on every 4xx/5xx, absolute ``Links``, silent ``maxCount``
truncation with an inclusive ``startTime``, 400 past ``MaxReturnedItemsPerCall``, the batch controller
with ``ParentIds``/``Parameters``/``RequestTemplate`` and 207 answers, ``X-Requested-With`` on POST,
``selectedFields``, and WebID 2.0 ids of every type.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from . import pitime, webid
from .af import AssetModel
from .assets import ROUTES as ASSET_ROUTES
from .assets import AssetRoutes
from .auth import Authenticator, KerberosAcceptor, TokenIssuer
from .faults import (
    BARE_TOKENS,
    PROXY_PAGE,
    FaultInjector,
    FaultPlan,
    draw,
    marker,
    with_hostile_value,
    with_value_error,
)
from .model import TICKS_PER_SECOND, Archive, Point
from .render import format_ticks, timed_values
from .truth import to_ticks

if TYPE_CHECKING:
    from .tls import TestPKI

PRODUCT_TITLE = "PI Web API 2023 SP1 (osipi-lakeflow simulator)"
PRODUCT_VERSION = "1.19.1.28"


class ApiError(Exception):
    def __init__(self, status: int, *messages: str):
        super().__init__(messages[0] if messages else "")
        self.status = status
        self.messages = list(messages)


@dataclass
class Request:
    method: str
    path: str  # below /piwebapi, e.g. "streams/F1DP.../recorded"
    query: dict[str, list[str]]  # lower-cased names
    body: bytes = b""
    base_url: str = ""
    user: str | None = None  # who authenticated (None: the server needs no authentication)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name.lower())
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name.lower(), [])


@dataclass
class Response:
    status: int
    content: object
    headers: dict[str, str] = field(default_factory=dict)


def _parse_query(raw: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        out.setdefault(key.lower(), []).append(value)
    return out


def _int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"The value '{raw}' is not valid for {name}.") from None


def _bool_arg(req: Request, name: str, default: bool) -> bool:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ApiError(400, f"The value '{raw}' is not valid for {name}.")


def select_fields(content: object, selected: str | None) -> object:
    """Apply ``selectedFields`` (semicolon-separated dotted paths, case-insensitive)."""
    if not selected:
        return content
    paths = [tuple(p.lower().split(".")) for p in selected.split(";") if p.strip()]

    def walk(node: object, prefix: tuple[str, ...]) -> object:
        if isinstance(node, list):
            return [walk(item, prefix) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            here = prefix + (key.lower(),)
            if any(p[: len(here)] == here and len(p) == len(here) for p in paths):
                out[key] = value
            elif any(p[: len(here)] == here for p in paths):
                out[key] = walk(value, here)
        return out

    return walk(content, ())


class PiWebApi:
    """Routing and resource logic, independent of the HTTP transport (the batch controller reuses it)."""

    def __init__(
        self,
        archive: Archive,
        max_items_per_call: int = 150_000,
        clock=lambda: dt.datetime.now(dt.UTC),
        require_csrf_header: bool = True,
        faults: FaultPlan | None = None,
        assets: AssetModel | None = None,
        point_denials: dict[str, Iterable[str]] | None = None,
    ):
        """``assets``: the Asset Framework behind the AF routes; by default one derived from the archive,
        built on the first AF request. ``point_denials``: user -> tag names whose point security denies
        that user reading (403), as a PI Data Archive's per-identity point security does."""
        self.archive = archive
        self._asset_model = assets
        self._assets: AssetRoutes | None = None
        self.faults = FaultInjector(faults)
        self.max_items = max_items_per_call
        self.clock = clock
        self.require_csrf_header = require_csrf_header
        self.point_denials = {
            user: frozenset(n.upper() for n in names) for user, names in (point_denials or {}).items()
        }
        self.server_webid = webid.data_server_webid(archive.server_id, archive.server_name)

    @property
    def assets(self) -> AssetRoutes:
        if self._assets is None:
            self._assets = AssetRoutes(self, self._asset_model or AssetModel(self.archive))
        return self._assets

    # ---- helpers -------------------------------------------------------------------------------
    def _url(self, req: Request, path: str) -> str:
        return f"{req.base_url}/piwebapi/{path}"

    def _point_from_webid(self, text: str) -> Point:
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
        if point is None or not self.archive.exists(point, to_ticks(self.clock())):
            raise ApiError(404, f"A PI Point with the WebID '{text}' was not found.")
        return point

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

    def point_webid(self, point: Point) -> str:
        return webid.point_webid(self.archive.server_id, point.point_id, f"{self.archive.server_name}\\{point.name}")

    def _data_server(self, req: Request) -> dict:
        wid = self.server_webid
        return {
            "WebId": wid,
            "Id": str(self.archive.server_id),
            "Name": self.archive.server_name,
            "Path": f"\\\\PIServers[{self.archive.server_name}]",
            "IsConnected": True,
            "ServerVersion": "3.4.445.688",
            "ServerTime": format_ticks(to_ticks(self.clock())),
            "Links": {
                "Self": self._url(req, f"dataservers/{wid}"),
                "Points": self._url(req, f"dataservers/{wid}/points"),
                "EnumerationSets": self._url(req, f"dataservers/{wid}/enumerationsets"),
            },
        }

    def _point(self, req: Request, point: Point) -> dict:
        wid = self.point_webid(point)
        kind = point.kind

        def link(suffix: str) -> str:
            return self._url(req, f"streams/{wid}/{suffix}")

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
            "Step": point.point_type in ("Digital", "String", "Int32"),
            "Future": False,
            "DisplayDigits": -5,
            "Links": {
                "Self": self._url(req, f"points/{wid}"),
                "DataServer": self._url(req, f"dataservers/{self.server_webid}"),
                "Attributes": self._url(req, f"points/{wid}/attributes"),
                "InterpolatedData": link("interpolated"),
                "RecordedData": link("recorded"),
                "PlotData": link("plot"),
                "SummaryData": link("summary"),
                "Value": link("value"),
                "EndValue": link("end"),
            },
        }

    def _time_range(self, req: Request) -> tuple[int, int]:
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

    def _max_count(self, req: Request) -> int:
        max_count = _int_arg(req, "maxCount", 1000)
        if max_count > self.max_items:
            raise ApiError(400, f"Parameter 'maxCount' is greater than the maximum allowed ({self.max_items}).")
        if max_count < 1:
            raise ApiError(400, "Parameter 'maxCount' must be greater than 0.")
        return max_count

    def _recorded(self, req: Request, point: Point) -> dict:
        if self.faults.point_fails(point.name):
            raise ApiError(
                self.faults.plan.failing_status, f"Access to PI Point '{point.name}' is denied for the requesting user."
            )
        if point.name.upper() in self.point_denials.get(req.user or "", ()):
            raise ApiError(
                403,
                f"Access to PI Point '{point.name}' is denied for user '{req.user}' (point security: no read access).",
            )
        start, end = self._time_range(req)
        boundary = (req.arg("boundaryType") or "Inside").lower()
        if boundary not in ("inside", "outside", "interpolated"):
            raise ApiError(400, f"The value '{req.arg('boundaryType')}' is not valid for boundaryType.")
        if boundary != "inside":
            raise ApiError(400, "The simulator supports boundaryType=Inside only.")
        max_count = self._max_count(req)
        descending = end < start
        lo, hi = (end, start) if descending else (start, end)
        now_ticks = to_ticks(self.clock())
        seg = self.archive.events(
            point, lo, min(hi, now_ticks), limit=max_count, newest_first=descending, as_of=now_ticks
        )
        items = timed_values(point, seg)
        if descending:
            items.reverse()
        return {"Links": {}, "Items": items, "UnitsAbbreviation": point.kind.units}

    # ---- routing -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as exc:
            return Response(exc.status, {"Errors": exc.messages})

    def _route(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/") if p]
        lower = [p.lower() for p in parts]
        method = req.method.upper()
        if method == "POST" and lower == ["batch"]:
            return self._batch(req)
        if method != "GET":
            raise ApiError(405, f"The requested resource does not support http method '{method}'.")
        sel = req.arg("selectedFields")

        def ok(content: object) -> Response:
            return Response(200, select_fields(content, sel))

        if not parts:
            return ok(
                {
                    "Links": {
                        name: self._url(req, name.lower())
                        for name in ("AssetServers", "DataServers", "PIDirectory", "Search", "System")
                    }
                }
            )
        if lower == ["system"]:
            return ok(
                {
                    "Links": {"Self": self._url(req, "system")},
                    "ProductTitle": PRODUCT_TITLE,
                    "ProductVersion": PRODUCT_VERSION,
                }
            )
        if lower[0] == "dataservers":
            if len(parts) == 1:
                path, name = req.arg("path"), req.arg("name")
                if path or name:
                    wanted = (path or "").lstrip("\\").upper()
                    if wanted.startswith("PISERVERS["):
                        wanted = wanted[len("PISERVERS[") :].rstrip("]")
                    if (name or wanted).upper() != self.archive.server_name.upper():
                        raise ApiError(404, "The specified path was not found.")
                    return ok(self._data_server(req))
                return ok({"Links": {}, "Items": [self._data_server(req)]})
            self._check_server(parts[1])
            if len(parts) == 2:
                return ok(self._data_server(req))
            if lower[2:] == ["points"]:
                return ok(self._list_points(req))
        if lower == ["points", "search"]:
            return ok(self._search_points(req))
        if lower[0] == "points":
            if len(parts) == 1:
                path = req.arg("path")
                if not path:
                    raise ApiError(400, "The 'path' parameter is required.")
                server, _, tag = path.lstrip("\\").partition("\\")
                point = self.archive.by_name.get(tag.upper())
                if point is not None and not self.archive.exists(point, to_ticks(self.clock())):
                    point = None
                if server.upper() != self.archive.server_name.upper() or point is None:
                    raise ApiError(
                        404,
                        "The specified path was not found. If more details are needed, "
                        "please contact your PI Web API administrator for help in enabling debug mode.",
                    )
                return ok(self._point(req, point))
            if len(parts) == 2:
                return ok(self._point(req, self._point_from_webid(parts[1])))
        if lower[0] == "streams" and len(parts) == 3 and lower[2] == "recorded":
            return ok(self._recorded(req, self._point_from_webid(parts[1])))
        if lower[0] in ASSET_ROUTES:
            return ok(self.assets.route(req, parts, lower))
        if lower == ["streamsets", "value"]:
            return ok(self._streamset_value(req))
        if lower[0] == "streamsets" and len(parts) == 3 and lower[2] == "value":
            return ok(self.assets.streamset_value(req, parts[1]))
        if lower[0] == "streams" and len(parts) == 3 and lower[2] in ("value", "end") and parts[1][2:4] == "Ab":
            return ok(self.assets.stream_value(parts[1]))
        if lower[0] == "streams" and len(parts) == 3 and lower[2] in ("value", "end"):
            value = self.snapshot(self._point_from_webid(parts[1]))
            if value is None:
                raise ApiError(404, "No value found.")
            return ok(value)
        if lower == ["streamsets", "recorded"]:
            return ok(self._streamset_recorded(req))
        raise ApiError(404, "The specified resource was not found.")

    def _list_points(self, req: Request) -> dict:
        pattern = req.arg("nameFilter") or "*"
        start = _int_arg(req, "startIndex", 0)
        count = _int_arg(req, "maxCount", 1000)
        if count > self.max_items:
            raise ApiError(400, f"Parameter 'maxCount' is greater than the maximum allowed ({self.max_items}).")
        if count < 0 or start < 0:  # a negative startIndex would slice from the end
            raise ApiError(400, "Parameters 'startIndex' and 'maxCount' must not be negative.")
        rx = re.compile(_wildcard(pattern), re.I | re.S)
        matches = [p for p in self.archive.live_points(to_ticks(self.clock())) if rx.fullmatch(p.name)]
        return {"Links": {}, "Items": [self._point(req, p) for p in matches[start : start + count]]}

    def _search_points(self, req: Request) -> dict:
        """``points/search`` (PI Web API 2021 SP3+), the PI point query tagreader and newer clients use."""
        server = req.arg("dataServerWebId")
        if server:
            self._check_server(server)
        start = _int_arg(req, "startIndex", 0)
        count = _int_arg(req, "maxCount", 1000)
        if count > 1000:
            raise ApiError(400, "Parameter 'maxCount' is greater than the maximum allowed (1000).")
        if count < 0 or start < 0:
            raise ApiError(400, "Parameters 'startIndex' and 'maxCount' must not be negative.")
        option = (req.arg("searchOption") or "ExactMatch").lower()
        if option not in ("contains", "exactmatch", "startswith", "endswith"):
            raise ApiError(400, f"The value '{req.arg('searchOption')}' is not valid for searchOption.")
        conditions = parse_point_query(req.arg("query") or "", option)
        both = _bool_arg(req, "searchNameAndDescriptor", False)
        matches = [
            p
            for p in self.archive.live_points(to_ticks(self.clock()))
            if any(_matches(self._attributes(p), cond, both) for cond in conditions)
        ]
        return {"Links": {}, "Items": [self._point(req, p) for p in matches[start : start + count]]}

    def _attributes(self, point: Point) -> dict[str, object]:
        return {
            "tag": point.name,
            "descriptor": point.descriptor,
            "pointtype": point.point_type,
            "pointid": point.point_id,
            "engunits": point.kind.units,
            "digitalset": point.kind.digital_set,
            "ptclassname": "classic",
        }

    def snapshot(self, point: Point) -> dict | None:
        """The point's current value (its last event of the past week), or None."""
        now = to_ticks(self.clock())
        items = timed_values(point, self.archive.events(point, now - 7 * 86400 * TICKS_PER_SECOND, now, as_of=now))
        return items[-1] if items else None

    def _streamset_value(self, req: Request) -> dict:
        """Ad hoc ``streamsets/value?webId=A&webId=B``: the current value of each stream (PI points or
        AF attributes), in the order asked."""
        webids = req.args("webId")
        if not webids:
            raise ApiError(400, "The 'webId' parameter is required.")
        items = []
        for wid in webids:
            if wid[2:4] == webid.ATTRIBUTE:
                content = self.assets.stream_value(wid)
                items.append({"WebId": wid, "Links": {}, "Value": content})
                continue
            point = self._point_from_webid(wid)
            items.append(
                {
                    "WebId": wid,
                    "Name": point.name,
                    "Path": f"\\\\{self.archive.server_name}\\{point.name}",
                    "Links": {},
                    "Value": self.snapshot(point),
                }
            )
        return {"Links": {}, "Items": items}

    def _streamset_recorded(self, req: Request) -> dict:
        webids = req.args("webId")
        if not webids:
            raise ApiError(400, "The 'webId' parameter is required.")
        max_count = self._max_count(req)
        if len(webids) * max_count > self.max_items:
            raise ApiError(
                400,
                f"The request would return more than the maximum allowed "
                f"({self.max_items}) items; reduce maxCount or the number of streams.",
            )
        items = []
        for wid in webids:
            point = self._point_from_webid(wid)
            rec = self._recorded(req, point)
            items.append(
                {
                    "WebId": wid,
                    "Name": point.name,
                    "Path": f"\\\\{self.archive.server_name}\\{point.name}",
                    "Links": {"Source": self._url(req, f"points/{wid}")},
                    "Items": rec["Items"],
                    "UnitsAbbreviation": point.kind.units,
                }
            )
        return {"Links": {}, "Items": items}

    # ---- batch ---------------------------------------------------------------------------------
    def _batch(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            raise ApiError(400, "The batch request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The batch request must be a JSON object keyed by request id.")
        results: dict[str, dict] = {}
        pending = dict(body)
        while pending:
            progressed = False
            for rid, sub in list(pending.items()):
                parents = (
                    [str(p) for p in (sub.get("ParentIds") or []) if p is not None] if isinstance(sub, dict) else []
                )
                if any(p in pending for p in parents if p in body and p != rid):
                    continue
                results[rid] = self._batch_one(req, rid, sub, parents, results, body)
                del pending[rid]
                progressed = True
            if not progressed:  # circular ParentIds
                for rid in pending:
                    results[rid] = {
                        "Status": 400,
                        "Headers": {},
                        "Content": {"Errors": ["Circular reference between ParentIds."]},
                    }
                break
        return Response(207, {rid: results[rid] for rid in body})

    def _batch_one(self, req: Request, rid: str, sub: object, parents: list[str], results: dict, body: dict) -> dict:
        if not isinstance(sub, dict):
            return {"Status": 400, "Headers": {}, "Content": {"Errors": ["Invalid request."]}}
        sub = {k.lower(): v for k, v in sub.items()}
        missing = [p for p in parents if p not in body]
        if missing:
            return {
                "Status": 400,
                "Headers": {},
                "Content": {"Errors": [f"The following ParentIds were not found: {', '.join(missing)}."]},
            }
        failed = [p for p in parents if not 200 <= results[p]["Status"] < 300]
        if failed:
            return {
                "Status": 409,
                "Headers": {},
                "Content": f"The following ParentIds did not complete successfully: {', '.join(failed)}.",
            }
        params = sub.get("parameters") or []
        template = sub.get("requesttemplate")
        try:
            selections = [_jsonpath(results, p) for p in params]
        except ApiError as exc:
            return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
        if any(len(s) == 0 for s in selections):  # also for a RequestTemplate over an empty parent list
            return {"Status": 400, "Headers": {}, "Content": {"Errors": ["Some JSON paths did not select any tokens."]}}
        method = str(sub.get("method") or "GET").upper()
        content = sub.get("content")
        data = content.encode() if isinstance(content, str) else b""
        if template is not None:
            resource = (template or {}).get("Resource") or (template or {}).get("resource") or ""
            try:
                resources = [_fill(resource, c) for c in _combinations(selections)]
            except ApiError as exc:
                return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
            items = [self._sub_call(req, method, r, data) for r in resources]
            status = 200 if all(200 <= i["Status"] < 300 for i in items) else 207
            return {"Status": status, "Headers": {}, "Content": {"Total": len(items), "Items": items}}
        resource = str(sub.get("resource") or "")
        if resource.startswith("$."):
            try:
                values = _jsonpath(results, resource)
            except ApiError as exc:
                return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
            if not values:  # not an empty Resource, which would silently GET the landing page
                return {
                    "Status": 400,
                    "Headers": {},
                    "Content": {"Errors": ["Some JSON paths did not select any tokens."]},
                }
            resource = str(values[0])
        elif params:
            try:
                resource = _fill(resource, [s[0] for s in selections])
            except ApiError as exc:
                return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
        if not resource:
            return {"Status": 400, "Headers": {}, "Content": {"Errors": ["The Resource is required."]}}
        return self._sub_call(req, method, resource, data)

    def _sub_call(self, req: Request, method: str, resource: str, data: bytes) -> dict:
        url = urlsplit(resource)
        path = url.path
        marker = path.lower().find("/piwebapi")
        path = path[marker + len("/piwebapi") :] if marker >= 0 else path
        sub_req = Request(method, path, _parse_query(url.query), data, req.base_url, req.user)
        fault = self.faults.sub_fault(method, resource)
        if fault in ("500", "503"):
            return {
                "Status": int(fault),
                "Headers": {},
                "Content": {
                    "Errors": [
                        "The PI Data Archive did not answer in time."
                        if fault == "503"
                        else "An unexpected error occurred."
                    ]
                },
            }
        if fault == "webexception":
            return {
                "Status": 200,
                "Headers": {},
                "Content": {
                    "WebException": {
                        "StatusCode": 500,
                        "Errors": ["Error occurred during writing of the output stream."],
                    }
                },
            }
        resp = (
            self.handle(sub_req)
            if path.strip("/").lower() != "batch"
            else Response(400, {"Errors": ["Nested batch requests are not supported."]})
        )
        if (
            fault in ("value_errors", "hostile")
            and resp.status == 200
            and isinstance(resp.content, dict)
            and isinstance(resp.content.get("Items"), list)
        ):
            plan = self.faults.plan
            pick = draw(plan.seed, resource)
            if fault == "value_errors":
                resp.content["Items"] = with_value_error(resp.content["Items"], pick)
            else:
                kind = plan.hostile_values[int(draw(plan.seed, resource, "hostile") * len(plan.hostile_values))]
                self.faults.log.add(f"hostile:{kind}")
                resp.content["Items"] = with_hostile_value(resp.content["Items"], kind, pick)
        return {
            "Status": resp.status,
            "Headers": {"Content-Type": "application/json; charset=utf-8"},
            "Content": resp.content,
        }


# PI point query (PIPoint Search Query Syntax): filters "Attr:op value" (op "", "=", "<>", "<", "<=",
# ">", ">="), a bare value meaning Tag:=, AND (or whitespace) inside a condition, OR between conditions,
# values quoted or backslash-escaped, "*" and "?" wildcards, attribute aliases.
_QUERY_ALIASES = {"name": "tag", "description": "descriptor", "datatype": "pointtype", "pointclass": "ptclassname"}
_QUERY_ATTRIBUTES = {"tag", "descriptor", "pointtype", "pointid", "engunits", "digitalset", "ptclassname"}
_VALUE_FILTERS = {"value", "timestamp", "substituted", "questionable", "annotated", "isgood"}
_FILTER_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(<>|<=|>=|=|<|>)?")


@dataclass
class _Filter:
    attribute: str
    op: str
    text: str  # the value, unescaped
    pattern: re.Pattern  # the value as a case-insensitive wildcard pattern


def parse_point_query(query: str, search_option: str = "exactmatch") -> list[list[_Filter]]:
    """Parse into OR-ed lists of AND-ed filters; 400 on syntax PI would reject."""
    conditions: list[list[_Filter]] = [[]]
    pos, depth = 0, 0
    while pos < len(query):
        ch = query[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch == "(" and not conditions[-1]:
            depth, pos = depth + 1, pos + 1
            continue
        if ch == ")" and depth:
            depth, pos = depth - 1, pos + 1
            continue
        word = re.match(r"(AND|OR)(?=\s|\(|$)", query[pos:], re.I)
        if word:
            if word.group(1).upper() == "OR":
                if not conditions[-1]:
                    raise ApiError(400, f"Invalid query '{query}': OR without a condition.")
                conditions.append([])
            pos += word.end()
            continue
        m = _FILTER_NAME.match(query, pos)
        attribute, op = ("tag", "=") if not m else (m.group(1).lower(), m.group(2) or "=")
        if m:
            pos = m.end()
        attribute = _QUERY_ALIASES.get(attribute, attribute)
        if attribute in _VALUE_FILTERS:
            raise ApiError(400, f"Query filter '{m.group(1)}' on PI point values is not supported by the simulator.")
        if attribute not in _QUERY_ATTRIBUTES:
            raise ApiError(400, f"Invalid query '{query}': unknown PI point attribute '{m.group(1)}'.")
        text, rx, pos = _query_value(query, pos, depth)
        if attribute == "tag" and op == "=" and search_option != "exactmatch":
            rx = {"contains": f".*{rx}.*", "startswith": f"{rx}.*", "endswith": f".*{rx}"}[search_option]
        conditions[-1].append(_Filter(attribute, op, text, re.compile(rx, re.I | re.S)))
    if depth:
        raise ApiError(400, f"Invalid query '{query}': unbalanced parentheses.")
    if not conditions[-1] and len(conditions) > 1:
        raise ApiError(400, f"Invalid query '{query}': OR without a condition.")
    return conditions


def _wildcard(text: str) -> str:
    """PI wildcards as a regex: ``*`` any run, ``?`` one character, all else literal (``[`` too)."""
    return "".join({"*": ".*", "?": "."}.get(ch, re.escape(ch)) for ch in text)


def _query_value(query: str, pos: int, depth: int) -> tuple[str, str, int]:
    """(unescaped text, regex, end) of a StringValue: quoted, or escaped characters up to whitespace."""
    text, rx = [], []

    def put(ch: str, literal: bool) -> None:
        text.append(ch)
        rx.append(re.escape(ch) if literal else _wildcard(ch))

    if pos < len(query) and query[pos] in "'\"":
        quote, pos = query[pos], pos + 1
        while pos < len(query):
            ch, nxt = query[pos], query[pos + 1 : pos + 2]
            if (ch == "\\" and nxt and nxt in "'\"") or (ch == quote and nxt == quote):
                put(nxt, True)
                pos += 2
            elif ch == quote:
                return "".join(text), "".join(rx), pos + 1
            else:
                put(ch, False)
                pos += 1
        raise ApiError(400, f"Invalid query '{query}': unterminated quoted value.")
    while pos < len(query) and not query[pos].isspace() and not (query[pos] == ")" and depth):
        if query[pos] == "\\" and pos + 1 < len(query):
            put(query[pos + 1], True)
            pos += 2
        else:
            put(query[pos], False)
            pos += 1
    return "".join(text), "".join(rx), pos


def _matches(attributes: dict[str, object], condition: list[_Filter], name_and_descriptor: bool) -> bool:
    both = name_and_descriptor and not any(f.attribute == "descriptor" for f in condition)
    for f in condition:
        value = attributes[f.attribute]
        if f.op in ("=", "<>"):
            hit = f.pattern.fullmatch(str(value)) is not None
            if both and f.attribute == "tag":
                hit = hit or f.pattern.fullmatch(str(attributes["descriptor"])) is not None
            if hit != (f.op == "="):
                return False
            continue
        if isinstance(value, int):
            try:
                left, right = value, int(f.text)
            except ValueError:
                raise ApiError(400, f"The value '{f.text}' is not valid for {f.attribute}.") from None
        else:
            left, right = str(value).upper(), f.text.upper()
        if not {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[f.op]:
            return False
    return True


_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\*|\d+)\]|\['([^']+)'\]")


def _jsonpath(results: dict, path: str) -> list:
    """The subset of JSONPath the batch controller's clients use: ``$.id.Content.A[0].B[*].C``."""
    if not path.startswith("$"):
        raise ApiError(400, f"Invalid JSONPath '{path}'.")
    nodes = [results]
    pos = 1
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            raise ApiError(400, f"Invalid JSONPath '{path}'.")
        name, index = m.group(1) or m.group(3), m.group(2)
        nxt = []
        for node in nodes:
            if name is not None and isinstance(node, dict):
                key = next((k for k in node if k.lower() == name.lower()), None)
                if key is not None:
                    nxt.append(node[key])
            elif index == "*":
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
            elif index is not None and isinstance(node, list) and int(index) < len(node):
                nxt.append(node[int(index)])
        nodes = nxt
        pos = m.end()
    return nodes


def _fill(resource: str, values) -> str:
    """Substitute ``{0}``, ``{1}`` ...; a bad placeholder fails this sub-request only, not the batch."""
    try:
        return resource.format(*values)
    except (IndexError, KeyError, ValueError):
        raise ApiError(400, f"The Resource '{resource}' does not match its Parameters.") from None


def _combinations(selections: list[list]) -> list[tuple]:
    """RequestTemplate fan-out: one sub-request per token of the first multi-token parameter."""
    if not selections:
        return [()]
    count = max(len(s) for s in selections)
    return [tuple(s[i] if len(s) > 1 else (s[0] if s else "") for s in selections) for i in range(count)]


# ---- HTTP transport ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "Microsoft-HTTPAPI/2.0"
    api: PiWebApi
    auth: Authenticator | None
    latency_s: float = 0.0
    capacity: threading.BoundedSemaphore

    def log_message(self, fmt, *args):  # quiet: tests and `make run` read stdout
        pass

    def setup(self) -> None:
        """HTTPS: the TLS handshake, here in the connection's own thread. A client that refuses the
        certificate ends the connection quietly (it is the client's decision, not a server error)."""
        self.tls_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.settimeout(30)
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.tls_failed = True
        super().setup()

    def handle(self) -> None:
        if not self.tls_failed:
            super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        except (ssl.SSLError, OSError):
            pass

    def _send(self, status: int, content: object, headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(content)
        if "hostile" in self.api.faults.plan.sub_kinds and self.api.faults.plan.sub_rate:
            for kind, token in BARE_TOKENS.items():
                data = data.replace(b'"' + marker(kind).encode() + b'"', token)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            for one in value if isinstance(value, list) else [value]:  # e.g. one challenge per auth mode
                self.send_header(key, one)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): not our error
                self.close_connection = True

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.latency_s:  # network round trip of a remote server: costs time, not server capacity
            time.sleep(self.latency_s)
        with self.capacity:
            self._serve(body)

    def _serve(self, body: bytes) -> None:
        resp = self._respond(body)
        fault = self.api.faults.http_fault(self.command, self.path, body)
        if fault is None:
            self._send(resp.status, resp.content, resp.headers)
        else:
            self._send_faulty(fault, resp)

    def _respond(self, body: bytes) -> Response:
        url = urlsplit(self.path)
        path = unquote(url.path)
        header = self.headers.get("Authorization", "")
        if self.auth is not None and self.auth.bearer is not None and path.rstrip("/") == "/token":
            if self.command != "POST":
                return Response(405, {"error": "invalid_request"})
            return Response(*self.auth.bearer.issue(body, header))
        user, auth_headers = self.auth.check(header) if self.auth is not None else (None, {})
        if self.auth is not None and user is None:
            return Response(
                401,
                {"Errors": ["Authorization has been denied for this request."]},
                {"WWW-Authenticate": self.auth.challenges(header)},
            )
        resp = self._api_response(url, path, body, user)
        resp.headers.update(auth_headers)
        return resp

    def _api_response(self, url, path: str, body: bytes, user: str | None) -> Response:
        if path.lower().rstrip("/") != "/piwebapi" and not path.lower().startswith("/piwebapi/"):
            return Response(404, {"Errors": ["The specified resource was not found."]})
        if (
            self.command in ("POST", "PUT", "PATCH", "DELETE")
            and self.api.require_csrf_header
            and "X-Requested-With" not in self.headers
        ):
            return Response(
                403,
                {
                    "Errors": [
                        "The request requires the 'X-Requested-With' header "
                        "(cross-site request forgery defense is enabled)."
                    ]
                },
            )
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        req = Request(
            self.command, url.path[len("/piwebapi") :], _parse_query(url.query), body, f"{scheme}://{host}", user
        )
        try:
            return self.api.handle(req)
        except Exception as exc:  # noqa: BLE001 - a server answers 500, it does not die
            return Response(500, {"Errors": [f"Internal server error: {type(exc).__name__}"]})

    def _send_raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_faulty(self, fault: str, resp: Response) -> None:
        """Answer as a failing server, proxy or network would (see ``pi_simulator.faults``)."""
        plan = self.api.faults.plan
        if fault == "500":
            self._send(500, {"Errors": ["An unexpected error occurred on the server."]})
        elif fault in ("502", "503"):
            self._send_raw(int(fault), PROXY_PAGE, "text/html")
        elif fault == "429":
            self._send(429, {"Errors": ["Too many requests."]}, {"Retry-After": str(plan.retry_after_s)})
        elif fault == "slow":
            time.sleep(plan.slow_s)
            self._send(resp.status, resp.content, resp.headers)
        elif fault == "reset":
            data = orjson.dumps(resp.content)
            self._send_raw(
                resp.status, data[: len(data) // 2], "application/json; charset=utf-8", resp.headers, length=len(data)
            )
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif fault == "truncated":
            data = orjson.dumps(resp.content)
            self._send_raw(200, data[: max(1, len(data) * 2 // 3)], "application/json; charset=utf-8")
        elif fault == "malformed":
            self._send_raw(200, PROXY_PAGE, "text/html")
        elif fault == "webexception":
            self._send(
                200,
                {
                    "WebException": {
                        "StatusCode": 500,
                        "Errors": ["Error occurred during writing of the output stream."],
                    }
                },
            )
        else:  # pragma: no cover - FaultPlan validates its kinds
            raise ValueError(fault)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class SimulatorServer:
    """Run the simulator in a background thread (tests, ``make run``) or in the foreground (CLI)."""

    def __init__(
        self,
        archive: Archive,
        host: str = "127.0.0.1",
        port: int = 0,
        basic_auth: tuple[str, str] | None = None,
        latency_ms: float = 0.0,
        max_concurrency: int = 64,
        tls: TestPKI | None = None,
        bearer: TokenIssuer | None = None,
        kerberos: KerberosAcceptor | None = None,
        **api_kwargs,
    ):
        """``latency_ms`` is added to every HTTP request (a remote server's round trip);
        ``max_concurrency`` caps the requests served at once (a server's worker threads); ``tls`` serves
        HTTPS with that PKI's server certificate (``pi_simulator.tls``); ``basic_auth``, ``bearer`` and
        ``kerberos`` accept those credentials, any of them (``pi_simulator.auth``; the token endpoint is
        ``/token``)."""
        self.api = PiWebApi(archive, **api_kwargs)
        handler = type(
            "Handler",
            (_Handler,),
            {
                "api": self.api,
                "latency_s": latency_ms / 1000.0,
                "auth": Authenticator(basic_auth, bearer, kerberos) if basic_auth or bearer or kerberos else None,
                "capacity": threading.BoundedSemaphore(max(1, max_concurrency)),
            },
        )
        self.auth: Authenticator | None = handler.auth  # what it accepted (tests)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.tls = tls
        if tls is not None:  # handshakes happen in the handler threads, so a bad client cannot stall the server
            self.httpd.socket = tls.server_context().wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}/piwebapi"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint (with ``bearer``)."""
        return self.url.rsplit("/piwebapi", 1)[0] + "/token"

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Swap the fault plan (tests change it between pipeline updates); ``None`` stops injecting."""
        self.api.faults.plan = plan or FaultPlan()

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="pi-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
