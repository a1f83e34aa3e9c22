"""The Asset Framework part of the simulated PI Web API: asset servers and databases, elements and
their attributes, with the search parameters and ``startIndex``/``maxCount`` paging of the real API
(research/piwebapi.md section 6). Answers are as of the server's clock (:meth:`AssetModel.state`).

Identity follows AF: an element or attribute is its GUID. Full WebIDs also carry the path at the time
they were issued, so after a rename the old WebID still resolves (by GUID) while a PathOnly WebID built
from the old path does not.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING

from . import webid
from .af import AFState, AssetModel, Attribute, derives_from
from .render import format_ticks
from .truth import to_ticks

if TYPE_CHECKING:
    from .server import PiWebApi, Request

ROUTES = ("assetservers", "assetdatabases", "elements", "attributes", "elementtemplates", "eventframes")
_UNITS_NAMES = {
    "m3/h": "cubic meter per hour",
    "kPa": "kilopascal",
    "mm/s": "millimeter per second",
    "%": "percent",
    "°C": "degree Celsius",
    "count": "count",
    "t/d": "tonne per day",
    "m3": "cubic meter",
    "units/h": "units per hour",
}


class AssetRoutes:
    def __init__(self, api: PiWebApi, model: AssetModel):
        from .server import ApiError, _bool_arg, _int_arg, _wildcard

        self.api, self.model = api, model
        self._error, self._bool, self._int, self._wildcard = ApiError, _bool_arg, _int_arg, _wildcard
        self.server_webid = webid.asset_server_webid(model.server_id, model.server_name)
        self.database_webid = webid.af_webid(
            webid.DATABASE, (model.server_id, model.database_id), f"{model.server_name}\\{model.database_name}"
        )
        self._eventframes = None

    @property
    def eventframes(self):
        """The event frame routes, built on first use."""
        if self._eventframes is None:
            from .eventframe_routes import EventFrameRoutes

            self._eventframes = EventFrameRoutes(self)
        return self._eventframes

    # ---- helpers -------------------------------------------------------------------------------
    def _state(self) -> AFState:
        return self.model.state(to_ticks(self.api.clock()))

    def _url(self, req: Request, path: str) -> str:
        return self.api._url(req, path)

    def _not_found(self, what: str, text: str):
        return self._error(404, f"The {what} with the WebID '{text}' was not found.")

    def element_webid(self, state: AFState, element: uuid.UUID) -> str:
        return webid.af_webid(
            webid.ELEMENT,
            (self.model.server_id, element),
            f"{self.model.server_name}\\{self.model.database_name}\\{state.paths[element]}",
        )

    def template_webid(self, name: str) -> str:
        return webid.af_webid(
            webid.ELEMENT_TEMPLATE,
            (self.model.server_id, self.model.template_id(name)),
            f"{self.model.server_name}\\{self.model.database_name}\\ElementTemplates[{name}]",
        )

    def attribute_webid(self, state: AFState, attribute: Attribute) -> str:
        return webid.af_webid(
            webid.ATTRIBUTE,
            (self.model.server_id, attribute.element, attribute.id),
            f"{self.model.server_name}\\{self.model.database_name}\\{state.paths[attribute.element]}|{attribute.name}",
            owner="E",
        )

    def _decode(self, text: str, marker: str, what: str) -> webid.DecodedAFWebId:
        try:
            decoded = webid.decode_af(text)
        except ValueError:
            raise self._error(400, f"Unknown or invalid WebID format: '{text}'.") from None
        if decoded.marker != marker:
            raise self._error(400, f"The WebID '{text}' does not identify an {what}.")
        return decoded

    def _prefix(self) -> str:
        return f"{self.model.server_name}\\{self.model.database_name}\\".upper()

    def _element_by_path(self, state: AFState, path: str) -> uuid.UUID | None:
        wanted = path.lstrip("\\").upper()
        if not wanted.startswith(self._prefix()):
            return None
        relative = wanted[len(self._prefix()) :]
        return next((e for e, p in state.paths.items() if p.upper() == relative), None)

    def _element_id(self, state: AFState, text: str) -> uuid.UUID:
        decoded = self._decode(text, webid.ELEMENT, "Element")
        if decoded.kind == webid.PATH_ONLY:
            found = self._element_by_path(state, decoded.path or "")
        else:
            found = decoded.guids[-1] if decoded.guids[0] == self.model.server_id else None
        if found is None or found not in state.elements:
            raise self._not_found("Element", text)
        return found

    def _attribute(self, state: AFState, text: str) -> Attribute:
        decoded = self._decode(text, webid.ATTRIBUTE, "Attribute")
        found = None
        if decoded.kind == webid.PATH_ONLY:
            element_path, _, name = (decoded.path or "").rpartition("|")
            owner = self._element_by_path(state, element_path)
            if owner is not None:
                found = next((a for a in state.attributes_of(owner) if a.name.upper() == name.upper()), None)
        elif decoded.guids[0] == self.model.server_id:
            found = state.attributes.get(decoded.guids[-1])
        if found is None:
            raise self._not_found("Attribute", text)
        return found

    def _page(self, req: Request, items: list, key=lambda x: x) -> list:
        """``sortField``/``sortOrder`` (Name only), then ``startIndex``/``maxCount`` (default 1000)."""
        start = self._int(req, "startIndex", 0)
        count = self._int(req, "maxCount", 1000)
        if count < 0 or start < 0:
            raise self._error(400, "Parameters 'startIndex' and 'maxCount' must not be negative.")
        field = (req.arg("sortField") or "Name").lower()
        if field not in ("name", "id"):
            raise self._error(400, f"The value '{req.arg('sortField')}' is not valid for sortField.")
        order = (req.arg("sortOrder") or "Ascending").lower()
        if order not in ("ascending", "descending"):
            raise self._error(400, f"The value '{req.arg('sortOrder')}' is not valid for sortOrder.")
        items = sorted(items, key=key, reverse=order == "descending")
        return items[start : start + count]

    def _matcher(self, req: Request, name: str):
        pattern = req.arg(name)
        if not pattern:
            return lambda text: True
        rx = re.compile(self._wildcard(pattern), re.I | re.S)
        return lambda text: rx.fullmatch(text or "") is not None

    # ---- JSON shapes ---------------------------------------------------------------------------
    def _asset_server(self, req: Request) -> dict:
        wid = self.server_webid
        return {
            "WebId": wid,
            "Id": str(self.model.server_id),
            "Name": self.model.server_name,
            "Description": "",
            "Path": f"\\\\{self.model.server_name}",
            "IsConnected": True,
            "ServerVersion": "2.10.11.2717",
            "ServerTime": format_ticks(to_ticks(self.api.clock())),
            "ExtendedProperties": {},
            "Links": {
                "Self": self._url(req, f"assetservers/{wid}"),
                "Databases": self._url(req, f"assetservers/{wid}/assetdatabases"),
            },
        }

    def _database(self, req: Request) -> dict:
        wid = self.database_webid
        return {
            "WebId": wid,
            "Id": str(self.model.database_id),
            "Name": self.model.database_name,
            "Description": "Operations model of the simulated sites",
            "Path": f"\\\\{self.model.server_name}\\{self.model.database_name}",
            "ExtendedProperties": {},
            "Links": {
                "Self": self._url(req, f"assetdatabases/{wid}"),
                "Elements": self._url(req, f"assetdatabases/{wid}/elements"),
                "ElementTemplates": self._url(req, f"assetdatabases/{wid}/elementtemplates"),
                "EventFrames": self._url(req, f"assetdatabases/{wid}/eventframes"),
                "AssetServer": self._url(req, f"assetservers/{self.server_webid}"),
            },
        }

    def _element(self, req: Request, state: AFState, element: uuid.UUID) -> dict:
        e = state.elements[element]
        wid = self.element_webid(state, element)

        def link(suffix: str) -> str:
            return self._url(req, f"elements/{wid}/{suffix}")

        links = {
            "Self": self._url(req, f"elements/{wid}"),
            "Attributes": link("attributes"),
            "Elements": link("elements"),
            "Database": self._url(req, f"assetdatabases/{self.database_webid}"),
            "Template": self._url(req, f"elementtemplates/{self.template_webid(e.template)}"),
            "Categories": link("categories"),
            "EventFrames": link("eventframes"),
            "RecordedData": self._url(req, f"streamsets/{wid}/recorded"),
            "Value": self._url(req, f"streamsets/{wid}/value"),
        }
        if e.parent is not None:
            links["Parent"] = self._url(req, f"elements/{self.element_webid(state, e.parent)}")
        return {
            "WebId": wid,
            "Id": str(e.id),
            "Name": e.name,
            "Description": e.description,
            "Path": self.model.full_path(state.paths[element]),
            "TemplateName": e.template,
            "HasChildren": bool(state.children.get(element)),
            "CategoryNames": list(e.categories),
            "ExtendedProperties": {},
            "Links": links,
        }

    def _attribute_json(self, req: Request, state: AFState, a: Attribute) -> dict:
        wid = self.attribute_webid(state, a)
        t = a.template
        links = {
            "Self": self._url(req, f"attributes/{wid}"),
            "Element": self._url(req, f"elements/{self.element_webid(state, a.element)}"),
            "Value": self._url(req, f"streams/{wid}/value"),
        }
        config = ""
        if t.data_reference:
            config = f"\\\\{self.api.archive.server_name}\\{a.tag}"
            point = self.api.archive.by_name.get((a.tag or "").upper())
            if point is not None:
                links["Point"] = self._url(req, f"points/{self.api.point_webid(point)}")
            links["RecordedData"] = self._url(req, f"streams/{wid}/recorded")
        return {
            "WebId": wid,
            "Id": str(a.id),
            "Name": a.name,
            "Description": "",
            "Path": self.model.full_path(f"{state.paths[a.element]}|{a.name}"),
            "Type": t.type,
            "TypeQualifier": "",
            "DefaultUnitsName": _UNITS_NAMES.get(t.units, ""),
            "DefaultUnitsNameAbbreviation": t.units,
            "DisplayDigits": -5,
            "DataReferencePlugIn": t.data_reference,
            "ConfigString": config,
            "IsConfigurationItem": not t.data_reference,
            "IsExcluded": False,
            "IsHidden": False,
            "IsManualDataEntry": False,
            "HasChildren": False,
            "CategoryNames": list(t.categories),
            "Step": t.type in ("String", "EnumerationValue", "Int32"),
            "TraitName": "",
            "Span": 100.0,
            "Zero": 0.0,
            "Links": links,
        }

    def static_value(self, a: Attribute) -> dict:
        value = a.value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(a.value, dt.datetime) else a.value
        return {
            "Timestamp": "1970-01-01T00:00:00Z",
            "Value": value,
            "UnitsAbbreviation": a.template.units,
            "Good": True,
            "Questionable": False,
            "Substituted": False,
            "Annotated": False,
        }

    def attribute_value(self, a: Attribute) -> dict:
        """A static attribute's value, or the snapshot of the PI point it references."""
        if not a.template.data_reference:
            return self.static_value(a)
        point = self.api.archive.by_name.get((a.tag or "").upper())
        if point is None:
            return {
                "Timestamp": format_ticks(to_ticks(self.api.clock())),
                "Value": {"Name": "Point Not Found", "Value": 0, "IsSystem": True},
                "UnitsAbbreviation": "",
                "Good": False,
                "Questionable": False,
                "Substituted": False,
                "Annotated": False,
            }
        value = self.api.snapshot(point)
        if value is None:
            raise self._error(404, "No value found.")
        return value

    # ---- searches ------------------------------------------------------------------------------
    def _elements(self, req: Request, state: AFState, parent: uuid.UUID | None) -> dict:
        full = self._bool(req, "searchFullHierarchy", False)
        candidates = state.descendants(parent) if full else list(state.children.get(parent, []))
        name, description = self._matcher(req, "nameFilter"), self._matcher(req, "descriptionFilter")
        category = (req.arg("categoryName") or "").upper()
        template = req.arg("templateName")
        chosen = [
            e
            for e in candidates
            if name(state.elements[e].name)
            and description(state.elements[e].description)
            and (not category or category in (c.upper() for c in state.elements[e].categories))
            and (not template or derives_from(state.elements[e].template, template))
        ]
        page = self._page(req, chosen, key=lambda e: (state.elements[e].name.upper(), state.paths[e].upper()))
        return {"Links": {}, "Items": [self._element(req, state, e) for e in page]}

    def _attributes(self, req: Request, state: AFState, element: uuid.UUID) -> dict:
        name = self._matcher(req, "nameFilter")
        category = (req.arg("categoryName") or "").upper()
        value_type = (req.arg("valueType") or "").upper()
        chosen = [
            a
            for a in state.attributes_of(element)
            if name(a.name)
            and (not category or category in (c.upper() for c in a.template.categories))
            and (not value_type or a.template.type.upper() == value_type)
        ]
        page = self._page(req, chosen, key=lambda a: a.name.upper())
        return {"Links": {}, "Items": [self._attribute_json(req, state, a) for a in page]}

    def _element_attributes(self, req: Request, state: AFState, root: uuid.UUID | None) -> dict:
        """``elementattributes``: a flat list of the attributes of the elements a search finds."""
        full = self._bool(req, "searchFullHierarchy", False)
        candidates = state.descendants(root) if full else list(state.children.get(root, []))
        element_name = self._matcher(req, "elementNameFilter")
        template = req.arg("elementTemplate")
        category = (req.arg("elementCategory") or "").upper()
        attribute_name = self._matcher(req, "attributeNameFilter")
        attribute_category = (req.arg("attributeCategory") or "").upper()
        elements = [
            e
            for e in candidates
            if element_name(state.elements[e].name)
            and (not template or derives_from(state.elements[e].template, template))
            and (not category or category in (c.upper() for c in state.elements[e].categories))
        ]
        order = {e: i for i, e in enumerate(sorted(elements, key=lambda e: state.paths[e].upper()))}
        chosen = [
            a
            for a in state.attributes.values()
            if a.element in order
            and attribute_name(a.name)
            and (not attribute_category or attribute_category in (c.upper() for c in a.template.categories))
        ]
        start = self._int(req, "startIndex", 0)
        count = self._int(req, "maxCount", 1000)
        if count < 0 or start < 0:
            raise self._error(400, "Parameters 'startIndex' and 'maxCount' must not be negative.")
        chosen.sort(key=lambda a: (order[a.element], a.name.upper()))
        return {"Links": {}, "Items": [self._attribute_json(req, state, a) for a in chosen[start : start + count]]}

    # ---- routing -------------------------------------------------------------------------------
    def route(self, req: Request, parts: list[str], lower: list[str]) -> object:
        state = self._state()
        head = lower[0]
        if head == "assetservers":
            if len(parts) == 1:
                path = req.arg("path")
                if path is not None:
                    if path.lstrip("\\").upper() != self.model.server_name.upper():
                        raise self._error(404, "The specified path was not found.")
                    return self._asset_server(req)
                return {"Links": {}, "Items": [self._asset_server(req)]}
            decoded = self._decode(parts[1], webid.ASSET_SERVER, "Asset Server")
            if (
                (decoded.path or "").upper() != self.model.server_name.upper()
                if decoded.kind == webid.PATH_ONLY
                else decoded.guids[0] != self.model.server_id
            ):
                raise self._not_found("Asset Server", parts[1])
            if len(parts) == 2:
                return self._asset_server(req)
            if lower[2:] == ["assetdatabases"]:
                return {"Links": {}, "Items": [self._database(req)]}
        if head == "assetdatabases":
            if len(parts) == 1:
                path = (req.arg("path") or "").lstrip("\\").upper()
                if path != f"{self.model.server_name}\\{self.model.database_name}".upper():
                    raise self._error(404, "The specified path was not found.")
                return self._database(req)
            decoded = self._decode(parts[1], webid.DATABASE, "Asset Database")
            if (
                (decoded.path or "").upper() != f"{self.model.server_name}\\{self.model.database_name}".upper()
                if decoded.kind == webid.PATH_ONLY
                else decoded.guids[-1] != self.model.database_id
            ):
                raise self._not_found("Asset Database", parts[1])
            if len(parts) == 2:
                return self._database(req)
            if lower[2:] == ["elements"]:
                return self._elements(req, state, None)
            if lower[2:] == ["elementattributes"]:
                return self._element_attributes(req, state, None)
            if lower[2:] == ["eventframes"]:
                return self.eventframes.search(req)
        if head == "elements":
            if len(parts) == 1:
                found = self._element_by_path(state, req.arg("path") or "")
                if found is None:
                    raise self._error(404, "The specified path was not found.")
                return self._element(req, state, found)
            element = self._element_id(state, parts[1])
            if len(parts) == 2:
                return self._element(req, state, element)
            if lower[2:] == ["elements"]:
                return self._elements(req, state, element)
            if lower[2:] == ["attributes"]:
                return self._attributes(req, state, element)
            if lower[2:] == ["elementattributes"]:
                return self._element_attributes(req, state, element)
            if lower[2:] == ["eventframes"]:
                return self.eventframes.search(req, element)
        if head == "eventframes" and len(parts) >= 2:
            return self.eventframes.route(req, parts, lower)
        if head == "attributes":
            if len(parts) == 1:
                path = (req.arg("path") or "").lstrip("\\")
                element_path, _, name = path.rpartition("|")
                owner = self._element_by_path(state, element_path)
                found = (
                    next((a for a in state.attributes_of(owner) if a.name.upper() == name.upper()), None)
                    if owner is not None
                    else None
                )
                if found is None:
                    raise self._error(404, "The specified path was not found.")
                return self._attribute_json(req, state, found)
            frame_attribute = self._frame_attribute(parts[1])
            if frame_attribute is not None:
                frame, name = frame_attribute
                if len(parts) == 2:
                    return self.eventframes.attribute_json(req, frame, name)
                if lower[2:] == ["value"]:
                    return self.eventframes.value(frame, name)
                raise self._error(404, "The specified resource was not found.")
            attribute = self._attribute(state, parts[1])
            if len(parts) == 2:
                return self._attribute_json(req, state, attribute)
            if lower[2:] == ["value"]:
                return self.attribute_value(attribute)
        raise self._error(404, "The specified resource was not found.")

    def _frame_attribute(self, text: str):
        """(frame state, attribute name) when ``text`` is an event frame attribute's WebID, else None."""
        try:
            decoded = webid.decode_af(text)
        except ValueError:
            return None
        if decoded.marker != webid.ATTRIBUTE or decoded.owner != "F" or decoded.kind == webid.PATH_ONLY:
            return None
        return self.eventframes.attribute(decoded, text)

    def stream_value(self, text: str) -> dict:
        """``streams/{attribute WebID}/value`` of an element's or an event frame's attribute."""
        frame_attribute = self._frame_attribute(text)
        if frame_attribute is not None:
            return self.eventframes.value(*frame_attribute)
        return self.attribute_value(self._attribute(self._state(), text))

    def streamset_value(self, req: Request, element_text: str) -> dict:
        """``streamsets/{element or event frame WebID}/value``: every attribute's value of one owner."""
        if element_text[2:4] == webid.EVENT_FRAME:
            return self.eventframes.values(req, element_text)
        state = self._state()
        element = self._element_id(state, element_text)
        items = []
        for a in sorted(state.attributes_of(element), key=lambda a: a.name.upper()):
            wid = self.attribute_webid(state, a)
            items.append(
                {
                    "WebId": wid,
                    "Name": a.name,
                    "Path": self.model.full_path(f"{state.paths[element]}|{a.name}"),
                    "Links": {"Source": self._url(req, f"attributes/{wid}")},
                    "Value": self.attribute_value(a),
                }
            )
        return {"Links": {}, "Items": items}
