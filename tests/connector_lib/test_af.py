"""AF snapshots read by the connector from the simulator over real HTTP, compared with the simulator's
AF model (the ground truth): every element and attribute once, paths, templates and categories, PI Point
references resolved to point WebIDs, static values; several thousand elements with more than one page per
level; a root and template filters; clear errors for wrong settings; a failure marks the snapshot failed."""

import datetime as dt
import json

import pytest

from connector_lib.af import AF_COLUMN_NAMES, databases, snapshot
from connector_lib.client import PIWebAPIClient
from connector_lib.config import ConfigError, PIConfig
from pi_simulator import Archive, FaultPlan, SimulatorServer
from pi_simulator.af import AssetModel
from pi_simulator.truth import to_ticks

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=UTC)


def read(srv, **settings):
    config = PIConfig.from_mapping({"pi.url": srv.url, "pi.af.databases": "Operations", **settings})
    client = PIWebAPIClient(config)
    rows = []
    for db in databases(client, config):
        rows.extend(dict(zip(AF_COLUMN_NAMES, r)) for r in snapshot(client, config, db, "s1"))
    return rows


def truth(srv):
    model: AssetModel = srv.api.assets.model
    return model, model.state(to_ticks(srv.api.clock()))


def expected_value(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, dt.datetime) else value


def check_against_truth(srv, rows, elements=None):
    model, state = truth(srv)
    chosen = set(state.elements) if elements is None else elements
    got = {r["id"]: r for r in rows if r["record_kind"] == "element"}
    assert len(got) == len([r for r in rows if r["record_kind"] == "element"])  # each once
    assert set(got) == {str(e) for e in chosen}
    for eid in chosen:
        row, e = got[str(eid)], state.elements[eid]
        assert row["path"] == model.full_path(state.paths[eid])
        assert (row["name"], row["template"], row["categories"]) == (e.name, e.template, list(e.categories))
        parent = model.full_path(state.paths[e.parent]) if e.parent else None
        assert row["parent_path"] == parent
    attributes = {r["id"]: r for r in rows if r["record_kind"] == "attribute"}
    wanted = [a for a in state.attributes.values() if a.element in chosen]
    assert set(attributes) == {str(a.id) for a in wanted}
    archive = srv.api.archive
    for a in wanted:
        row = attributes[str(a.id)]
        assert row["element_path"] == model.full_path(state.paths[a.element])
        if a.template.data_reference:
            point = archive.by_name.get(a.tag.upper())
            assert row["tag"] == a.tag and row["data_reference"] == "PI Point"
            assert row["point_web_id"] == (srv.api.point_webid(point) if point else None)
            assert row["value"] is None
        else:
            assert json.loads(row["value"]) == expected_value(a.value) and row["tag"] is None
    last = rows[-1]
    assert last["record_kind"] == "snapshot" and last["status"] == "ok"
    assert (last["element_count"], last["attribute_count"]) == (len(chosen), len(wanted))


def test_a_snapshot_equals_the_af_model(tmp_path):
    archive = Archive(seed=3, n_points=200)
    with SimulatorServer(archive) as srv:
        srv.api.clock = lambda: NOW
        rows = read(srv, **{"pi.af.page_size": "7"})
        check_against_truth(srv, rows)
        points = {r["tag"] for r in rows if r["point_web_id"]}
        assert points == {p.name for p in archive.points}  # every tag maps to an asset


def test_several_thousand_elements_more_than_one_page_per_level():
    archive = Archive(seed=5, n_points=12_000)
    with SimulatorServer(archive) as srv:
        srv.api.clock = lambda: NOW
        model, state = truth(srv)
        widest = max(len(children) for children in state.children.values())
        page = 250
        assert len(state.elements) > 5000 and widest > page  # a level holds more than one page
        rows = read(srv, **{"pi.af.page_size": str(page)})
        check_against_truth(srv, rows)


def test_root_and_template_filters():
    archive = Archive(seed=3, n_points=200)
    with SimulatorServer(archive) as srv:
        srv.api.clock = lambda: NOW
        model, state = truth(srv)
        unit = next(e for e, p in state.paths.items() if p == "Sydney\\Unit 001")
        rows = read(srv, **{"pi.af.root": "Sydney\\Unit 001", "pi.af.element_templates": "Equipment"})
        check_against_truth(srv, rows, elements=set(state.children[unit]))
        whole = read(srv, **{"pi.af.root": "\\Sydney\\Unit 001\\"})
        check_against_truth(srv, whole, elements={unit, *state.children[unit]})
        pumps = read(srv, **{"pi.af.element_templates": "Centrifugal Pump, Storage Tank"})
        assert {r["template"] for r in pumps if r["record_kind"] == "element"} == {"Centrifugal Pump", "Storage Tank"}


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"pi.af.databases": "Nowhere"}, "pi.af.databases: Nowhere not found on PIAFSIM (it has: Operations)"),
        ({"pi.af.server": "OTHERAF"}, "pi.af.server: 'OTHERAF' not found (the PI Web API lists: PIAFSIM)"),
        ({"pi.af.root": "Sydney\\Unit 999"}, "pi.af.root: no element 'Sydney\\\\Unit 999' in \\\\PIAFSIM\\Operations"),
    ],
)
def test_wrong_af_settings_name_the_key(settings, message):
    with SimulatorServer(Archive(seed=3, n_points=50)) as srv:
        with pytest.raises(ConfigError) as info:
            read(srv, **settings)
    assert str(info.value) == message


def test_a_failure_part_way_marks_the_snapshot_failed():
    archive = Archive(seed=3, n_points=200)
    with SimulatorServer(archive) as srv:
        srv.set_faults(FaultPlan(seed=1, fail_first=1, http_kinds=("503",)))  # the values' batch call fails
        rows = read(srv, **{"pi.http.max_retries": "0"})
    last = rows[-1]
    assert last["record_kind"] == "snapshot" and last["status"] == "failed" and "503" in last["error"]
    assert last["element_count"] == 103
