"""A point's calculated reads over real HTTP (``interpolated``, ``interpolatedattimes``,
``recordedattime``, ``plot``, ``summary``, ``value`` at a time), checked against the same point's
``recorded`` events: the line between two events computed here with numpy, the time integral of a fine
interpolation, the events the plot picks. No Spark.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import requests

from pi_simulator import Archive, SimulatorServer
from pi_simulator.render import format_ticks
from pi_simulator.truth import to_ticks
from tests.conftest import hour_start

HOUR = dt.timedelta(hours=1)
START = hour_start(3)
END = START + HOUR


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=11, n_points=45)


@pytest.fixture(scope="module")
def server(archive):
    with SimulatorServer(archive) as srv:
        yield srv


def iso(when: dt.datetime) -> str:
    return format_ticks(to_ticks(when))


def get(server, point, resource: str, **params) -> requests.Response:
    wid = server.api.point_webid(point)
    return requests.get(f"{server.url}/streams/{wid}/{resource}", params=params, timeout=30)


def ok(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def recorded(server, point, start=START - HOUR, end=END + HOUR) -> list[dict]:
    return ok(get(server, point, "recorded", startTime=iso(start), endTime=iso(end)))["Items"]


def seconds(text: str) -> float:
    """Seconds from START to a PI timestamp (``...Z``, up to 7 fractional digits)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    when = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC)
    return (when - START).total_seconds() + float(f"0.{fraction or 0}")


def continuous_point(archive):
    """A Float point (Step off) with no system state from an hour before the window to an hour after it,
    so every value there is a number."""
    lo, hi = to_ticks(START - HOUR), to_ticks(END + HOUR)
    for p in archive.points:
        if p.point_type.startswith("Float") and not archive.events(p, lo, hi).system_code.any():
            return p
    raise AssertionError("no continuous point without system states")


def good_numbers(items: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    good = [i for i in items if i["Good"] and isinstance(i["Value"], (int, float))]
    return np.array([seconds(i["Timestamp"]) for i in good]), np.array([float(i["Value"]) for i in good])


def test_interpolated_values_lie_on_the_line_between_recorded_events(server, archive):
    point = continuous_point(archive)
    events = recorded(server, point)
    got = ok(get(server, point, "interpolated", startTime=iso(START), endTime=iso(END), interval="5m"))
    assert len(got["Items"]) == 13  # both ends included
    assert [seconds(i["Timestamp"]) for i in got["Items"]] == [300.0 * k for k in range(13)]
    t, v = good_numbers(events)
    expected = np.interp([300.0 * k for k in range(13)], t, v)
    assert np.allclose([i["Value"] for i in got["Items"]], expected, rtol=1e-12)
    assert got["UnitsAbbreviation"] == point.kind.units


def test_a_stepped_point_holds_its_previous_event(server, archive):
    point = next(p for p in archive.points if p.point_type == "Int32")
    events = recorded(server, point)
    times = [START + dt.timedelta(minutes=m) for m in (7, 23, 41)]
    got = ok(get(server, point, "interpolatedattimes", time=[iso(t) for t in times]))["Items"]
    for when, item in zip(times, got):
        before = [e for e in events if e["Timestamp"] <= iso(when)][-1]
        assert item["Value"] == before["Value"] and item["Timestamp"] == iso(when)


def test_the_time_weighted_average_is_the_integral_of_the_interpolated_line(server, archive):
    point = continuous_point(archive)
    # sampled every 100 ms: the trapezoid misses the line only within the 100 ms around an event off the grid
    fine = ok(get(server, point, "interpolated", startTime=iso(START), endTime=iso(END), interval="0.1s"))
    values = np.array([i["Value"] for i in fine["Items"]], dtype=float)
    integral = np.trapezoid(values, dx=0.1) / 3600.0
    summary = ok(get(server, point, "summary", startTime=iso(START), endTime=iso(END), summaryType="All"))
    by_type = {i["Type"]: i["Value"] for i in summary["Items"]}
    assert by_type["Average"]["Value"] == pytest.approx(integral, rel=1e-5)
    assert by_type["PercentGood"]["Value"] == pytest.approx(100.0)
    assert by_type["Total"]["Value"] == pytest.approx(integral * 3600 / 86400, rel=1e-5)
    assert by_type["Minimum"]["Value"] <= values.min() + 1e-9 and by_type["Maximum"]["Value"] >= values.max() - 1e-9
    assert by_type["Average"]["Timestamp"] == iso(START)  # timeType Auto: the interval's start
    assert [i["Type"] for i in summary["Items"]] == [
        "Total",
        "Average",
        "Minimum",
        "Maximum",
        "Range",
        "StdDev",
        "PopulationStdDev",
        "Count",
        "PercentGood",
    ]


def test_summary_durations_give_one_item_per_type_and_interval(server, archive):
    point = continuous_point(archive)
    got = ok(
        get(
            server,
            point,
            "summary",
            startTime=iso(START),
            endTime=iso(END),
            summaryType=["Average", "Count"],
            summaryDuration="10m",
            calculationBasis="timeweighted",
        )
    )["Items"]
    assert [i["Type"] for i in got] == ["Average"] * 6 + ["Count"] * 6
    assert [i["Value"]["Timestamp"] for i in got[:6]] == [iso(START + dt.timedelta(minutes=10 * k)) for k in range(6)]
    whole = ok(get(server, point, "summary", startTime=iso(START), endTime=iso(END), summaryType="Average"))
    # six equal, fully good intervals: the hour's mean is the mean of theirs
    assert np.mean([i["Value"]["Value"] for i in got[:6]]) == pytest.approx(whole["Items"][0]["Value"]["Value"])
    assert all(i["Value"]["Value"] == pytest.approx(600.0) for i in got[6:])  # good seconds


def test_event_weighted_average_is_the_mean_of_the_recorded_events(server, archive):
    point = continuous_point(archive)
    events = recorded(server, point, START, END)
    got = ok(
        get(
            server,
            point,
            "summary",
            startTime=iso(START),
            endTime=iso(END),
            summaryType=["Average", "Count"],
            calculationBasis="EventWeighted",
        )
    )["Items"]
    numbers = [e["Value"] for e in events if e["Good"]]
    assert got[0]["Value"]["Value"] == pytest.approx(sum(numbers) / len(numbers))
    assert got[1]["Value"]["Value"] == len(numbers)


def test_a_non_numeric_point_is_summarised_by_count_only(server, archive):
    point = next(p for p in archive.points if p.point_type == "Digital")
    refused = get(server, point, "summary", startTime=iso(START), endTime=iso(END), summaryType="Average")
    assert refused.status_code == 400 and "non-numeric" in refused.json()["Errors"][0]
    count = ok(get(server, point, "summary", startTime=iso(START), endTime=iso(END), summaryType="Count"))
    assert 0 < count["Items"][0]["Value"]["Value"] <= 3600


def test_recorded_at_time_modes_agree_with_the_recorded_events(server, archive):
    point = continuous_point(archive)
    events = recorded(server, point, START, END)
    middle = events[len(events) // 2]
    at = middle["Timestamp"]
    for mode in ("Exact", "AtOrBefore", "AtOrAfter"):
        assert ok(get(server, point, "recordedattime", time=at, retrievalMode=mode)) == middle, mode
    before = ok(get(server, point, "recordedattime", time=at, retrievalMode="before"))
    after = ok(get(server, point, "recordedattime", time=at, retrievalMode="After"))
    index = events.index(middle)
    assert before["Timestamp"] < at < after["Timestamp"]
    assert before == [e for e in events[:index] if e["Timestamp"] < at][-1]
    assert after == [e for e in events[index:] if e["Timestamp"] > at][0]
    missing = ok(get(server, point, "recordedattime", time=iso(START - dt.timedelta(days=3650)), retrievalMode="Exact"))
    assert missing["Good"] is False and missing["Value"]["Name"] == "No Data"


def test_value_at_a_time_is_the_interpolated_value(server, archive):
    point = continuous_point(archive)
    when = START + dt.timedelta(minutes=17, seconds=3)
    at = ok(get(server, point, "value", time=iso(when)))
    interpolated = ok(get(server, point, "interpolatedattimes", time=iso(when)))["Items"][0]
    assert at == interpolated
    snapshot = ok(get(server, point, "value"))
    assert snapshot["Timestamp"] > iso(END)


def test_a_plot_shows_recorded_events_including_each_intervals_first_and_last(server, archive):
    point = continuous_point(archive)
    events = recorded(server, point, START, END)
    got = ok(get(server, point, "plot", startTime=iso(START), endTime=iso(END), intervals=12))["Items"]
    assert got and all(item in events for item in got)
    assert got[0] == events[0] and got[-1] == events[-1]
    assert len(got) <= 5 * 12 and len(got) < len(events)
    values = [e["Value"] for e in events]
    assert max(values) in [i["Value"] for i in got] and min(values) in [i["Value"] for i in got]


@pytest.mark.parametrize(
    "resource,params,says",
    [
        ("summary", {"summaryType": "Median"}, "summaryType"),
        ("summary", {"calculationBasis": "Weighted"}, "calculationBasis"),
        ("interpolated", {"interval": "soon"}, "interval"),
        ("recordedattime", {}, "time"),
        ("recordedattime", {"time": "*", "retrievalMode": "Nearest"}, "retrievalMode"),
        ("plot", {"intervals": "0"}, "intervals"),
        ("interpolated", {"filterExpression": "'.' > 5"}, "filterExpression"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(server, archive, resource, params, says):
    response = get(server, continuous_point(archive), resource, **params)
    assert response.status_code == 400 and says in response.json()["Errors"][0], response.text


# ---- the same reads through AF attributes and stream sets ---------------------------------------------


def pump_attributes(server) -> tuple[dict, dict]:
    pump = requests.get(
        f"{server.url}/elements", params={"path": "\\\\PIAFSIM\\Operations\\Sydney\\Unit 001\\P-001"}, timeout=30
    ).json()
    items = requests.get(f"{server.url}/elements/{pump['WebId']}/attributes", timeout=30).json()["Items"]
    return pump, {a["Name"]: a for a in items}


def by_url(url: str, **params) -> dict:
    return ok(requests.get(url, params=params, timeout=30))


WINDOW = {"startTime": iso(START), "endTime": iso(END)}


@pytest.mark.parametrize(
    "resource,params",
    [
        ("recorded", WINDOW),
        ("interpolated", {**WINDOW, "interval": "10m"}),
        ("plot", {**WINDOW, "intervals": "6"}),
        ("summary", {**WINDOW, "summaryType": "All"}),
        ("recordedattime", {"time": iso(START), "retrievalMode": "AtOrAfter"}),
        ("interpolatedattimes", {"time": [iso(START), iso(END)]}),
    ],
)
def test_an_attributes_stream_is_its_pi_points_stream(server, archive, resource, params):
    _, attributes = pump_attributes(server)
    flow = attributes["Discharge Flow"]
    point = by_url(flow["Links"]["Point"])
    through_attribute = by_url(f"{server.url}/streams/{flow['WebId']}/{resource}", **params)
    assert through_attribute == by_url(f"{server.url}/streams/{point['WebId']}/{resource}", **params)


def test_a_static_attribute_has_no_stream(server):
    _, attributes = pump_attributes(server)
    rated = attributes["Rated Flow"]
    response = requests.get(f"{server.url}/streams/{rated['WebId']}/interpolated", timeout=30)
    assert response.status_code == 409


@pytest.mark.parametrize("resource", ["interpolated", "summary", "plot", "recordedattime", "end"])
def test_an_ad_hoc_stream_set_answers_each_stream_as_its_own_resource_would(server, archive, resource):
    points = [p for p in archive.points if p.point_type.startswith("Float")][:3]
    webids = [server.api.point_webid(p) for p in points]
    params = {"recordedattime": {"time": iso(START)}, "end": {}}.get(resource, {**WINDOW, "summaryType": "Average"})
    got = by_url(f"{server.url}/streamsets/{resource}", webId=webids, **params)["Items"]
    assert [i["WebId"] for i in got] == webids and [i["Name"] for i in got] == [p.name for p in points]
    for item, wid in zip(got, webids):
        own = by_url(f"{server.url}/streams/{wid}/{resource}", **params)
        if resource == "recordedattime":
            assert item["Value"] == own
        elif resource == "end":
            assert item["Items"] == [own]
        else:
            assert item["Items"] == own["Items"]
        assert item["Links"]["Source"].endswith(f"points/{wid}")


def test_an_ad_hoc_stream_set_value_at_a_time_and_of_attributes(server, archive):
    point = archive.points[0]
    wid = server.api.point_webid(point)
    when = iso(START + dt.timedelta(minutes=30))
    got = by_url(f"{server.url}/streamsets/value", webId=[wid], time=when)["Items"][0]
    assert got["Value"] == by_url(f"{server.url}/streams/{wid}/value", time=when)


def test_an_elements_stream_set_reads_each_attribute_with_a_pi_point(server):
    pump, attributes = pump_attributes(server)
    got = by_url(f"{server.url}/streamsets/{pump['WebId']}/interpolated", **WINDOW, interval="30m")["Items"]
    referenced = sorted(n for n, a in attributes.items() if a["DataReferencePlugIn"] == "PI Point")
    assert [i["Name"] for i in got] == referenced
    for item in got:
        own = by_url(f"{server.url}/streams/{item['WebId']}/interpolated", **WINDOW, interval="30m")
        assert item["Items"] == own["Items"] and len(item["Items"]) == 3
    named = by_url(f"{server.url}/streamsets/{pump['WebId']}/summary", **WINDOW, nameFilter="Discharge*")["Items"]
    assert [i["Name"] for i in named] == ["Discharge Flow", "Discharge Pressure"]
