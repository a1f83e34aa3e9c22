"""Event frame routes of the simulated PI Web API: the search of a database's (or an element's) frames
with ``searchMode``, time range, template, category, referenced-element, severity and acknowledgement
filters and paging (the PI Web API reference: EventFrame GetEventFrames), one frame, its attributes and their values.
Answers are as of the server's clock: a frame appears when it starts, shows the far-future end time
while in progress, and changes when it closes, is acknowledged or edited.
"""

from __future__ import annotations

import uuid

from . import pitime, webid
from .af import derives_from
from .asset_routes import AssetRoutes
from .context import ServerContext
from .eventframes import EF_TEMPLATES, EventFrame, EventFrames, EventFrameState
from .protocol import ApiError, Request, bool_arg, name_matcher, not_found, paging, sort_order
from .render import format_ticks
from .routing import Route
from .truth import to_ticks

#: the end time of a frame in progress (AF's "no end": 31 Dec 9999)
FAR_FUTURE = "9999-12-31T23:59:59Z"
NO_ACKNOWLEDGEMENT = "1970-01-01T00:00:00Z"
MODES = ("overlapped", "startinclusive", "endinclusive", "inclusive", "inprogress")
#: the orders a search pages in (``EventFrames.ordered`` generates frames in them; closed frames by end
#: time, then those in progress)
SORT_FIELDS = ("name", "starttime", "endtime")


class EventFrameRoutes:
    def __init__(self, ctx: ServerContext, assets: AssetRoutes):
        """``assets``: the AF routes, for the WebIDs and JSON of the elements frames reference."""
        self.ctx = ctx
        self.assets = assets
        self.model = assets.model
        self.frames = EventFrames(assets.model)

    # ---- identity ------------------------------------------------------------------------------
    def _path(self, frame: EventFrame) -> str:
        return f"{self.model.server_name}\\{self.model.database_name}\\EventFrames[{frame.name}]"

    def frame_webid(self, frame: EventFrame) -> str:
        return webid.af_webid(webid.EVENT_FRAME, (self.model.server_id, frame.id), self._path(frame))

    def attribute_id(self, frame: EventFrame, name: str) -> uuid.UUID:
        return self.model.guid("eventframe attribute", frame.id, name)

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
            raise ApiError(400, f"Unknown or invalid WebID format: '{text}'.") from None
        if decoded.marker != webid.EVENT_FRAME or decoded.kind == webid.PATH_ONLY:
            raise ApiError(400, f"The WebID '{text}' does not identify an Event Frame by its ID.")
        frame = self.frames.find(decoded.guids[-1]) if decoded.guids[0] == self.model.server_id else None
        state = frame.as_of(self._now()) if frame is not None else None
        if state is None:
            raise not_found("Event Frame", text)
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
            raise not_found("Attribute", text)
        return state, name

    def _now(self) -> int:
        return self.ctx.now()

    # ---- JSON shapes ---------------------------------------------------------------------------
    def frame_json(self, req: Request, state: EventFrameState) -> dict:
        f = state.frame
        wid = self.frame_webid(f)
        template = EF_TEMPLATES[f.template]
        asset_state = self.model.state(self._now())
        refs = [self.assets.element_webid(asset_state, e) for e in f.referenced if e in asset_state.elements]

        def link(suffix: str) -> str:
            return self.ctx.url(req, f"eventframes/{wid}/{suffix}")

        links = {
            "Self": self.ctx.url(req, f"eventframes/{wid}"),
            "Attributes": link("attributes"),
            "EventFrames": link("eventframes"),
            "ReferencedElements": link("referencedelements"),
            "Database": self.ctx.url(req, f"assetdatabases/{self.assets.database_webid}"),
            "Categories": link("categories"),
            "Annotations": link("annotations"),
            "Value": self.ctx.url(req, f"streamsets/{wid}/value"),
        }
        if refs:
            links["PrimaryReferencedElement"] = self.ctx.url(req, f"elements/{refs[0]}")
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
                "Self": self.ctx.url(req, f"attributes/{wid}"),
                "EventFrame": self.ctx.url(req, f"eventframes/{self.frame_webid(f)}"),
                "Value": self.ctx.url(req, f"streams/{wid}/value"),
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
                    "Links": {"Source": self.ctx.url(req, f"attributes/{wid}")},
                    "Value": self.value(state, name),
                }
            )
        return {"Links": {}, "Items": items}

    # ---- the search ----------------------------------------------------------------------------
    def search(self, req: Request, element: uuid.UUID | None = None) -> dict:
        now_dt = self.ctx.clock()
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
                raise ApiError(400, f"searchMode '{req.arg('searchMode')}' is not supported by the simulator.")
            raise ApiError(400, f"The value '{req.arg('searchMode')}' is not valid for searchMode.")
        try:
            lo = pitime.parse_ticks(req.arg("startTime") or "*-8h", now_dt, req.arg("timeZone"))
            hi = pitime.parse_ticks(req.arg("endTime") or "*", now_dt, req.arg("timeZone"))
        except pitime.TimeParseError as exc:
            raise ApiError(400, str(exc)) from None
        template = (req.arg("templateName") or "").upper()
        templates = tuple(n for n in EF_TEMPLATES if not template or n.upper() == template)
        name = name_matcher(req, "nameFilter")
        category = (req.arg("categoryName") or "").upper()
        ref_name = name_matcher(req, "referencedElementNameFilter")
        ref_template = req.arg("referencedElementTemplateName")
        severities = {s.upper() for s in req.args("severity")}
        can_ack = req.arg("canBeAcknowledged")
        is_ack = req.arg("isAcknowledged")
        if can_ack is not None:
            can_ack = bool_arg(req, "canBeAcknowledged", False)
        if is_ack is not None:
            is_ack = bool_arg(req, "isAcknowledged", False)
        asset_state = self.model.state(now)
        field, descending = sort_order(req, SORT_FIELDS)
        start, count = paging(req)
        page: list[EventFrameState] = []
        skipped = 0
        for frame in self.frames.ordered(lo, min(hi, now), field, descending, templates, element, now):
            if len(page) >= count:
                break
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
                if skipped < start:
                    skipped += 1
                else:
                    page.append(state)
        return {"Links": {}, "Items": [self.frame_json(req, s) for s in page]}

    # ---- routes --------------------------------------------------------------------------------
    def database_frames(self, req: Request, web_id: str) -> dict:
        """``assetdatabases/{webId}/eventframes``: the search of the database's frames."""
        self.assets.check_database(web_id)
        return self.search(req)

    def element_frames(self, req: Request, web_id: str) -> dict:
        """``elements/{webId}/eventframes``: the search of the frames referencing one element."""
        return self.search(req, self.assets.element_id(self.model.state(self._now()), web_id))

    def event_frame(self, req: Request, web_id: str) -> dict:
        return self.frame_json(req, self.frame(web_id))

    def frame_attributes(self, req: Request, web_id: str) -> dict:
        state = self.frame(web_id)
        names = [n for n, _, _ in EF_TEMPLATES[state.frame.template].attributes]
        rx = name_matcher(req, "nameFilter")
        return {
            "Links": {},
            "Items": [self.attribute_json(req, state, n) for n in sorted(names, key=str.upper) if rx(n)],
        }

    def referenced_elements(self, req: Request, web_id: str) -> dict:
        state = self.frame(web_id)
        asset_state = self.model.state(self._now())
        return {
            "Links": {},
            "Items": [
                self.assets.element_json(req, asset_state, e)
                for e in state.frame.referenced
                if e in asset_state.elements
            ],
        }

    def child_frames(self, req: Request, web_id: str) -> dict:
        """``eventframes/{webId}/eventframes``: the simulated frames have no children."""
        self.frame(web_id)
        return {"Links": {}, "Items": []}

    def frame_attribute(self, req: Request, web_id: str) -> dict:
        """``attributes/{webId}`` of an event frame's attribute."""
        return self.attribute_json(req, *self.attribute(webid.decode_af(web_id), web_id))

    def attribute_value(self, req: Request, web_id: str) -> dict:
        """``attributes/{webId}/value`` and ``streams/{webId}/value`` (or ``end``) of a frame's attribute."""
        return self.value(*self.attribute(webid.decode_af(web_id), web_id))

    def streamset_value(self, req: Request, web_id: str) -> dict:
        return self.values(req, web_id)


def _event_frame(text: str) -> bool:
    return text[2:4] == webid.EVENT_FRAME


ROUTES = (
    Route("GET", "assetdatabases/{web_id}/eventframes", EventFrameRoutes.database_frames),
    Route("GET", "elements/{web_id}/eventframes", EventFrameRoutes.element_frames),
    Route("GET", "eventframes/{web_id}", EventFrameRoutes.event_frame),
    Route("GET", "eventframes/{web_id}/attributes", EventFrameRoutes.frame_attributes),
    Route("GET", "eventframes/{web_id}/referencedelements", EventFrameRoutes.referenced_elements),
    Route("GET", "eventframes/{web_id}/eventframes", EventFrameRoutes.child_frames),
    Route("GET", "attributes/{web_id}", EventFrameRoutes.frame_attribute, when=webid.is_event_frame_attribute),
    Route("GET", "attributes/{web_id}/value", EventFrameRoutes.attribute_value, when=webid.is_event_frame_attribute),
    Route("GET", "streams/{web_id}/value", EventFrameRoutes.attribute_value, when=webid.is_event_frame_attribute),
    Route("GET", "streams/{web_id}/end", EventFrameRoutes.attribute_value, when=webid.is_event_frame_attribute),
    Route("GET", "streamsets/{web_id}/value", EventFrameRoutes.streamset_value, when=_event_frame),
)


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
