"""Re-read requests: the control table's rows checked, coverage from earlier re-reads, tag matching and
the planning of re-read windows beside the regular ones."""

import datetime as dt
import json

import pytest

from connector_lib.bronze import COLUMN_NAMES
from connector_lib.client import PIWebAPIClient
from connector_lib.config import ConfigError, PIConfig
from connector_lib.discovery import Tag, discover_tags
from connector_lib.extract import iter_rows, read_windows, window_context
from connector_lib.plan import WindowTask, plan_rereads
from connector_lib.reread import RereadRequest, covered_until, name_pattern, requests_from_rows
from pi_simulator import Archive, SimulatorServer

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = PIConfig.from_mapping({"pi.url": "http://h/piwebapi", "pi.max_window": "1h"})
TABLE = "pi_reread_requests"


def hours(h: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=h)


def row(request_id="fix-1", tags="A", start=hours(0), end=hours(3)):
    return {"request_id": request_id, "tags": tags, "start_time": start, "end_time": end}


@pytest.mark.parametrize(
    "filters, matching, other",
    [
        ("Boiler.Temp", ["boiler.temp", "BOILER.TEMP"], ["Boiler.Temp2", "Boiler_Temp"]),
        ("Boiler.*, Pump?.Flow", ["Boiler.Temp", "Boiler.", "Pump1.Flow"], ["XBoiler.Temp", "Pump12.Flow"]),
        ("Line[1]*", ["Line[1].Speed"], ["Line1.Speed"]),  # brackets are plain characters, as in PI names
    ],
)
def test_tags_are_names_or_pi_filters_case_insensitive(filters, matching, other):
    pattern = name_pattern(filters)
    assert all(pattern.fullmatch(n) for n in matching)
    assert not any(pattern.fullmatch(n) for n in other)


@pytest.mark.parametrize("filters", [None, "", " ", "*", "A, *"])
def test_no_tags_or_a_star_means_every_tag(filters):
    assert name_pattern(filters) is None
    assert RereadRequest("r", filters, hours(0), hours(1)).matches("anything")


def test_coverage_is_the_gapless_run_from_the_start():
    assert covered_until(hours(0), []) == hours(0)
    assert covered_until(hours(0), [(hours(1), hours(2)), (hours(0), hours(1))]) == hours(2)
    assert covered_until(hours(0), [(hours(0), hours(1)), (hours(1.5), hours(3))]) == hours(1)  # gap
    assert covered_until(hours(1), [(hours(0), hours(2)), (hours(2), hours(2.5))]) == hours(2.5)


def test_requests_carry_what_earlier_updates_re_read():
    done = [
        {"request_id": "fix-1", "web_id": "WA", "window_start": hours(0), "window_end": hours(1)},
        {"request_id": "fix-1", "web_id": "WA", "window_start": hours(1), "window_end": hours(2)},
        {"request_id": "fix-1", "web_id": "WB", "window_start": hours(2), "window_end": hours(3)},  # gap
        {"request_id": "gone", "web_id": "WA", "window_start": hours(0), "window_end": hours(9)},
    ]
    naive = dict(row("fix-2"), start_time=hours(0).replace(tzinfo=None), end_time=hours(1).replace(tzinfo=None))
    requests = {r.request_id: r for r in requests_from_rows(TABLE, [row(), row(), naive], done)}
    assert set(requests) == {"fix-1", "fix-2"}  # a repeated identical row is one request
    assert requests["fix-1"].covered == {"WA": hours(2), "WB": hours(0)}
    assert requests["fix-2"].start == hours(0) and requests["fix-2"].covered == {}  # naive times are UTC
    again = RereadRequest.from_json(requests["fix-1"].to_json())
    assert again == requests["fix-1"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (row(request_id=None), "pi_reread_requests: request_id must be a non-empty string, got None"),
        (row(request_id="  "), "request_id must be a non-empty string"),
        (row(start=None), "pi_reread_requests: request 'fix-1': start_time and end_time are required timestamps"),
        (row(end="2026-01-01"), "start_time and end_time are required timestamps"),
        (
            row(start=hours(3), end=hours(3)),
            "request 'fix-1': start_time must be before end_time, got "
            "2026-01-01T03:00:00+00:00 >= 2026-01-01T03:00:00+00:00",
        ),
        (row(tags=7), "request 'fix-1': tags must be a string of names or filters, got 7"),
    ],
)
def test_a_bad_request_fails_with_one_line_naming_the_table_request_and_column(bad, message):
    with pytest.raises(ConfigError) as info:
        requests_from_rows(TABLE, [bad])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_one_id_for_two_different_requests_is_refused():
    with pytest.raises(ConfigError, match="request 'fix-1': the id is used by two different rows"):
        requests_from_rows(TABLE, [row(), row(end=hours(4))])


def test_rereads_are_planned_in_bounded_chunks_up_to_the_request_end():
    tags = [Tag("WA", "A", "Float32"), Tag("WB", "B"), Tag("WC", "C")]
    request = RereadRequest("fix-1", "A,B", hours(0), hours(2.5))
    positions = {("fix-1", "WA"): hours(0), ("fix-1", "WB"): hours(2)}  # B was re-read up to 2 h already
    marks = {"WA": hours(10)}
    first = {t.tag: t for t in plan_rereads(tags, [request], positions, marks, CONFIG, hours(12))}
    assert set(first) == {"A", "B"}  # C does not match
    assert (first["A"].start, first["A"].end, first["A"].prior_watermark, first["A"].reread) == (
        hours(0),
        hours(1),
        hours(10),
        "fix-1",
    )
    assert (first["B"].start, first["B"].end, first["B"].prior_watermark) == (hours(2), hours(2.5), None)
    assert first["A"].point_type == "Float32"
    positions = {("fix-1", t.web_id): t.end for t in first.values()}
    second = plan_rereads(tags, [request], positions, marks, CONFIG, hours(12))
    assert [(t.tag, t.start, t.end) for t in second] == [("A", hours(1), hours(2))]
    # never past the update's own end
    assert [t.end for t in plan_rereads(tags, [request], positions, marks, CONFIG, hours(1.5))] == [hours(1.5)]


def test_a_reread_window_travels_to_executors_and_names_its_request_in_the_completion_record():
    task = WindowTask("WA", "A", hours(0), hours(1), hours(5), "Float32", "", reread="fix-1")
    assert WindowTask.from_json(task.to_json()) == task
    assert WindowTask.from_json(task.to_json()[:8]) == task  # an offset written before the step was carried
    plain = WindowTask("WA", "A", hours(0), hours(1))
    assert window_context(plain) is None
    with SimulatorServer(Archive(seed=3, n_points=5)) as srv:
        config = PIConfig.from_mapping({"pi.url": srv.url})
        client = PIWebAPIClient(config)
        tag = discover_tags(client, config)[0]
        start, end = dt.datetime.now(UTC) - dt.timedelta(hours=2), dt.datetime.now(UTC) - dt.timedelta(hours=1)
        tasks = [
            WindowTask.of(tag, start, end, reread="fix-1"),
            WindowTask.of(tag, start, end),
        ]
        rows = [dict(zip(COLUMN_NAMES, r)) for r in iter_rows(read_windows(client, config, tasks))]
    reread, regular = [r for r in rows if r["record_kind"] == "window"]
    # the point's Step attribute, read at discovery, travels with every completion record
    assert tag.step is False
    assert json.loads(reread["raw"]) == {"reread": "fix-1", "step": False} and reread["status"] == "ok"
    assert json.loads(regular["raw"]) == {"step": False} and regular["status"] == "ok"
