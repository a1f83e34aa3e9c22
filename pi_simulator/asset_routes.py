"""The Asset Framework part of the simulated PI Web API: asset servers and databases, elements and
their attributes, with the search parameters and ``startIndex``/``maxCount`` paging of the real API (the
PI Web API reference: Element, AssetDatabase, Attribute). Answers are as of the server's clock
(:meth:`AssetModel.state`).

Identity follows AF: an element or attribute is its GUID. Full WebIDs also carry the path at the time
they were issued, so after a rename the old WebID still resolves (by GUID) while a PathOnly WebID built
from the old path does not.
"""

from __future__ import annotations

import datetime as dt
import uuid

from . import webid
from .af import AFState, AssetModel, Attribute, derives_from
from .context import ServerContext
from .protocol import ApiError, Request, bool_arg, name_matcher, not_found, page, paging, sort_order
from .render import format_ticks
from .routing import Route, Router
from .stream_routes import STREAM_RESOURCES, stream_set_item

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
    def __init__(self, ctx: ServerContext, model: AssetModel, router: Router | None = None):
        """``router``: answers an attribute's stream resources from its PI point's."""
        self.ctx, self.model = ctx, model
        self.router = router
        self.server_webid = webid.asset_server_webid(model.server_id, model.server_name)
        self.database_webid = webid.af_webid(
            webid.DATABASE, (model.server_id, model.database_id), f"{model.server_name}\\{model.database_name}"
        )

    # ---- helpers -------------------------------------------------------------------------------
    def _state(self) -> AFState:
        return self.model.state(self.ctx.now())

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
            raise ApiError(400, f"Unknown or invalid WebID format: '{text}'.") from None
        if decoded.marker != marker:
            raise ApiError(400, f"The WebID '{text}' does not identify an {what}.")
        return decoded

    def _prefix(self) -> str:
        return f"{self.model.server_name}\\{self.model.database_name}\\".upper()

    def _element_by_path(self, state: AFState, path: str) -> uuid.UUID | None:
        wanted = path.lstrip("\\").upper()
        if not wanted.startswith(self._prefix()):
            return None
        relative = wanted[len(self._prefix()) :]
        return next((e for e, p in state.paths.items() if p.upper() == relative), None)

    def element_id(self, state: AFState, text: str) -> uuid.UUID:
        decoded = self._decode(text, webid.ELEMENT, "Element")
        if decoded.kind == webid.PATH_ONLY:
            found = self._element_by_path(state, decoded.path or "")
        else:
            found = decoded.guids[-1] if decoded.guids[0] == self.model.server_id else None
        if found is None or found not in state.elements:
            raise not_found("Element", text)
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
            raise not_found("Attribute", text)
        return found

    def _page(self, req: Request, items: list, key=lambda x: x) -> list:
        """``sortField``/``sortOrder`` (Name only), then ``startIndex``/``maxCount`` (default 1000)."""
        start, count = paging(req)
        _, descending = sort_order(req, ("name", "id"))
        return sorted(items, key=key, reverse=descending)[start : start + count]

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
            "ServerTime": format_ticks(self.ctx.now()),
            "ExtendedProperties": {},
            "Links": {
                "Self": self.ctx.url(req, f"assetservers/{wid}"),
                "Databases": self.ctx.url(req, f"assetservers/{wid}/assetdatabases"),
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
                "Self": self.ctx.url(req, f"assetdatabases/{wid}"),
                "Elements": self.ctx.url(req, f"assetdatabases/{wid}/elements"),
                "ElementTemplates": self.ctx.url(req, f"assetdatabases/{wid}/elementtemplates"),
                "EventFrames": self.ctx.url(req, f"assetdatabases/{wid}/eventframes"),
                "AssetServer": self.ctx.url(req, f"assetservers/{self.server_webid}"),
            },
        }

    def element_json(self, req: Request, state: AFState, element: uuid.UUID) -> dict:
        e = state.elements[element]
        wid = self.element_webid(state, element)

        def link(suffix: str) -> str:
            return self.ctx.url(req, f"elements/{wid}/{suffix}")

        links = {
            "Self": self.ctx.url(req, f"elements/{wid}"),
            "Attributes": link("attributes"),
            "Elements": link("elements"),
            "Database": self.ctx.url(req, f"assetdatabases/{self.database_webid}"),
            "Template": self.ctx.url(req, f"elementtemplates/{self.template_webid(e.template)}"),
            "Categories": link("categories"),
            "EventFrames": link("eventframes"),
            "RecordedData": self.ctx.url(req, f"streamsets/{wid}/recorded"),
            "Value": self.ctx.url(req, f"streamsets/{wid}/value"),
        }
        if e.parent is not None:
            links["Parent"] = self.ctx.url(req, f"elements/{self.element_webid(state, e.parent)}")
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
            "Self": self.ctx.url(req, f"attributes/{wid}"),
            "Element": self.ctx.url(req, f"elements/{self.element_webid(state, a.element)}"),
            "Value": self.ctx.url(req, f"streams/{wid}/value"),
        }
        config = ""
        if t.data_reference:
            config = f"\\\\{self.ctx.archive.server_name}\\{a.tag}"
            point = self.ctx.archive.by_name.get((a.tag or "").upper())
            if point is not None:
                links["Point"] = self.ctx.url(req, f"points/{self.ctx.point_webid(point)}")
            links["RecordedData"] = self.ctx.url(req, f"streams/{wid}/recorded")
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
        point = self.ctx.archive.by_name.get((a.tag or "").upper())
        if point is None:
            return {
                "Timestamp": format_ticks(self.ctx.now()),
                "Value": {"Name": "Point Not Found", "Value": 0, "IsSystem": True},
                "UnitsAbbreviation": "",
                "Good": False,
                "Questionable": False,
                "Substituted": False,
                "Annotated": False,
            }
        value = self.ctx.snapshot(point)
        if value is None:
            raise ApiError(404, "No value found.")
        return value

    # ---- searches ------------------------------------------------------------------------------
    def _elements(self, req: Request, state: AFState, parent: uuid.UUID | None) -> dict:
        full = bool_arg(req, "searchFullHierarchy", False)
        candidates = state.descendants(parent) if full else list(state.children.get(parent, []))
        name, description = name_matcher(req, "nameFilter"), name_matcher(req, "descriptionFilter")
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
        return {"Links": {}, "Items": [self.element_json(req, state, e) for e in page]}

    def _attributes(self, req: Request, state: AFState, element: uuid.UUID) -> dict:
        name = name_matcher(req, "nameFilter")
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
        full = bool_arg(req, "searchFullHierarchy", False)
        candidates = state.descendants(root) if full else list(state.children.get(root, []))
        element_name = name_matcher(req, "elementNameFilter")
        template = req.arg("elementTemplate")
        category = (req.arg("elementCategory") or "").upper()
        attribute_name = name_matcher(req, "attributeNameFilter")
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
        chosen.sort(key=lambda a: (order[a.element], a.name.upper()))
        return {"Links": {}, "Items": [self._attribute_json(req, state, a) for a in page(req, chosen)]}

    # ---- identity checks other route modules share -------------------------------------------
    def check_asset_server(self, text: str) -> None:
        decoded = self._decode(text, webid.ASSET_SERVER, "Asset Server")
        if (
            (decoded.path or "").upper() != self.model.server_name.upper()
            if decoded.kind == webid.PATH_ONLY
            else decoded.guids[0] != self.model.server_id
        ):
            raise not_found("Asset Server", text)

    def check_database(self, text: str) -> None:
        decoded = self._decode(text, webid.DATABASE, "Asset Database")
        if (
            (decoded.path or "").upper() != f"{self.model.server_name}\\{self.model.database_name}".upper()
            if decoded.kind == webid.PATH_ONLY
            else decoded.guids[-1] != self.model.database_id
        ):
            raise not_found("Asset Database", text)

    # ---- routes --------------------------------------------------------------------------------
    def asset_servers(self, req: Request) -> dict:
        """``assetservers``, or ``assetservers?path=`` for the one asset server."""
        path = req.arg("path")
        if path is not None:
            if path.lstrip("\\").upper() != self.model.server_name.upper():
                raise ApiError(404, "The specified path was not found.")
            return self._asset_server(req)
        return {"Links": {}, "Items": [self._asset_server(req)]}

    def asset_server(self, req: Request, web_id: str) -> dict:
        self.check_asset_server(web_id)
        return self._asset_server(req)

    def databases(self, req: Request, web_id: str) -> dict:
        self.check_asset_server(web_id)
        return {"Links": {}, "Items": [self._database(req)]}

    def database_by_path(self, req: Request) -> dict:
        path = (req.arg("path") or "").lstrip("\\").upper()
        if path != f"{self.model.server_name}\\{self.model.database_name}".upper():
            raise ApiError(404, "The specified path was not found.")
        return self._database(req)

    def database(self, req: Request, web_id: str) -> dict:
        self.check_database(web_id)
        return self._database(req)

    def database_elements(self, req: Request, web_id: str) -> dict:
        self.check_database(web_id)
        return self._elements(req, self._state(), None)

    def database_element_attributes(self, req: Request, web_id: str) -> dict:
        self.check_database(web_id)
        return self._element_attributes(req, self._state(), None)

    def element_by_path(self, req: Request) -> dict:
        state = self._state()
        found = self._element_by_path(state, req.arg("path") or "")
        if found is None:
            raise ApiError(404, "The specified path was not found.")
        return self.element_json(req, state, found)

    def element(self, req: Request, web_id: str) -> dict:
        state = self._state()
        return self.element_json(req, state, self.element_id(state, web_id))

    def child_elements(self, req: Request, web_id: str) -> dict:
        state = self._state()
        return self._elements(req, state, self.element_id(state, web_id))

    def element_attributes(self, req: Request, web_id: str) -> dict:
        state = self._state()
        return self._attributes(req, state, self.element_id(state, web_id))

    def element_element_attributes(self, req: Request, web_id: str) -> dict:
        state = self._state()
        return self._element_attributes(req, state, self.element_id(state, web_id))

    def attribute_by_path(self, req: Request) -> dict:
        r"""``attributes?path=\\SERVER\DATABASE\ELEMENT|ATTRIBUTE``."""
        state = self._state()
        path = (req.arg("path") or "").lstrip("\\")
        element_path, _, name = path.rpartition("|")
        owner = self._element_by_path(state, element_path)
        found = (
            next((a for a in state.attributes_of(owner) if a.name.upper() == name.upper()), None)
            if owner is not None
            else None
        )
        if found is None:
            raise ApiError(404, "The specified path was not found.")
        return self._attribute_json(req, state, found)

    def attribute(self, req: Request, web_id: str) -> dict:
        state = self._state()
        return self._attribute_json(req, state, self._attribute(state, web_id))

    def value(self, req: Request, web_id: str) -> dict:
        """``attributes/{webId}/value`` and ``streams/{webId}/value`` (or ``end``) of an element's attribute."""
        return self.attribute_value(self._attribute(self._state(), web_id))

    def attribute_stream(self, req: Request, web_id: str, resource: str) -> object:
        """``streams/{attribute WebID}/{resource}`` of an attribute with a PI Point data reference: the
        point's own stream resource (recorded, interpolated, plot, summary, at-time reads, a value at a
        time). A static attribute has no stream (409, as PI Web API says of such data references)."""
        a = self._attribute(self._state(), web_id)
        if not a.template.data_reference:
            raise ApiError(409, "The data reference does not support this method.")
        point = self.ctx.archive.by_name.get((a.tag or "").upper())
        if point is None or not self.ctx.archive.exists(point, self.ctx.now()):
            raise ApiError(404, f"The PI Point '{a.tag}' the attribute references was not found.")
        assert self.router is not None, "AssetRoutes needs the router to answer attribute streams"
        return self.router.call(req, ["streams", self.ctx.point_webid(point), resource])

    def streamset_resource(self, req: Request, web_id: str, resource: str) -> dict:
        """``streamsets/{element WebID}/{resource}``: the resource of each of the element's attributes
        with a PI Point data reference whose point exists (``nameFilter`` chooses among them), by name; an
        attribute the resource fails for carries the error as its item's ``WebException``."""
        state = self._state()
        element = self.element_id(state, web_id)
        match = name_matcher(req, "nameFilter")
        items = []
        for a in sorted(state.attributes_of(element), key=lambda a: a.name.upper()):
            point = self.ctx.archive.by_name.get((a.tag or "").upper())
            if not a.template.data_reference or not match(a.name) or point is None:
                continue
            wid = self.attribute_webid(state, a)
            item = {
                "WebId": wid,
                "Name": a.name,
                "Path": self.model.full_path(f"{state.paths[element]}|{a.name}"),
                "Links": {"Source": self.ctx.url(req, f"attributes/{wid}")},
            }
            try:
                content = self.attribute_stream(req, wid, "value" if resource == "end" else resource)
            except ApiError as exc:  # one attribute's error (a summary of a digital one) is its item's
                items.append({**item, "WebException": {"StatusCode": exc.status, "Errors": exc.messages}})
                continue
            assert isinstance(content, dict)
            items.append(stream_set_item(item, resource, content))
        return {"Links": {}, "Items": items}

    def streamset_value(self, req: Request, web_id: str) -> dict:
        """``streamsets/{element WebID}/value``: every attribute's value of one element."""
        state = self._state()
        element = self.element_id(state, web_id)
        items = []
        for a in sorted(state.attributes_of(element), key=lambda a: a.name.upper()):
            wid = self.attribute_webid(state, a)
            items.append(
                {
                    "WebId": wid,
                    "Name": a.name,
                    "Path": self.model.full_path(f"{state.paths[element]}|{a.name}"),
                    "Links": {"Source": self.ctx.url(req, f"attributes/{wid}")},
                    "Value": self.attribute_value(a),
                }
            )
        return {"Links": {}, "Items": items}


def _element_attribute(text: str) -> bool:
    """An attribute WebID, not of an event frame's attribute (those are the event frame routes')."""
    return text[2:4] == webid.ATTRIBUTE and not webid.is_event_frame_attribute(text)


ROUTES = (
    Route("GET", "assetservers", AssetRoutes.asset_servers),
    Route("GET", "assetservers/{web_id}", AssetRoutes.asset_server),
    Route("GET", "assetservers/{web_id}/assetdatabases", AssetRoutes.databases),
    Route("GET", "assetdatabases", AssetRoutes.database_by_path),
    Route("GET", "assetdatabases/{web_id}", AssetRoutes.database),
    Route("GET", "assetdatabases/{web_id}/elements", AssetRoutes.database_elements),
    Route("GET", "assetdatabases/{web_id}/elementattributes", AssetRoutes.database_element_attributes),
    Route("GET", "elements", AssetRoutes.element_by_path),
    Route("GET", "elements/{web_id}", AssetRoutes.element),
    Route("GET", "elements/{web_id}/elements", AssetRoutes.child_elements),
    Route("GET", "elements/{web_id}/attributes", AssetRoutes.element_attributes),
    Route("GET", "elements/{web_id}/elementattributes", AssetRoutes.element_element_attributes),
    Route("GET", "attributes", AssetRoutes.attribute_by_path),
    Route("GET", "attributes/{web_id}", AssetRoutes.attribute),
    Route("GET", "attributes/{web_id}/value", AssetRoutes.value),
    Route("GET", "streams/{web_id}/value", AssetRoutes.value, when=_element_attribute),
    Route("GET", "streams/{web_id}/end", AssetRoutes.value, when=_element_attribute),
    Route("GET", "streamsets/{web_id}/value", AssetRoutes.streamset_value),
    *(
        Route(
            "GET",
            f"streamsets/{{web_id}}/{resource}",
            lambda routes, req, web_id, resource=resource: routes.streamset_resource(req, web_id, resource),
        )
        for resource in (*STREAM_RESOURCES, "end")
    ),
    *(
        Route(
            "GET",
            f"streams/{{web_id}}/{resource}",
            lambda routes, req, web_id, resource=resource: routes.attribute_stream(req, web_id, resource),
            when=_element_attribute,
        )
        for resource in STREAM_RESOURCES
    ),
)
