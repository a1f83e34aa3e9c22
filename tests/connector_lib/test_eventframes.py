"""Event frames read by the connector from the simulator over real HTTP, compared with the simulator's
frames as of its clock (the ground truth): every frame active in the searched range once, over many pages;
in-progress frames with no end; acknowledgements and attribute values; a second read from the first one's
end minus the lookback sees a frame close, an alarm acknowledged and a reason entered; template filters;
a failure marks the read failed; a frame that cannot be parsed goes to quarantine."""

import datetime as dt
import json

import pytest

from connector_lib.af import databases
from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.eventframes import EF_COLUMN_NAMES, frame_columns, read_event_frames, search_start
from devtools.reconcile_af import frames_truth
from pi_simulator import Archive, FaultPlan, SimulatorServer
from pi_simulator.eventframes import EF_TEMPLATES
from pi_simulator.truth import ticks_to_datetime

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def server():
    with SimulatorServer(Archive(seed=3, n_points=120)) as srv:
        srv.api.clock = lambda: NOW
        yield srv


def read(srv, since=None, planned_at=None, **settings):
    config = PIConfig.from_mapping(
        {"pi.url": srv.url, "pi.af.databases": "Operations", "pi.ef.backfill_start": "*-1d", **settings}
    )
    client = PIWebAPIClient(config)
    rows = []
    for db in databases(client, config):
        rows.extend(
            dict(zip(EF_COLUMN_NAMES, r))
            for r in read_event_frames(client, config, db, since, planned_at or srv.api.clock())
        )
    return rows


def check(srv, rows, lo, templates=None):
    expected = frames_truth(srv.api.assets.model, lo, srv.api.clock(), templates)
    frames = [r for r in rows if r["record_kind"] == "event_frame"]
    got = {r["id"]: r for r in frames}
    assert len(got) == len(frames)  # each once
    assert set(got) == set(expected) and len(got) > 20
    routes = srv.api.eventframes
    elements = srv.api.assets._state().elements
    for fid, state in expected.items():
        row, f = got[fid], state.frame
        template = EF_TEMPLATES[f.template]
        assert (row["name"], row["template"], row["web_id"]) == (f.name, f.template, routes.frame_webid(f))
        assert row["start_time"] == ticks_to_datetime(f.start)
        assert row["in_progress"] == state.in_progress
        assert row["end_time"] == (None if state.in_progress else ticks_to_datetime(f.end))
        acknowledged = template.can_be_acknowledged and state.is_acknowledged
        assert row["is_acknowledged"] == acknowledged and row["can_be_acknowledged"] == template.can_be_acknowledged
        assert row["acknowledged_by"] == (f.ack_by if acknowledged else None)
        assert row["acknowledged_at"] == (ticks_to_datetime(f.ack_at) if acknowledged else None)
        assert row["severity"] == f.severity and row["categories"] == list(template.categories)
        assert row["element_web_ids"][0] == srv.api.assets.element_webid(srv.api.assets._state(), f.element)
        assert len(row["element_web_ids"]) == len([e for e in f.referenced if e in elements])
        values = {name: json.loads(v)["Value"] for name, v in row["attributes"].items()}
        for name, _, _ in template.attributes:
            want = state.values.get(name)
            assert values[name] == (want if want is not None else {"Name": "No Data", "Value": 248, "IsSystem": True})
    return got


def test_a_first_read_finds_every_frame_active_since_the_backfill_start_once_over_many_pages(server):
    rows = read(server, **{"pi.ef.page_size": "7"})
    got = check(server, rows, NOW - dt.timedelta(days=1))
    assert len(got) > 7 * 10  # many pages
    assert {r["template"] for r in got.values()} == set(EF_TEMPLATES)
    assert any(r["in_progress"] and r["end_time"] is None for r in got.values())
    assert any(r["is_acknowledged"] for r in got.values())
    last = rows[-1]
    assert last["record_kind"] == "read" and last["status"] == "ok" and last["frame_count"] == len(got)
    assert (last["search_start"], last["search_end"]) == (NOW - dt.timedelta(days=1), NOW)
    assert {r["read_id"] for r in rows} == {last["read_id"]}


def test_a_second_read_from_the_first_ones_end_sees_frames_close_acknowledged_and_edited(server):
    lookback = dt.timedelta(hours=4)
    first = read(server)
    later = NOW + dt.timedelta(hours=2)
    server.api.clock = lambda: later
    try:
        second = read(server, since=NOW, planned_at=later)
        check(server, second, NOW - lookback)
        one = {r["id"]: r for r in first if r["record_kind"] == "event_frame"}
        two = {r["id"]: r for r in second if r["record_kind"] == "event_frame"}
        closed = [i for i in one if one[i]["in_progress"] and i in two and not two[i]["in_progress"]]
        acknowledged = [i for i in one if not one[i]["is_acknowledged"] and i in two and two[i]["is_acknowledged"]]
        assert closed and acknowledged
        assert all(i in two for i in one if one[i]["in_progress"])  # an open frame is found again
        assert second[-1]["search_start"] == NOW - lookback
    finally:
        server.api.clock = lambda: NOW


def test_template_filters_read_only_those_templates(server):
    rows = read(server, **{"pi.ef.templates": "Alarm, batch"})
    got = check(server, rows, NOW - dt.timedelta(days=1), templates=("Alarm", "Batch"))
    assert {r["template"] for r in got.values()} == {"Alarm", "Batch"}


def test_a_failure_part_way_marks_the_read_failed():
    with SimulatorServer(Archive(seed=3, n_points=120)) as srv:
        srv.api.clock = lambda: NOW
        srv.set_faults(FaultPlan(seed=1, fail_first=1, http_kinds=("503",)))  # the values' batch call fails
        rows = read(srv, **{"pi.http.max_retries": "0"})
    last = rows[-1]
    assert last["record_kind"] == "read" and last["status"] == "failed" and "503" in last["error"]


def test_the_search_starts_at_the_previous_end_minus_the_lookback_or_at_the_backfill_start():
    config = PIConfig.from_mapping(
        {
            "pi.url": "http://pi/piwebapi",
            "pi.af.databases": "Operations",
            "pi.ef.lookback": "30m",
            "pi.ef.backfill_start": "*-7d",
        }
    )
    assert search_start(config, None, NOW) == NOW - dt.timedelta(days=7)
    assert search_start(config, NOW - dt.timedelta(hours=1), NOW) == NOW - dt.timedelta(minutes=90)


@pytest.mark.parametrize(
    "broken, reason",
    [
        ({"Id": None}, "no Id"),
        ({"StartTime": "yesterday"}, "StartTime"),
        ({"StartTime": None}, "StartTime"),
        ({"RefElementWebIds": "E1"}, "RefElementWebIds"),
        ({"EndTime": 5}, "EndTime"),
    ],
)
def test_a_frame_that_cannot_be_used_is_refused_with_the_reason(broken, reason):
    good = {
        "Id": "6f1c",
        "WebId": "F1FmX",
        "Name": "Alarm P-001",
        "StartTime": "2026-06-01T10:00:00Z",
        "EndTime": "9999-12-31T23:59:59Z",
        "IsAcknowledged": False,
        "RefElementWebIds": ["E1"],
    }
    columns = frame_columns(good)
    assert columns["in_progress"] and columns["end_time"] is None
    with pytest.raises(ValueError, match=reason):
        frame_columns({**good, **broken})
