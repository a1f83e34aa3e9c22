"""Simulated event frames over real HTTP: the database search with its modes, filters and paging, one
frame with its attributes and values, and frames that change between two reads (in progress then
closed, acknowledged, edited), all as of the server's clock."""

import datetime as dt

import pytest
import requests

from pi_simulator import Archive, SimulatorServer
from pi_simulator.eventframe_routes import FAR_FUTURE
from pi_simulator.eventframes import EventFrames
from pi_simulator.truth import to_ticks

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server():
    archive = Archive(seed=3, n_points=120)
    with SimulatorServer(archive) as srv:
        srv.api.clock = lambda: NOW
        yield srv


def get(srv, resource, **params):
    answer = requests.get(f"{srv.url}/{resource}", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def at(srv, when):
    srv.api.clock = lambda: when


def frames_db(srv):
    server = get(srv, "assetservers")["Items"][0]
    return get(srv, f"assetservers/{server['WebId']}/assetdatabases")["Items"][0]["Links"]["EventFrames"].split(
        "/piwebapi/"
    )[1]


def search_all(srv, page=25, **params):
    out, start = [], 0
    while True:
        items = get(srv, frames_db(srv), startIndex=start, maxCount=page, **params)["Items"]
        out.extend(items)
        if len(items) < page:
            return out
        start += page


def model(srv):
    return srv.api.eventframes.frames


def test_default_search_is_overlapped_over_the_last_8_hours_and_pages_exactly(server):
    at(server, NOW)
    found = search_all(server, page=25)
    lo, now = to_ticks(NOW - dt.timedelta(hours=8)), to_ticks(NOW)
    expected = {str(f.id) for f in model(server).frames(lo, now) if f.start <= now and f.end >= lo}
    assert {f["Id"] for f in found} == expected and len(found) == len(expected) > 100
    names = [f["Name"].upper() for f in found]
    assert names == sorted(names)
    by_start = get(server, frames_db(server), sortField="StartTime", sortOrder="Descending", maxCount=5)["Items"]
    assert [f["StartTime"] for f in by_start] == sorted((f["StartTime"] for f in found), reverse=True)[:5]


@pytest.mark.parametrize("mode", ["StartInclusive", "EndInclusive", "Inclusive", "InProgress", "overlapped"])
def test_search_modes(server, mode):
    at(server, NOW)
    lo, hi = NOW - dt.timedelta(hours=3), NOW - dt.timedelta(hours=1)
    found = search_all(server, searchMode=mode, startTime=lo.isoformat(), endTime=hi.isoformat())
    t_lo, t_hi, now = to_ticks(lo), to_ticks(hi), to_ticks(NOW)
    frames = [f for f in model(server).frames(t_lo, t_hi) if f.start <= now]
    is_open = {f.id: f.end > now for f in frames}
    rule = {
        "startinclusive": lambda f: t_lo <= f.start <= t_hi,
        "endinclusive": lambda f: not is_open[f.id] and t_lo <= f.end <= t_hi,
        "inclusive": lambda f: t_lo <= f.start and not is_open[f.id] and f.end <= t_hi,
        "inprogress": lambda f: t_lo <= f.start <= t_hi and is_open[f.id],
        "overlapped": lambda f: f.start <= t_hi and (is_open[f.id] or f.end >= t_lo),
    }[mode.lower()]
    assert {f["Id"] for f in found} == {str(f.id) for f in frames if rule(f)}
    if mode != "InProgress":
        assert found


def test_filters(server):
    at(server, NOW)
    alarms = search_all(server, templateName="alarm")
    assert alarms and {f["TemplateName"] for f in alarms} == {"Alarm"}
    assert all(f["CanBeAcknowledged"] for f in alarms)
    critical = search_all(server, templateName="Alarm", severity=["Critical", "Major"])
    assert critical and {f["Severity"] for f in critical} <= {"Critical", "Major"}
    open_alarms = search_all(server, templateName="Alarm", isAcknowledged="false")
    assert {f["Id"] for f in open_alarms} == {f["Id"] for f in alarms if not f["IsAcknowledged"]}
    pumps = search_all(server, referencedElementNameFilter="P-*", categoryName="downtime")
    assert pumps and all(f["Name"].startswith("Downtime P-") for f in pumps)
    lines = search_all(server, referencedElementTemplateName="Packaging Line", templateName="Batch")
    assert lines and all(len(f["RefElementWebIds"]) == 2 for f in lines)  # the line and its unit
    answer = requests.get(
        f"{server.url}/{frames_db(server)}", params={"searchMode": "ForwardFromStartTime"}, timeout=10
    )
    assert answer.status_code == 400 and answer.json()["Errors"]


def test_a_frame_its_attributes_values_and_references(server):
    at(server, NOW)
    batch = search_all(server, templateName="Batch", searchMode="Inclusive")[0]
    assert get(server, f"eventframes/{batch['WebId']}")["Id"] == batch["Id"]
    attributes = get(server, f"eventframes/{batch['WebId']}/attributes")["Items"]
    assert [a["Name"] for a in attributes] == ["Batch ID", "Operator", "Product", "Quantity"]
    quantity = next(a for a in attributes if a["Name"] == "Quantity")
    value = get(server, f"attributes/{quantity['WebId']}/value")
    assert value["Good"] and isinstance(value["Value"], float) and value["UnitsAbbreviation"] == "units"
    values = {v["Name"]: v["Value"]["Value"] for v in get(server, f"streamsets/{batch['WebId']}/value")["Items"]}
    assert values["Quantity"] == value["Value"] and values["Batch ID"].startswith("B")
    refs = get(server, f"eventframes/{batch['WebId']}/referencedelements")["Items"]
    assert [r["TemplateName"] for r in refs] == ["Packaging Line", "Process Unit"]
    of_line = search_all(server, templateName="Batch", searchMode="Inclusive")
    by_element = get(
        server, refs[0]["Links"]["EventFrames"].split("/piwebapi/")[1], templateName="Batch", searchMode="Inclusive"
    )["Items"]
    assert batch["Id"] in {f["Id"] for f in by_element} and len(by_element) < len(of_line)


def test_frames_change_between_two_reads(server):
    mid = NOW + dt.timedelta(minutes=20)  # batches run from early in the hour for under an hour
    frames = model(server).frames(to_ticks(NOW - dt.timedelta(hours=8)), to_ticks(mid))
    # a batch in progress: far-future end and no quantity yet; an hour later closed with its quantity
    batch = next(f for f in frames if f.template == "Batch" and f.start < to_ticks(mid) < f.end)
    at(server, mid)
    wid = server.api.eventframes.frame_webid(batch)
    first = get(server, f"eventframes/{wid}")
    assert first["EndTime"] == FAR_FUTURE and not first["AreValuesCaptured"]
    quantity = {v["Name"]: v["Value"] for v in get(server, f"streamsets/{wid}/value")["Items"]}["Quantity"]
    assert quantity["Good"] is False and quantity["Value"]["Name"] == "No Data"
    at(server, NOW + dt.timedelta(hours=1))
    later = get(server, f"eventframes/{wid}")
    assert later["EndTime"] != FAR_FUTURE and later["AreValuesCaptured"] and later["Id"] == first["Id"]
    assert {v["Name"]: v["Value"] for v in get(server, f"streamsets/{wid}/value")["Items"]}["Quantity"]["Good"]
    # an alarm acknowledged between two reads
    alarm = next(f for f in frames if f.template == "Alarm" and f.ack_at < 2**62 and f.start < to_ticks(NOW))
    awid = server.api.eventframes.frame_webid(alarm)
    before, after = (
        dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=(alarm.ack_at + d) // 10) for d in (-10, 0)
    )
    at(server, before)
    assert get(server, f"eventframes/{awid}")["IsAcknowledged"] is False
    at(server, after)
    acked = get(server, f"eventframes/{awid}")
    assert acked["IsAcknowledged"] and acked["AcknowledgedBy"] == alarm.ack_by
    # a downtime reason entered after the close
    edited = next(
        f
        for f in EventFrames(server.api.assets.model).frames(to_ticks(NOW - dt.timedelta(days=2)), to_ticks(NOW))
        if f.edited
    )
    ewid = server.api.eventframes.frame_webid(edited)
    reasons = []
    for ticks in (edited.end, edited.edit_at):
        at(server, dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=ticks // 10))
        reasons.append(
            {v["Name"]: v["Value"]["Value"] for v in get(server, f"streamsets/{ewid}/value")["Items"]}["Reason"]
        )
    assert reasons == ["Unknown", edited.edited["Reason"]]
    at(server, NOW)
