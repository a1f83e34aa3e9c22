"""``python -m devtools.spec_subset SWAGGER.json OUT.json``: the part of the vendor's PI Web API Swagger
specification the simulator's read API answers, for tests/pi_simulator/test_spec_conformance.py.

Keeps the GET operations of :data:`PATHS`, the Stream Updates operations of :data:`UPDATES` and every
definition their responses reach (transitively), as the vendor wrote them; the spec a PI Web API serves at ``/piwebapi/help/specification`` is the input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: the read resources the simulator serves, as the spec names them
PATHS = (
    "/points/multiple",
    "/points/{webId}",
    "/points/{webId}/attributes",
    "/points/{webId}/attributes/{name}",
    "/dataservers/{webId}/enumerationsets",
    "/enumerationsets/{webId}",
    "/enumerationsets/{webId}/enumerationvalues",
    "/streams/{webId}/end",
    "/streams/{webId}/interpolated",
    "/streams/{webId}/interpolatedattimes",
    "/streams/{webId}/plot",
    "/streams/{webId}/recorded",
    "/streams/{webId}/recordedattime",
    "/streams/{webId}/recordedattimes",
    "/streams/{webId}/summary",
    "/streams/{webId}/value",
    "/streamsets/end",
    "/streamsets/interpolated",
    "/streamsets/interpolatedattimes",
    "/streamsets/plot",
    "/streamsets/recorded",
    "/streamsets/recordedattime",
    "/streamsets/recordedattimes",
    "/streamsets/summary",
    "/streamsets/value",
    "/streamsets/{webId}/end",
    "/streamsets/{webId}/interpolated",
    "/streamsets/{webId}/plot",
    "/streamsets/{webId}/recorded",
    "/streamsets/{webId}/summary",
    "/streamsets/{webId}/value",
)

#: Stream Updates: registration (POST) and retrieval (GET), (path, method)
UPDATES = (
    ("/streams/{webId}/updates", "post"),
    ("/streams/updates/{marker}", "get"),
    ("/streamsets/updates", "post"),
    ("/streamsets/updates", "get"),
)


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def subset(spec: dict) -> dict:
    paths: dict[str, dict] = {p: {"get": spec["paths"][p]["get"]} for p in PATHS}
    for path, method in UPDATES:
        paths.setdefault(path, {})[method] = spec["paths"][path][method]
    wanted, seen = _refs(paths), set()
    while wanted - seen:
        name = sorted(wanted - seen)[0]
        seen.add(name)
        wanted |= _refs(spec["definitions"][name])
    return {
        "swagger": spec["swagger"],
        "info": spec["info"],
        "basePath": spec.get("basePath"),
        "paths": paths,
        "definitions": {name: spec["definitions"][name] for name in sorted(seen)},
    }


def main(argv: list[str]) -> int:
    source, target = argv
    Path(target).write_text(json.dumps(subset(json.loads(Path(source).read_text())), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
