"""Hostile values in recorded-value pages, served by the simulator over real HTTP and read by the
connector: nothing crashes, every hostile value is either typed for what it is or quarantined with its
payload, and every other value of the window arrives exactly as the truth says."""

import datetime as dt
import json
from collections import Counter

import pytest

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.discovery import discover_tags
from connector_lib.extract import BRONZE_COLUMNS, iter_rows, read_windows
from connector_lib.plan import WindowTask
from pi_simulator import Archive, FaultPlan, SimulatorServer, truth
from pi_simulator.faults import HOSTILE_VALUES
from tests.conftest import hour_start

UTC = dt.UTC
COLS = [name for name, _ in BRONZE_COLUMNS]
END = hour_start()
START = END - dt.timedelta(hours=1)
COMPARED = ("value_type", "value_double", "value_string", "state_code", "state_name", "good", "units")

# what each hostile value must become: ("typed", value_type, check of the row) or ("quarantined", reason part)
EXPECTED = {
    "nan": ("typed", "string", lambda r: r["value_string"] == "nan" and r["value_double"] is None),
    "infinity": ("typed", "string", lambda r: r["value_string"] == "inf"),
    "-infinity": ("typed", "string", lambda r: r["value_string"] == "-inf"),
    "number_as_string": ("typed", "string", lambda r: r["value_string"] == "42.5"),
    "huge_string": ("typed", "string", lambda r: len(r["value_string"]) == 1_000_000),
    "unknown_fields": ("same", None, None),
    "offset_timestamp": ("same", None, None),
    "missing_timestamp": ("quarantined", "Timestamp missing"),
    "missing_value": ("quarantined", "Value is null"),
    "wrong_type_flag": ("quarantined", "Good is not a boolean"),
    "wrong_type_timestamp": ("quarantined", "Timestamp missing or not a string"),
    "wrong_type_value": ("quarantined", "unsupported Value type list"),
    "not_an_object": ("quarantined", "not a JSON object"),
    "digital_without_name": ("quarantined", "digital state without a Name"),
    "nested_garbage": ("quarantined", "digital state without a Name"),
}


#: hostile values without a readable timestamp: they cannot keep a place among the values of their instant
UNPLACED = ("missing_timestamp", "wrong_type_timestamp", "not_an_object")


def _content(rows) -> Counter:
    """Values by instant and content, sequence left out."""
    return Counter((r["timestamp"],) + tuple(r[c] for c in COMPARED) for r in rows)


def test_every_hostile_kind_has_an_expectation():
    assert set(EXPECTED) == set(HOSTILE_VALUES)


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=21, n_points=10)


@pytest.mark.parametrize("kind", HOSTILE_VALUES)
def test_hostile_value_is_typed_or_quarantined_and_the_rest_arrives(archive, kind):
    point = next(
        p
        for p in archive.points
        if p.point_type in ("Float32", "Float64") and len(truth.recorded(archive, p.name, START, END)) > 20
    )
    plan = FaultPlan(seed=4, sub_rate=1.0, sub_kinds=("hostile",), hostile_values=(kind,))
    with SimulatorServer(archive) as srv:
        config = PIConfig.from_mapping({"pi.url": srv.url, "pi.tags": point.name, "pi.page_size": "1000"})
        client = PIWebAPIClient(config)
        tag = discover_tags(client, config)[0]
        srv.set_faults(plan)
        task = WindowTask.of(tag, START, END)
        rows = [dict(zip(COLS, r)) for r in iter_rows(read_windows(client, config, [task]))]
        assert srv.api.faults.log.counts.get(f"hostile:{kind}") == 1
    windows = [r for r in rows if r["record_kind"] == "window"]
    quarantined = [r for r in rows if r["record_kind"] == "quarantine"]
    values = {(r["timestamp"], r["sequence"]): r for r in rows if r["record_kind"] == "value"}
    expected = {(t["timestamp"], t["sequence"]): t for t in truth.recorded(archive, point.name, START, END)}
    assert windows[0]["status"] == "ok"
    differing = [
        k
        for k in expected
        if k not in values or tuple(values[k][c] for c in COMPARED) != tuple(expected[k][c] for c in COMPARED)
    ]
    outcome = EXPECTED[kind]
    if outcome[0] == "same":
        assert not differing and not quarantined and len(values) == len(expected)
    elif outcome[0] == "typed":
        assert len(differing) == 1 and not quarantined and len(values) == len(expected)
        row = values[differing[0]]
        assert row["value_type"] == outcome[1] and outcome[2](row)
    elif kind in UNPLACED:
        # the hostile value is missing from the values, present in quarantine with its payload; with no
        # readable instant it holds no place, so a value beside it at the same instant takes sequence 0
        lost = _content(expected.values()) - _content(values.values())
        assert sum(lost.values()) == 1 and not _content(values.values()) - _content(expected.values())
        assert len(values) == len(expected) - 1
    else:
        # the hostile value is missing from the values, present in quarantine with its payload
        assert len(differing) == 1 and len(values) == len(expected) - 1
    if outcome[0] == "quarantined":
        assert len(quarantined) == 1 and outcome[1] in quarantined[0]["error"]
        raw = json.loads(quarantined[0]["raw"])
        assert raw == 42 if kind == "not_an_object" else isinstance(raw, dict)
        assert quarantined[0]["tag"] == point.name and quarantined[0]["window_start"] == START
        if kind not in UNPLACED:
            # a readable timestamp keeps the value's place: the key it leaves empty is its own, and it
            # is named in the quarantine row (the values beside it keep their sequences)
            assert (quarantined[0]["timestamp"], quarantined[0]["sequence"]) == differing[0]


def test_a_quarantined_value_keeps_its_place_among_values_at_the_same_instant():
    """Three values at one instant, the first unusable: the two others keep sequences 1 and 2 (the
    server's order), so a re-read that returns the first readable adds key 0 instead of shifting them."""
    from connector_lib.extract import WindowRead, value_rows

    at = START + dt.timedelta(minutes=5)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    good = {
        "Timestamp": stamp,
        "Value": 1.5,
        "Good": True,
        "Questionable": False,
        "Substituted": False,
        "Annotated": False,
        "UnitsAbbreviation": "m",
    }
    items = [dict(good, Value=None), dict(good, Value=2.5), dict(good, Value=3.5)]
    task = WindowTask("W1", "T1", START, END)
    rows = [dict(zip(COLS, r)) for r in value_rows(WindowRead(task, 1000), items, None, END)]
    assert [(r["record_kind"], r["sequence"], r["timestamp"]) for r in rows] == [
        ("quarantine", 0, at),
        ("value", 1, at),
        ("value", 2, at),
    ]
    assert [r["value_double"] for r in rows[1:]] == [2.5, 3.5]
