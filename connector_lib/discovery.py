"""Which PI points to ingest: an explicit tag list (looked up by path) or a name filter (paged list), then
this pipeline's shard of them (``pi.shard.count``, by PI point ID)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .client import PIWebAPIClient
from .config import ConfigError, PIConfig
from .errors import PIWebAPIError
from .paging import items_of, paged

POINT_FIELDS = "WebId;Name;PointType;EngineeringUnits;DigitalSetName;Descriptor;Id;Step"
LIST_PAGE = 1000


@dataclass(frozen=True)
class Tag:
    web_id: str
    name: str
    point_type: str = ""
    units: str = ""
    digital_set: str = ""
    descriptor: str = ""
    point_id: int = -1
    step: bool | None = None  # the point's Step attribute: held (True) or interpolated values; None: not sent

    @classmethod
    def from_point(cls, point: dict) -> Tag:
        return cls(
            point["WebId"],
            point["Name"],
            point.get("PointType") or "",
            point.get("EngineeringUnits") or "",
            point.get("DigitalSetName") or "",
            point.get("Descriptor") or "",
            _point_id(point),
            point["Step"] if isinstance(point.get("Step"), bool) else None,
        )


def _point_id(point: dict) -> int:
    """The PI point ID (``Id``), which decides the tag's shard; -1 when the server sent none."""
    try:
        return int(point["Id"])
    except (KeyError, TypeError, ValueError):
        return -1


def in_shard(tags: list[Tag], config: PIConfig) -> list[Tag]:
    """The tags of this pipeline's shard (all of them when there is one shard)."""
    if config.shard_count == 1:
        return tags
    unknown = [t.name for t in tags if t.point_id < 0]
    if unknown:
        raise PIWebAPIError(
            f"pi.shard.count: the server sent no numeric point Id for {', '.join(unknown[:5])}"
            + (" ..." if len(unknown) > 5 else "")
            + "; tag shards are chosen by it"
        )
    return [t for t in tags if config.owns_point(t.point_id)]


def data_server(client: PIWebAPIClient, config: PIConfig) -> dict:
    servers = items_of(client.get("dataservers"), "GET dataservers")
    if not servers:
        raise PIWebAPIError("GET /dataservers: the PI Web API lists no data server")
    if not config.data_server:
        return servers[0]
    for server in servers:
        if server.get("Name", "").lower() == config.data_server.lower():
            return server
    names = ", ".join(s.get("Name", "?") for s in servers)
    raise ConfigError(f"pi.data_server: {config.data_server!r} not found (server has: {names})")


def discover_tags(client: PIWebAPIClient, config: PIConfig) -> list[Tag]:
    """Tags to ingest, in a stable order (by name)."""
    server = data_server(client, config)
    if config.tags:
        tags = []
        missing = []
        for name in config.tags:
            path = f"\\\\{server['Name']}\\{name}"
            try:
                point = client.get(f"points?path={quote(path)}&selectedFields={POINT_FIELDS}")
            except PIWebAPIError as exc:
                if exc.status == 404:
                    missing.append(name)
                    continue
                raise
            tags.append(Tag.from_point(point))
        if missing:
            raise ConfigError(
                f"pi.tags: not found on {server['Name']}: {', '.join(missing[:10])}"
                + (" ..." if len(missing) > 10 else "")
            )
    else:
        points_url = server.get("Links", {}).get("Points") or f"dataservers/{server['WebId']}/points"
        page_size = min(LIST_PAGE, config.max_items_per_call)
        params = {"nameFilter": config.tag_filter}
        tags = [Tag.from_point(p) for p in paged(client, points_url, params, page_size, tuple(POINT_FIELDS.split(";")))]
    tags = in_shard(tags, config)
    tags.sort(key=lambda t: t.name)
    if config.max_tags:
        tags = tags[: config.max_tags]
    return tags
