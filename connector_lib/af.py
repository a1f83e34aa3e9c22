"""Asset Framework snapshots: every element and attribute of the configured databases, read completely.

One snapshot of a database is: its elements (one full-hierarchy element search, paged with
``startIndex``/``maxCount`` until a short page, once per configured template), the attributes of those
elements (the flat ``elementattributes`` search, paged the same way), and the values of the static
attributes (ad hoc ``streamsets/value`` calls packed into batch requests). Elements and attributes are
keyed by their AF ``Id`` (a GUID), not their WebID: a Full WebID carries the path, which changes when an
element is renamed or moved, while the GUID does not.

PI Point attributes are resolved to the WebID of the point they reference from their ``Point`` link, so
the tag-to-asset mapping needs no call per attribute; a reference to a point that does not exist has no
such link and is kept with an empty point WebID (real AF databases have them, and users want them listed).

A snapshot ends with one ``snapshot`` record (status, counts, error); only a complete snapshot may be
used to tell that an element disappeared, so silver builds history from complete snapshots only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from urllib.parse import quote

from .batch import get_all
from .bronze import row_builder
from .client import PIWebAPIClient
from .config import ConfigError, PIConfig
from .errors import PIWebAPIError
from .paging import items_of, paged

ELEMENT_FIELDS = ("WebId", "Id", "Name", "Description", "Path", "TemplateName", "CategoryNames", "HasChildren")
ATTRIBUTE_FIELDS = (
    "WebId",
    "Id",
    "Name",
    "Path",
    "Type",
    "DefaultUnitsNameAbbreviation",
    "DataReferencePlugIn",
    "ConfigString",
    "CategoryNames",
    "Links.Point",
    "Links.Element",
)
#: streams per ad hoc streamsets/value sub-request (keeps each URL well under common 16 KB limits)
VALUES_PER_SUBREQUEST = 40

#: (name, Spark type) of the AF bronze rows: element, attribute and snapshot records in one layout
AF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_kind", "string"),  # element | attribute | snapshot
    ("snapshot_id", "string"),
    ("database", "string"),  # the database path, \\SERVER\Database
    ("id", "string"),  # the element's or attribute's AF Id (GUID)
    ("web_id", "string"),
    ("name", "string"),
    ("path", "string"),
    ("parent_path", "string"),  # elements: the parent element's path (null at the root)
    ("element_path", "string"),  # attributes: the owning element's path
    ("template", "string"),
    ("categories", "array<string>"),
    ("description", "string"),
    ("value_type", "string"),  # attributes: the AF value type
    ("units", "string"),
    ("data_reference", "string"),
    ("config_string", "string"),
    ("tag", "string"),  # PI Point attributes: the referenced tag's name
    ("point_web_id", "string"),  # ... and the WebID of that point (null when it does not exist)
    ("value", "string"),  # static attributes: the value as JSON
    ("status", "string"),  # snapshot records: ok | failed
    ("error", "string"),
    ("element_count", "bigint"),
    ("attribute_count", "bigint"),
    ("extracted_at", "timestamp"),
)
AF_COLUMN_NAMES = tuple(name for name, _ in AF_COLUMNS)
af_row = row_builder(AF_COLUMN_NAMES)


@dataclass(frozen=True)
class Database:
    web_id: str
    name: str
    path: str
    elements_url: str  # the element search: the database's, or the root element's children
    element_attributes_url: str
    root: dict | None = None  # the root element (pi.af.root), read with ELEMENT_FIELDS and Links
    event_frames_url: str = ""  # the database's event frame search (frames are not under the root)


def databases(client: PIWebAPIClient, config: PIConfig) -> list[Database]:
    """The configured databases of the configured asset server, each checked to exist."""
    servers = items_of(client.get("assetservers"), "GET assetservers")
    if not servers:
        raise PIWebAPIError("GET assetservers: the PI Web API lists no asset server")
    server = servers[0]
    if config.af_server:
        server = next((s for s in servers if str(s.get("Name", "")).lower() == config.af_server.lower()), None)
        if server is None:
            names = ", ".join(str(s.get("Name", "?")) for s in servers)
            raise ConfigError(f"pi.af.server: {config.af_server!r} not found (the PI Web API lists: {names})")
    listed = items_of(client.get(server["Links"]["Databases"]), "GET assetdatabases")
    by_name = {str(d.get("Name", "")).lower(): d for d in listed}
    missing = [n for n in config.af_databases if n.lower() not in by_name]
    if missing:
        names = ", ".join(str(d.get("Name", "?")) for d in listed)
        raise ConfigError(f"pi.af.databases: {', '.join(missing)} not found on {server.get('Name')} (it has: {names})")
    out = []
    for name in config.af_databases:
        d = by_name[name.lower()]
        elements = d["Links"]["Elements"]
        attributes = elements.rsplit("/", 1)[0] + "/elementattributes"
        root = None
        if config.af_root:
            root_path = f"{d['Path']}\\{config.af_root}"
            fields = ";".join(ELEMENT_FIELDS + ("Links.Elements", "Links.Attributes"))
            try:
                root = client.get(f"elements?path={quote(root_path)}&selectedFields={fields}")
            except PIWebAPIError as exc:
                if exc.status == 404:
                    raise ConfigError(f"pi.af.root: no element {config.af_root!r} in {d['Path']}") from None
                raise
            elements = root["Links"]["Elements"]
            attributes = elements.rsplit("/", 1)[0] + "/elementattributes"
        out.append(
            Database(
                d["WebId"],
                d["Name"],
                d["Path"],
                elements,
                attributes,
                root,
                d["Links"].get("EventFrames", f"assetdatabases/{d['WebId']}/eventframes"),
            )
        )
    return out


def _of_templates(element: dict, config: PIConfig) -> bool:
    """Whether the root element itself is of a configured template (its exact template: the server is
    not asked about derivation for one element)."""
    wanted = {t.lower() for t in config.af_element_templates}
    return not wanted or str(element.get("TemplateName", "")).lower() in wanted


def _parent_path(path: str) -> str | None:
    parent = path.rsplit("\\", 1)[0]
    return parent if parent.count("\\") > 3 else None  # \\SERVER\Database itself is no element


def _tag(config_string: str | None) -> str | None:
    r"""The tag a PI Point data reference names: ``\\SERVER\TAG;option=...`` or ``TAG``."""
    text = (config_string or "").split(";", 1)[0].strip()
    if not text:
        return None
    return text.rsplit("\\", 1)[-1].split("?", 1)[0] or None


def snapshot(
    client: PIWebAPIClient, config: PIConfig, db: Database, snapshot_id: str, now=lambda: dt.datetime.now(dt.UTC)
) -> Iterator[tuple]:
    """The rows of one database's snapshot, ending with its ``snapshot`` record. A failure part way
    ends the snapshot with ``status = 'failed'`` and the error; its rows are kept but marked unusable
    by that record."""
    at = now()
    counts = {"element": 0, "attribute": 0}
    common = {"snapshot_id": snapshot_id, "database": db.path, "extracted_at": at}
    try:
        for row in _elements(client, config, db, common):
            counts["element"] += 1
            yield row
        static: list[tuple[dict, str | None]] = []
        for attribute, web_id in _attributes(client, config, db, common):
            counts["attribute"] += 1
            if attribute["data_reference"]:
                yield af_row(**attribute)
            else:
                static.append((attribute, web_id))
        yield from _with_values(client, config, static)
        yield af_row(
            record_kind="snapshot",
            status="ok",
            element_count=counts["element"],
            attribute_count=counts["attribute"],
            **common,
        )
    except PIWebAPIError as exc:
        yield af_row(
            record_kind="snapshot",
            status="failed",
            error=str(exc),
            element_count=counts["element"],
            attribute_count=counts["attribute"],
            **common,
        )


def _searches(config: PIConfig, name: str) -> list[dict]:
    """One search per configured template (``name`` is the search's template parameter), or one."""
    return [{"searchFullHierarchy": "true", **({name: t} if t else {})} for t in config.af_element_templates or (None,)]


def _elements(client: PIWebAPIClient, config: PIConfig, db: Database, common: dict) -> Iterator[tuple]:
    seen: set[str] = set()
    roots = [db.root] if db.root is not None and _of_templates(db.root, config) else []
    searches = (
        paged(client, db.elements_url, params, config.af_page_size, ELEMENT_FIELDS)
        for params in _searches(config, "templateName")
    )
    for e in chain(roots, *searches):
        if e["Id"] in seen:  # several template searches may find one element
            continue
        seen.add(e["Id"])
        yield af_row(
            record_kind="element",
            id=e["Id"],
            web_id=e.get("WebId"),
            name=e.get("Name"),
            path=e.get("Path"),
            parent_path=_parent_path(e.get("Path") or ""),
            template=e.get("TemplateName"),
            categories=list(e.get("CategoryNames") or []),
            description=e.get("Description"),
            **common,
        )


def _attributes(
    client: PIWebAPIClient, config: PIConfig, db: Database, common: dict
) -> Iterator[tuple[dict, str | None]]:
    """(row columns, WebID) of every attribute of the snapshot's elements."""
    seen: set[str] = set()
    roots = (
        [paged(client, db.root["Links"]["Attributes"], {}, config.af_page_size, ATTRIBUTE_FIELDS)]
        if db.root is not None and _of_templates(db.root, config)
        else []
    )
    searches = [
        paged(client, db.element_attributes_url, params, config.af_page_size, ATTRIBUTE_FIELDS)
        for params in _searches(config, "elementTemplate")
    ]
    for a in chain(*roots, *searches):
        if a["Id"] in seen:
            continue
        seen.add(a["Id"])
        reference = a.get("DataReferencePlugIn") or ""
        point = (a.get("Links") or {}).get("Point")
        yield (
            dict(
                record_kind="attribute",
                id=a["Id"],
                web_id=a.get("WebId"),
                name=a.get("Name"),
                path=a.get("Path"),
                element_path=(a.get("Path") or "").rpartition("|")[0],
                categories=list(a.get("CategoryNames") or []),
                value_type=a.get("Type"),
                units=a.get("DefaultUnitsNameAbbreviation") or None,
                data_reference=reference or None,
                config_string=a.get("ConfigString") or None,
                tag=_tag(a.get("ConfigString")) if reference == "PI Point" else None,
                point_web_id=point.rstrip("/").rsplit("/", 1)[-1] if point else None,
                **common,
            ),
            a.get("WebId"),
        )


def _with_values(client: PIWebAPIClient, config: PIConfig, static: list[tuple[dict, str | None]]) -> Iterator[tuple]:
    """Static attributes with their values, read with ad hoc ``streamsets/value`` sub-requests packed
    ``pi.tags_per_request`` to a batch call."""
    chunks = [static[i : i + VALUES_PER_SUBREQUEST] for i in range(0, len(static), VALUES_PER_SUBREQUEST)]
    for first in range(0, len(chunks), config.tags_per_request):
        group = chunks[first : first + config.tags_per_request]
        resources = [
            "streamsets/value?selectedFields=Items.WebId;Items.Value&" + "&".join(f"webId={wid}" for _, wid in chunk)
            for chunk in group
        ]
        answers = get_all(client, config, resources, lambda k: "attribute values: streamsets/value")
        for chunk, items in zip(group, answers):
            values = {item.get("WebId"): item.get("Value") for item in items if isinstance(item, dict)}
            for row, wid in chunk:
                value = values.get(wid)
                yield af_row(
                    **row, value=json.dumps(value.get("Value") if isinstance(value, dict) else None, ensure_ascii=False)
                )
