"""Point metadata clients read besides values, over real HTTP: ``points/multiple`` (207 with an error per
item), a point's attributes, and the data server's digital state sets and their states. No Spark."""

from __future__ import annotations

import pytest
import requests

from pi_simulator import Archive, SimulatorServer
from pi_simulator.model import DIGITAL_SETS


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=13, n_points=45)


@pytest.fixture(scope="module")
def server(archive):
    with SimulatorServer(archive) as srv:
        yield srv


def get(server, resource, **params) -> requests.Response:
    return requests.get(f"{server.url}/{resource}", params=params, timeout=30)


def test_points_multiple_answers_each_point_in_order_with_an_error_per_missing_one(server, archive):
    a, b = archive.points[0], archive.points[7]
    paths = [f"\\\\PISIM\\{a.name}", "\\\\PISIM\\NO.SUCH.TAG"]
    response = get(server, "points/multiple", path=paths, webId=[server.api.point_webid(b), "F1DPnot-a-webid"])
    assert response.status_code == 207
    items = response.json()["Items"]
    assert [(i["Identifier"], i["IdentifierType"]) for i in items] == [
        (paths[0], "Path"),
        (paths[1], "Path"),
        (server.api.point_webid(b), "WebId"),
        ("F1DPnot-a-webid", "WebId"),
    ]
    assert items[0]["Object"]["Name"] == a.name and items[0]["Exception"] is None
    assert items[2]["Object"]["WebId"] == server.api.point_webid(b)
    assert items[1]["Object"] is None and "not found" in items[1]["Exception"]["Errors"][0]
    assert items[3]["Exception"]["Errors"]
    every = get(server, "points/multiple", path=paths[:1])
    assert every.status_code == 200


def test_points_multiple_include_mode_and_selected_fields_drop_null_parents(server, archive):
    paths = [f"\\\\PISIM\\{archive.points[0].name}", "\\\\PISIM\\NO.SUCH.TAG"]
    only_errors = get(server, "points/multiple", path=paths, includeMode="ItemsWithExceptionOnly").json()["Items"]
    assert [i["Identifier"] for i in only_errors] == paths[1:]
    selected = get(
        server, "points/multiple", path=paths, selectedFields="Items.Object.WebId;Items.Exception.Errors"
    ).json()
    assert selected["Items"][0] == {"Object": {"WebId": server.api.point_webid(archive.points[0])}}
    assert list(selected["Items"][1]) == ["Exception"]


def test_a_points_attributes_say_its_type_and_step(server, archive):
    counter = next(p for p in archive.points if p.point_type == "Int32")
    flow = next(p for p in archive.points if p.point_type == "Float64")
    for point, step in ((counter, 1), (flow, 0)):
        wid = server.api.point_webid(point)
        items = get(server, f"points/{wid}/attributes", name=["Step", "pointtype"]).json()["Items"]
        assert {i["Name"]: i["Value"] for i in items} == {"step": step, "pointtype": point.point_type}
        assert get(server, f"points/{wid}/attributes/engunits").json()["Value"] == point.kind.units
    wid = server.api.point_webid(flow)
    assert len(get(server, f"points/{wid}/attributes").json()["Items"]) > 10
    assert [i["Name"] for i in get(server, f"points/{wid}/attributes", nameFilter="e*").json()["Items"]] == [
        "exdesc",
        "engunits",
        "excdev",
    ]
    missing = get(server, f"points/{wid}/attributes", name="nosuch")
    assert missing.status_code == 400 and "could not be found" in missing.json()["Errors"][0]


def test_digital_state_sets_and_their_states(server):
    sets = get(server, f"dataservers/{server.api.server_webid}/enumerationsets").json()["Items"]
    assert [s["Name"] for s in sets] == ["System", *DIGITAL_SETS]
    pump = next(s for s in sets if s["Name"] == "PumpState")
    states = requests.get(pump["Links"]["Values"], timeout=30).json()["Items"]
    assert [(s["Value"], s["Name"]) for s in states] == list(enumerate(DIGITAL_SETS["PumpState"]))
    system = requests.get(sets[0]["Links"]["Values"], timeout=30).json()["Items"]
    assert {"Pt Created", "I/O Timeout", "No Data", "Calc Failed"} <= {s["Name"] for s in system}
    assert get(server, "enumerationsets/P1MSbogus/enumerationvalues").status_code == 404
