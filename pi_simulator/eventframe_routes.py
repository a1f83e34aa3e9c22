"""Event frame routes of the simulated PI Web API: the search of a database's (or an element's) frames
with ``searchMode``, time range, template, category, referenced-element, severity and acknowledgement
filters and paging (research/piwebapi.md section 7), one frame, its attributes and their values.
Answers are as of the server's clock: a frame appears when it starts, shows the far-future end time
while in progress, and changes when it closes, is acknowledged or edited.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from . import pitime, webid
from .af import derives_from
from .eventframes import EF_TEMPLATES, EventFrame, EventFrames, EventFrameState
from .render import format_ticks
from .truth import to_ticks

if TYPE_CHECKING:
    from .assets import AssetRoutes
    from .server import Request

#: the end time of a frame in progress (AF's "no end": 31 Dec 9999)
FAR_FUTURE = "9999-12-31T23:59:59Z"
NO_ACKNOWLEDGEMENT = "1970-01-01T00:00:00Z"
MODES = ("overlapped", "startinclusive", "endinclusive", "inclusive", "inprogress")
SORT_FIELDS = {
    "name": lambda s: s.frame.name.upper(),
    "starttime": lambda s: s.frame.start,
    "endtime": lambda s: s.frame.end if not s.in_progress else 2**63,
}


class EventFrameRoutes:
    def __init__(self, assets: AssetRoutes):
        self.assets = assets
        self.model = assets.model
        self.frames = EventFrames(assets.model)

    # ---- identity ------------------------------------------------------------------------------
    def _path(self, frame: EventFrame) -> str:
        return f"{self.model.server_name}\\{self.model.database_name}\\EventFrames[{frame.name}]"

    def frame_webid(self, frame: EventFrame) -> str:
        return webid.af_webid(webid.EVENT_FRAME, (self.model.server_id, frame.id), self._path(frame))

    def attribute_id(self, frame: EventFrame, name: str) -> uuid.UUID:
        return self.model._guid("eventframe attribute", frame.id, name)

    def attribute_webid(self, frame: EventFrame, name: str) -> str:
        return webid.af_webid(
            webid.ATTRIBUTE,
            (self.model.server_id, frame.id, self.attribute_id(frame, name)),
            f"{self._path(frame)}|{name}",
            owner="F",
        )

    def frame(self, text: str) -> EventFrameState:
        try:
            decoded = webid.decode_af(text)
        except ValueError:
            raise self.assets._error(400, f"Unknown or invalid WebID format: '{text}'.") from None
        if decoded.marker != webid.EVENT_FRAME or decoded.kind == webid.PATH_ONLY:
            raise self.assets._error(400, f"The WebID '{text}' does not identify an Event Frame by its ID.")
        frame = self.frames.find(decoded.guids[-1]) if decoded.guids[0] == self.model.server_id else None
        state = frame.as_of(self._now()) if frame is not None else None
        if state is None:
            raise self.assets._not_found("Event Frame", text)
        return state

    def attribute(self, decoded: webid.DecodedAFWebId, text: str) -> tuple[EventFrameState, str]:
        """An event frame attribute's frame and name, from its (owner ``F``) WebID."""
        frame = self.frames.find(decoded.guids[1]) if len(decoded.guids) == 3 else None
        state = frame.as_of(self._now()) if frame is not None else None
        name = (
            next(
                (
                    n
                    for n, _, _ in EF_TEMPLATES[frame.template].attributes
                    if self.attribute_id(frame, n) == decoded.guids[2]
                ),
                None,
            )
            if state
            else None
        )
        if name is None:
            raise self.assets._not_found("Attribute", text)
        return state, name

    def _now(self) -> int:
        return to_ticks(self.assets.api.clock())

    # ---- JSON shapes ---------------------------------------------------------------------------
    def frame_json(self, req: Request, state: EventFrameState) -> dict:
        f = state.frame
        wid = self.frame_webid(f)
        template = EF_TEMPLATES[f.template]
        asset_state = self.assets._state()
        refs = [self.assets.element_webid(asset_state, e) for e in f.referenced if e in asset_state.elements]

        def link(suffix: str) -> str:
            return self.assets._url(req, f"eventframes/{wid}/{suffix}")

        links = {
            "Self": self.assets._url(req, f"eventframes/{wid}"),
            "Attributes": link("attributes"),
            "EventFrames": link("eventframes"),
            "ReferencedElements": link("referencedelements"),
            "Database": self.assets._url(req, f"assetdatabases/{self.assets.database_webid}"),
            "Categories": link("categories"),
            "Annotations": link("annotations"),
            "Value": self.assets._url(req, f"streamsets/{wid}/value"),
        }
        if refs:
            links["PrimaryReferencedElement"] = self.assets._url(req, f"elements/{refs[0]}")
        acknowledged = template.can_be_acknowledged and state.is_acknowledged
        return {
            "WebId": wid,
            "Id": str(f.id),
            "Name": f.name,
            "Description": "",
            "Path": "\\\\" + self._path(f),
            "TemplateName": f.template,
            "HasChildren": False,
            "CategoryNames": list(template.categories),
            "ExtendedProperties": {},
            "StartTime": format_ticks(f.start),
            "EndTime": FAR_FUTURE if state.in_progress else format_ticks(f.end),
            "Severity": f.severity,
            "AcknowledgedBy": f.ack_by if acknowledged else "",
            "AcknowledgedDate": format_ticks(f.ack_at) if acknowledged else NO_ACKNOWLEDGEMENT,
            "CanBeAcknowledged": template.can_be_acknowledged,
            "IsAcknowledged": acknowledged,
            "IsAnnotated": False,
            "IsLocked": False,
            "AreValuesCaptured": not state.in_progress,
            "RefElementWebIds": refs,
            "Security": {},
            "Links": links,
        }

    def attribute_json(self, req: Request, state: EventFrameState, name: str) -> dict:
        f = state.frame
        _, kind, units = next(a for a in EF_TEMPLATES[f.template].attributes if a[0] == name)
        wid = self.attribute_webid(f, name)
        return {
            "WebId": wid,
            "Id": str(self.attribute_id(f, name)),
            "Name": name,
            "Description": "",
            "Path": f"\\\\{self._path(f)}|{name}",
            "Type": kind,
            "TypeQualifier": "",
            "DefaultUnitsName": "",
            "DefaultUnitsNameAbbreviation": units,
            "DisplayDigits": -5,
            "DataReferencePlugIn": "",
            "ConfigString": "",
            "IsConfigurationItem": False,
            "IsExcluded": False,
            "IsHidden": False,
            "IsManualDataEntry": False,
            "HasChildren": False,
            "CategoryNames": [],
            "Step": kind != "Double",
            "TraitName": "",
            "Span": 0.0,
            "Zero": 0.0,
            "Links": {
                "Self": self.assets._url(req, f"attributes/{wid}"),
                "EventFrame": self.assets._url(req, f"eventframes/{self.frame_webid(f)}"),
                "Value": self.assets._url(req, f"streams/{wid}/value"),
            },
        }

    def value(self, state: EventFrameState, name: str) -> dict:
        _, _, units = next(a for a in EF_TEMPLATES[state.frame.template].attributes if a[0] == name)
        value = state.values.get(name)
        good = value is not None
        if not good:  # not captured yet: AF shows "No Data"
            value = {"Name": "No Data", "Value": 248, "IsSystem": True}
        return {
            "Timestamp": format_ticks(state.frame.start),
            "Value": value,
            "UnitsAbbreviation": units,
            "Good": good,
            "Questionable": False,
            "Substituted": False,
            "Annotated": False,
        }

    def values(self, req: Request, text: str) -> dict:
        """``streamsets/{event frame WebID}/value``."""
        state = self.frame(text)
        items = []
        for name, _, _ in sorted(EF_TEMPLATES[state.frame.template].attributes, key=lambda a: a[0].upper()):
            wid = self.attribute_webid(state.frame, name)
            items.append(
                {
                    "WebId": wid,
                    "Name": name,
                    "Path": f"\\\\{self._path(state.frame)}|{name}",
                    "Links": {"Source": self.assets._url(req, f"attributes/{wid}")},
                    "Value": self.value(state, name),
                }
            )
        return {"Links": {}, "Items": items}

    # ---- the search ----------------------------------------------------------------------------
    def search(self, req: Request, element: uuid.UUID | None = None) -> dict:
        assets = self.assets
        error = assets._error
        now_dt = assets.api.clock()
        now = to_ticks(now_dt)
        mode = (req.arg("searchMode") or "Overlapped").lower()
        if mode not in MODES:
            if mode in (
                "backwardfromstarttime",
                "forwardfromstarttime",
                "backwardfromendtime",
                "forwardfromendtime",
                "none",
            ):
                raise error(400, f"searchMode '{req.arg('searchMode')}' is not supported by the simulator.")
            raise error(400, f"The value '{req.arg('searchMode')}' is not valid for searchMode.")
        try:
            lo = pitime.parse_ticks(req.arg("startTime") or "*-8h", now_dt, req.arg("timeZone"))
            hi = pitime.parse_ticks(req.arg("endTime") or "*", now_dt, req.arg("timeZone"))
        except pitime.TimeParseError as exc:
            raise error(400, str(exc)) from None
        template = (req.arg("templateName") or "").upper()
        templates = tuple(n for n in EF_TEMPLATES if not template or n.upper() == template)
        name = assets._matcher(req, "nameFilter")
        category = (req.arg("categoryName") or "").upper()
        ref_name = assets._matcher(req, "referencedElementNameFilter")
        ref_template = req.arg("referencedElementTemplateName")
        severities = {s.upper() for s in req.args("severity")}
        can_ack = req.arg("canBeAcknowledged")
        is_ack = req.arg("isAcknowledged")
        if can_ack is not None:
            can_ack = assets._bool(req, "canBeAcknowledged", False)
        if is_ack is not None:
            is_ack = assets._bool(req, "isAcknowledged", False)
        asset_state = assets._state()
        chosen: list[EventFrameState] = []
        for frame in self.frames.frames(lo, min(hi, now), templates):
            state = frame.as_of(now)
            if state is None or not _in_range(state, mode, lo, hi):
                continue
            t = EF_TEMPLATES[frame.template]
            refs = [asset_state.elements[e] for e in frame.referenced if e in asset_state.elements]
            acknowledged = t.can_be_acknowledged and state.is_acknowledged
            if (
                name(frame.name)
                and (not category or category in (c.upper() for c in t.categories))
                and (element is None or element in frame.referenced)
                and (req.arg("referencedElementNameFilter") is None or any(ref_name(e.name) for e in refs))
                and (not ref_template or any(derives_from(e.template, ref_template) for e in refs))
                and (not severities or frame.severity.upper() in severities)
                and (can_ack is None or t.can_be_acknowledged == can_ack)
                and (is_ack is None or acknowledged == is_ack)
            ):
                chosen.append(state)
        field = (req.arg("sortField") or "Name").lower()
        if field not in SORT_FIELDS:
            raise error(400, f"The value '{req.arg('sortField')}' is not valid for sortField.")
        order = (req.arg("sortOrder") or "Ascending").lower()
        if order not in ("ascending", "descending"):
            raise error(400, f"The value '{req.arg('sortOrder')}' is not valid for sortOrder.")
        chosen.sort(key=lambda s: (SORT_FIELDS[field](s), s.frame.id.int), reverse=order == "descending")
        start = assets._int(req, "startIndex", 0)
        count = assets._int(req, "maxCount", 1000)
        if count < 0 or start < 0:
            raise error(400, "Parameters 'startIndex' and 'maxCount' must not be negative.")
        return {"Links": {}, "Items": [self.frame_json(req, s) for s in chosen[start : start + count]]}

    # ---- routing -------------------------------------------------------------------------------
    def route(self, req: Request, parts: list[str], lower: list[str]) -> object:
        state = self.frame(parts[1])
        if len(parts) == 2:
            return self.frame_json(req, state)
        if lower[2:] == ["attributes"]:
            names = [n for n, _, _ in EF_TEMPLATES[state.frame.template].attributes]
            rx = self.assets._matcher(req, "nameFilter")
            return {
                "Links": {},
                "Items": [self.attribute_json(req, state, n) for n in sorted(names, key=str.upper) if rx(n)],
            }
        if lower[2:] == ["referencedelements"]:
            asset_state = self.assets._state()
            return {
                "Links": {},
                "Items": [
                    self.assets._element(req, asset_state, e)
                    for e in state.frame.referenced
                    if e in asset_state.elements
                ],
            }
        if lower[2:] == ["eventframes"]:
            return {"Links": {}, "Items": []}
        raise self.assets._error(404, "The specified resource was not found.")


def _in_range(state: EventFrameState, mode: str, lo: int, hi: int) -> bool:
    start, end = state.frame.start, state.end
    if mode == "overlapped":
        return start <= hi and (end is None or end >= lo)
    if mode == "startinclusive":
        return lo <= start <= hi
    if mode == "endinclusive":
        return end is not None and lo <= end <= hi
    if mode == "inclusive":
        return lo <= start and end is not None and end <= hi
    return lo <= start <= hi and end is None  # inprogress
