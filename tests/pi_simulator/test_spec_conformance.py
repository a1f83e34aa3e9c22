"""Every read resource of the simulator against the vendor's own specification: each answer validates
against the response schema the PI Web API 2018 SP1 Swagger document gives for that operation
(tests/fixtures/piwebapi-spec, cut from the document by ``python -m devtools.spec_subset``).

The Swagger document is read as JSON Schema with the allowances real servers need: a property typed
``object`` without properties (``Value``, which is a number, a text or a state) takes any value, any
property may be null (the vendor's own samples print ``"Exception": null``), and a list of values carries
``Links`` (the vendor's recorded sample, tests/fixtures/piwebapi/v06, does; the document omits it).
Objects may not carry keys the specification does not name, so a misspelt or invented field fails.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import jsonschema
import pytest
import requests

from pi_simulator import Archive, SimulatorServer
from pi_simulator.render import format_ticks
from pi_simulator.truth import to_ticks
from tests.conftest import REPO, hour_start

SPEC = json.loads((REPO / "tests/fixtures/piwebapi-spec/piwebapi-2018sp1-read-api.json").read_text())
START = hour_start(3)
WINDOW = {"startTime": format_ticks(to_ticks(START)), "endTime": format_ticks(to_ticks(START + dt.timedelta(hours=1)))}
AT = {"time": format_ticks(to_ticks(START + dt.timedelta(minutes=20)))}


def as_json_schema(node: object) -> object:
    """The Swagger schema as a JSON Schema: ``object`` without properties is anything, properties may
    be null, and objects with properties take no others."""
    if isinstance(node, list):
        return [as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: as_json_schema(v) for k, v in node.items() if not k.startswith("x-") and k != "example"}
    if node.get("type") == "object" and "properties" not in node:
        node.pop("type")
    if "properties" in node:
        node["properties"] = {k: {"anyOf": [v, {"type": "null"}]} for k, v in node["properties"].items()}
        node["additionalProperties"] = False
    return node


DEFINITIONS = copy.deepcopy(SPEC["definitions"])
for values in ("TimedValues", "ExtendedTimedValues"):
    DEFINITIONS[values]["properties"]["Links"] = {"type": "object"}
DEFINITIONS = as_json_schema(DEFINITIONS)


def validator(path: str, status: int) -> jsonschema.Draft4Validator:
    schema = SPEC["paths"][path]["get"]["responses"][str(status)]["schema"]
    return jsonschema.Draft4Validator({**as_json_schema(schema), "definitions": DEFINITIONS})


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=17, n_points=45)


@pytest.fixture(scope="module")
def server(archive):
    with SimulatorServer(archive) as srv:
        yield srv


@pytest.fixture(scope="module")
def ids(server, archive):
    """WebIDs to ask about: two continuous points, an element and its attribute, a digital state set."""
    points = [server.api.point_webid(p) for p in archive.points if p.point_type.startswith("Float")][:2]
    pump = requests.get(
        f"{server.url}/elements", params={"path": "\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001"}, timeout=30
    ).json()
    sets = requests.get(f"{server.url}/dataservers/{server.api.server_webid}/enumerationsets", timeout=30).json()
    return {"point": points[0], "points": points, "element": pump["WebId"], "set": sets["Items"][1]["WebId"]}


def requests_of(ids: dict) -> list[tuple[str, str, dict]]:
    """(spec path, URL path, query) of one request per specified resource."""
    p, e, s = ids["point"], ids["element"], ids["set"]
    many = {"webId": ids["points"]}
    return [
        ("/points/multiple", "points/multiple", {"webId": [p, "F1DPnope"]}),
        ("/points/{webId}", f"points/{p}", {}),
        ("/points/{webId}/attributes", f"points/{p}/attributes", {}),
        ("/points/{webId}/attributes/{name}", f"points/{p}/attributes/step", {}),
        ("/dataservers/{webId}/enumerationsets", f"dataservers/{ids['server']}/enumerationsets", {}),
        ("/enumerationsets/{webId}", f"enumerationsets/{s}", {}),
        ("/enumerationsets/{webId}/enumerationvalues", f"enumerationsets/{s}/enumerationvalues", {}),
        ("/streams/{webId}/end", f"streams/{p}/end", {}),
        ("/streams/{webId}/interpolated", f"streams/{p}/interpolated", {**WINDOW, "interval": "10m"}),
        ("/streams/{webId}/interpolatedattimes", f"streams/{p}/interpolatedattimes", AT),
        ("/streams/{webId}/plot", f"streams/{p}/plot", WINDOW),
        ("/streams/{webId}/recorded", f"streams/{p}/recorded", WINDOW),
        ("/streams/{webId}/recordedattime", f"streams/{p}/recordedattime", AT),
        ("/streams/{webId}/recordedattimes", f"streams/{p}/recordedattimes", AT),
        ("/streams/{webId}/summary", f"streams/{p}/summary", {**WINDOW, "summaryType": "All"}),
        ("/streams/{webId}/value", f"streams/{p}/value", AT),
        ("/streamsets/end", "streamsets/end", many),
        ("/streamsets/interpolated", "streamsets/interpolated", {**many, **WINDOW}),
        ("/streamsets/interpolatedattimes", "streamsets/interpolatedattimes", {**many, **AT}),
        ("/streamsets/plot", "streamsets/plot", {**many, **WINDOW}),
        ("/streamsets/recorded", "streamsets/recorded", {**many, **WINDOW}),
        ("/streamsets/recordedattime", "streamsets/recordedattime", {**many, **AT}),
        ("/streamsets/recordedattimes", "streamsets/recordedattimes", {**many, **AT}),
        ("/streamsets/summary", "streamsets/summary", {**many, **WINDOW, "summaryType": ["Average", "Count"]}),
        ("/streamsets/value", "streamsets/value", many),
        ("/streamsets/{webId}/end", f"streamsets/{e}/end", {}),
        ("/streamsets/{webId}/interpolated", f"streamsets/{e}/interpolated", WINDOW),
        ("/streamsets/{webId}/plot", f"streamsets/{e}/plot", WINDOW),
        ("/streamsets/{webId}/recorded", f"streamsets/{e}/recorded", WINDOW),
        ("/streamsets/{webId}/summary", f"streamsets/{e}/summary", WINDOW),
        ("/streamsets/{webId}/value", f"streamsets/{e}/value", {}),
    ]


def test_every_specified_read_resource_is_requested():
    assert {
        spec for spec, _, _ in requests_of({"point": "", "points": [], "element": "", "set": "", "server": ""})
    } == {path for path, operations in SPEC["paths"].items() if "get" in operations and "updates" not in path}


def test_every_answer_validates_against_the_vendors_schema(server, ids):
    ids = {**ids, "server": server.api.server_webid}
    failures = []
    for spec_path, url_path, params in requests_of(ids):
        response = requests.get(f"{server.url}/{url_path}", params=params, timeout=30)
        if response.status_code not in (200, 207):
            failures.append(f"{url_path}: {response.status_code} {response.text[:200]}")
            continue
        body = response.json()
        assert body, url_path
        for error in validator(spec_path, response.status_code).iter_errors(body):
            failures.append(f"{spec_path}: {'/'.join(map(str, error.absolute_path))}: {error.message[:160]}")
    assert not failures, "\n".join(failures[:40])
