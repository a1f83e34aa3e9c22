"""The simulated Asset Framework over real HTTP: the hierarchy derived from the archive (every PI point
is one attribute's data reference), the element and attribute endpoints with their filters and
paging, WebIDs, static values, and changes to the hierarchy on a schedule."""

import datetime as dt

import pytest
import requests

from pi_simulator import Archive, SimulatorServer
from pi_simulator.af import AFChanges, AssetModel
from pi_simulator.truth import to_ticks

UTC = dt.UTC
T0 = dt.datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=3, n_points=200)


def get(srv, resource, **params):
    answer = requests.get(f"{srv.url}/{resource}", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def database(srv):
    server = get(srv, "assetservers")["Items"][0]
    assert server["Name"] == "PIAFSIM"
    db = get(srv, f"assetservers/{server['WebId']}/assetdatabases")["Items"][0]
    assert db["Path"] == "\\\\PIAFSIM\\Operations"
    return db


def test_every_point_is_the_data_reference_of_exactly_one_attribute():
    for n in (200, 30_000):
        archive = Archive(seed=1, n_points=n)
        state = AssetModel(archive).state(0)
        tags = [a.tag for a in state.attributes.values() if a.tag]
        real = [t for t in tags if t.upper() in archive.by_name]
        assert sorted(real) == sorted(p.name for p in archive.points)  # each point once
        assert all("MISSING" in t for t in tags if t.upper() not in archive.by_name)
    assert len(state.elements) > 13_000  # a few thousand elements are available


def test_hierarchy_levels_templates_and_categories(server):
    db = database(server)
    plants = get(server, f"assetdatabases/{db['WebId']}/elements")["Items"]
    assert [p["Name"] for p in plants] == ["Calgary", "Houston", "Osaka", "Rotterdam", "Sydney"]
    assert all(p["TemplateName"] == "Plant" and p["HasChildren"] for p in plants)
    units = get(server, f"elements/{plants[4]['WebId']}/elements")["Items"]
    assert units[0]["Path"] == "\\\\PIAFSIM\\Operations\\Sydney\\Unit 001"
    equipment = get(server, f"elements/{units[0]['WebId']}/elements")["Items"]
    assert [(e["Name"], e["TemplateName"]) for e in equipment] == [
        ("L-001", "Packaging Line"),
        ("P-001", "Centrifugal Pump"),
        ("TK-001", "Storage Tank"),
    ]
    assert equipment[1]["CategoryNames"] == ["Equipment", "Rotating Equipment"]
    assert equipment[1]["Links"]["Parent"].endswith(units[0]["WebId"])


def test_element_searches_filter_and_page_like_the_real_api(server):
    db = database(server)
    wid = db["WebId"]
    everything = get(server, f"assetdatabases/{wid}/elements", searchFullHierarchy="true")["Items"]
    assert len(everything) == 103
    # templateName includes derived templates; categoryName and nameFilter are case-insensitive
    equipment = get(server, f"assetdatabases/{wid}/elements", searchFullHierarchy="True", templateName="equipment")
    kinds = [e["TemplateName"] for e in everything]
    assert len(equipment["Items"]) == len(everything) - kinds.count("Plant") - kinds.count("Process Unit") == 73
    pumps = get(server, f"assetdatabases/{wid}/elements", searchFullHierarchy="true", categoryname="rotating equipment")
    assert {e["TemplateName"] for e in pumps["Items"]} == {"Centrifugal Pump"}
    named = get(server, f"assetdatabases/{wid}/elements", searchFullHierarchy="true", nameFilter="tk-00?")
    # 200 points: four full units of 45 points and a fifth partial one, per plant
    assert {e["Name"] for e in named["Items"]} == {f"TK-00{i}" for i in range(1, 6)}
    # paging: pages of 7 cover the same elements exactly once, in name order
    pages, start = [], 0
    while True:
        page = get(server, f"assetdatabases/{wid}/elements", searchFullHierarchy="true", startIndex=start, maxCount=7)[
            "Items"
        ]
        if not page:
            break
        pages.extend(page)
        start += 7
    assert [e["Id"] for e in pages] == [e["Id"] for e in everything]
    names = [e["Name"].upper() for e in everything]
    assert names == sorted(names)


def test_attributes_point_data_references_and_static_values(server, archive):
    pump = get(server, "elements", path="\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001")
    attributes = {a["Name"]: a for a in get(server, f"elements/{pump['WebId']}/attributes")["Items"]}
    assert set(attributes) == {
        "Manufacturer",
        "Model",
        "Serial Number",
        "Install Date",
        "Rated Flow",
        "Discharge Flow",
        "Discharge Pressure",
        "Bearing Vibration",
        "Status",
    }
    flow = attributes["Discharge Flow"]
    assert flow["DataReferencePlugIn"] == "PI Point" and flow["DefaultUnitsNameAbbreviation"] == "m3/h"
    tag = flow["ConfigString"].split("\\")[-1]
    point = get(server, flow["Links"]["Point"].split("/piwebapi/")[1])
    assert point["Name"] == tag and tag.startswith("SYD.U001.FT")
    assert flow["Path"] == "\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001|Discharge Flow"
    rated = attributes["Rated Flow"]
    assert rated["DataReferencePlugIn"] == "" and rated["Type"] == "Double"
    value = get(server, f"attributes/{rated['WebId']}/value")
    assert isinstance(value["Value"], float) and value["UnitsAbbreviation"] == "m3/h"
    assert get(server, f"attributes/{attributes['Install Date']['WebId']}/value")["Value"].endswith("Z")
    by_path = get(server, "attributes", path=flow["Path"])
    assert by_path["Id"] == flow["Id"]
    values = get(server, f"streamsets/{pump['WebId']}/value")["Items"]
    assert len(values) == 9 and {v["Name"] for v in values} == set(attributes)
    only = get(server, f"elements/{pump['WebId']}/attributes", categoryName="process", nameFilter="Dis*")
    assert {a["Name"] for a in only["Items"]} == {"Discharge Flow", "Discharge Pressure"}


def test_elementattributes_lists_every_attribute_of_a_search_in_pages(server):
    wid = database(server)["WebId"]
    flat, start = [], 0
    while True:
        page = get(
            server,
            f"assetdatabases/{wid}/elementattributes",
            searchFullHierarchy="true",
            elementTemplate="Equipment",
            startIndex=start,
            maxCount=50,
        )["Items"]
        if not page:
            break
        flat.extend(page)
        start += 50
    assert len({a["Id"] for a in flat}) == len(flat)
    points = [a for a in flat if a["DataReferencePlugIn"] == "PI Point"]
    missing = [a for a in points if "MISSING" in a["ConfigString"]]
    assert len(points) - len(missing) == 200 and all("Point" not in a["Links"] for a in missing)
    process = get(
        server,
        f"assetdatabases/{wid}/elementattributes",
        searchFullHierarchy="true",
        attributeCategory="process",
        elementNameFilter="P-001",
    )["Items"]
    assert {a["Name"] for a in process} == {"Discharge Flow", "Discharge Pressure", "Status"}


def test_webids_resolve_by_guid_and_unknown_ones_answer_404(server):
    pump = get(server, "elements", path="\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001")
    assert get(server, f"elements/{pump['WebId']}")["Id"] == pump["Id"]
    answer = requests.get(f"{server.url}/elements/F1Em{'A' * 44}", timeout=10)
    assert answer.status_code == 404 and answer.json()["Errors"]
    answer = requests.get(f"{server.url}/elements/not-a-webid", timeout=10)
    assert answer.status_code == 400 and answer.json()["Errors"]
    selected = get(server, f"elements/{pump['WebId']}", selectedFields="Name;Path")
    assert set(selected) == {"Name", "Path"}


def test_hierarchy_changes_on_schedule_and_answers_as_of_the_clock():
    archive = Archive(seed=3, n_points=200)
    at = to_ticks(T0)
    other = next(p.name for p in archive.points if p.name.startswith("SYD.U002.FT"))
    changes = AFChanges(
        renames=(("Sydney\\Unit 001\\P-001", at, "P-001A"),),
        moves=(("Sydney\\Unit 001\\TK-001", at, "Sydney\\Unit 002"),),
        repoints=(("Sydney\\Unit 001\\P-001|Discharge Flow", at, other),),
    )
    model = AssetModel(archive, changes)
    with SimulatorServer(archive, assets=model) as server:
        server.api.clock = lambda: T0 - dt.timedelta(seconds=1)
        before = get(server, "elements", path="\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001")
        tank = get(server, "elements", path="\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\TK-001")
        flow = get(server, "attributes", path=before["Path"] + "|Discharge Flow")
        server.api.clock = lambda: T0
        after = get(server, f"elements/{before['WebId']}")  # the old Full WebID still resolves by GUID
        assert (after["Id"], after["Name"]) == (before["Id"], "P-001A")
        assert after["Path"] == "\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001A"
        moved = get(server, f"elements/{tank['WebId']}")
        assert moved["Path"] == "\\\\PIAFSIM\\Operations\\Sydney\\Unit 002\\TK-001"
        repointed = get(server, f"attributes/{flow['WebId']}")
        assert flow["ConfigString"] == "\\\\PISIM\\SYD.U001.FT00020.PV"
        assert repointed["ConfigString"] == f"\\\\PISIM\\{other}" and repointed["Id"] == flow["Id"]
        assert repointed["Links"]["Point"] != flow["Links"]["Point"]
        old_path = requests.get(f"{server.url}/elements", params={"path": before["Path"]}, timeout=10)
        assert old_path.status_code == 404
    with pytest.raises(ValueError, match="unknown element"):
        AssetModel(archive, AFChanges(renames=(("Nowhere\\X", at, "Y"),)))
