"""The PI Web API simulator against the documented PI Web API behaviour (WebIDs, the batch controller,
recorded reads and their paging, points/search, selectedFields, errors) and against its own ground truth,
over real HTTP. No Spark.

The archive has 45 points: the catalog cycles plants fastest and sensor kinds second, so 45 is the
smallest archive that holds every point type (Int32 and String points start at index 35).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import os
import re
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

from pi_simulator import Archive, SimulatorServer, truth, webid
from pi_simulator.model import DIGITAL_SETS, PT_CREATED, SYSTEM_STATES
from pi_simulator.render import format_ticks
from tests.conftest import REPO, hour_start

UTC = dt.UTC
SEED, N_POINTS = 7, 45
# OSIPI_TEST_HOURS_AGO moves the window (the data differ per hour): a sweep over it finds data-dependent bugs
END = hour_start(int(os.environ.get("OSIPI_TEST_HOURS_AGO", "1")))
START = END - dt.timedelta(hours=2)
DAY_START = END - dt.timedelta(days=1)
TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z$")
ROW_FIELDS = (
    "tag",
    "timestamp",
    "sequence",
    "value_type",
    "value_double",
    "value_string",
    "state_code",
    "state_name",
    "is_system",
    "good",
    "questionable",
    "substituted",
    "annotated",
    "units",
)


# ---- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=SEED, n_points=N_POINTS)


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def ds_webid(server, http):
    return http.get(f"{server.url}/dataservers").json()["Items"][0]["WebId"]


@pytest.fixture(scope="module")
def points(server, http, ds_webid):
    body = http.get(f"{server.url}/dataservers/{ds_webid}/points").json()
    return {p["Name"]: p for p in body["Items"]}


@pytest.fixture(scope="module")
def fast(archive, points):
    """The busiest numeric point: > 1000 values a day."""
    point = min((p for p in archive.points if p.point_type == "Float64"), key=lambda p: p.mean_interval_s)
    return points[point.name]


@pytest.fixture(scope="module")
def day_items(server, http, points):
    """One day of every point, straight from streams/{webId}/recorded."""
    out = {}
    for name, point in points.items():
        resp = http.get(
            f"{server.url}/streams/{point['WebId']}/recorded",
            params={"startTime": iso(DAY_START), "endTime": iso(END), "maxCount": 150000},
        )
        assert resp.status_code == 200, resp.text
        out[name] = resp.json()["Items"]
    return out


def iso(when: dt.datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def ticks_of(stamp: str) -> int:
    m = TS.match(stamp)
    assert m, f"not a PI output timestamp: {stamp!r}"
    whole = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return truth.to_ticks(whole) + int((m.group(2) or "").ljust(7, "0"))


def when(stamp: str) -> dt.datetime:
    return truth.ticks_to_datetime(ticks_of(stamp))


def as_rows(tag: str, items: list[dict]) -> list[dict]:
    """TimedValues in the ground truth's normalised form (see pi_simulator.truth)."""
    rows, last_us, seq = [], None, 0
    for item in items:
        ticks = ticks_of(item["Timestamp"])
        seq = seq + 1 if ticks // 10 == last_us else 0
        last_us = ticks // 10
        value = item["Value"]
        row = dict.fromkeys(ROW_FIELDS)
        row.update(
            tag=tag,
            timestamp=truth.ticks_to_datetime(ticks),
            sequence=seq,
            is_system=False,
            good=item["Good"],
            questionable=item["Questionable"],
            substituted=item["Substituted"],
            annotated=item["Annotated"],
            units=item["UnitsAbbreviation"],
        )
        if isinstance(value, dict) and value["IsSystem"]:
            row.update(value_type="system", state_code=value["Value"], state_name=value["Name"], is_system=True)
        elif isinstance(value, dict):
            row.update(value_type="digital", state_code=value["Value"], state_name=value["Name"])
        elif isinstance(value, str):
            row.update(value_type="string", value_string=value)
        else:
            row.update(value_type="number", value_double=float(value))
        rows.append(row)
    return rows


def recorded(server, http, point, **params):
    resp = http.get(f"{server.url}/streams/{point['WebId']}/recorded", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["Items"]


def assert_error(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert isinstance(body["Errors"], list) and body["Errors"] and all(isinstance(e, str) for e in body["Errors"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- determinism ---------------------------------------------------------------------------------

DIGEST = """
import datetime as dt, hashlib, sys
from pi_simulator import Archive, truth
archive = Archive(seed=int(sys.argv[1]), n_points=45)
start = dt.datetime(2025, 8, 1, 6, tzinfo=dt.timezone.utc)
rows = [r for p in archive.points for r in truth.recorded(archive, p.name, start, start + dt.timedelta(hours=3))]
print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
"""


def _digest_here(seed: int) -> str:
    archive = Archive(seed=seed, n_points=45)
    start = dt.datetime(2025, 8, 1, 6, tzinfo=UTC)
    rows = [r for p in archive.points for r in truth.recorded(archive, p.name, start, start + dt.timedelta(hours=3))]
    return f"{len(rows)} {hashlib.sha256(repr(rows).encode()).hexdigest()}"


def test_same_seed_same_values_in_another_process():
    other = subprocess.run(
        [sys.executable, "-c", DIGEST, str(SEED)], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    here = _digest_here(SEED)
    assert int(here.split()[0]) > 1000
    assert other == here


def test_different_seed_different_values():
    assert _digest_here(SEED) != _digest_here(SEED + 1)


# ---- WebID 2.0 -----------------------------------------------------------------------------------


def test_vendor_webids_decode():
    point = webid.decode("I1DPa70Wf0zBA06CLkV9ovNQgQCAAAAA")
    assert (point.kind, point.marker, point.point_id, point.path) == ("I", "DP", 8, None)
    server = webid.decode("F1DSBd9Ab83Y90SNSjy4JtD5fQVk0tVFMtUEk")
    assert (server.kind, server.marker) == ("F", "DS")
    assert server.server_id == uuid.UUID("6f40df05-d8cd-44f7-8d4a-3cb826d0f97d")
    assert server.path == "VM-TS-PI"
    # and the encoder reproduces the vendor's bytes
    assert webid.data_server_webid(server.server_id, "vm-ts-pi") == "F1DSBd9Ab83Y90SNSjy4JtD5fQVk0tVFMtUEk"


def test_full_webids_resolve(server, http, archive, points):
    assert len(points) == N_POINTS
    for name, point in points.items():
        decoded = webid.decode(point["WebId"])
        assert (decoded.kind, decoded.marker, decoded.server_id) == ("F", "DP", archive.server_id)
        assert decoded.path == f"PISIM\\{name}".upper()
        body = http.get(f"{server.url}/points/{point['WebId']}").json()
        assert (body["Name"], body["Id"], body["WebId"]) == (name, decoded.point_id, point["WebId"])


def test_client_built_pathonly_and_idonly_webids_resolve(server, http, archive, points):
    name = archive.points[3].name
    path_only = "P1DP" + base64.urlsafe_b64encode(f"PISIM\\{name.lower()}".upper().encode()).decode().rstrip("=")
    id_only = webid.point_webid(archive.server_id, archive.points[3].point_id, "", webid.ID_ONLY)
    for wid in (path_only, id_only):
        resp = http.get(f"{server.url}/points/{wid}")
        assert resp.status_code == 200, resp.text
        assert resp.json()["Name"] == name
    stream = http.get(
        f"{server.url}/streams/{path_only}/recorded", params={"startTime": iso(START), "endTime": iso(END)}
    ).json()["Items"]
    assert as_rows(name, stream) == truth.recorded(archive, name, START, END)


def test_bad_webids(server, http, archive):
    for garbage in ("garbage", "F1DPnot-a-webid!!", "X1DPabc", "F1Emabc"):
        assert_error(http.get(f"{server.url}/points/{garbage}"), 400)
        assert_error(http.get(f"{server.url}/streams/{garbage}/recorded"), 400)
    unknown = webid.point_webid(archive.server_id, 99999, "", webid.ID_ONLY)
    assert_error(http.get(f"{server.url}/points/{unknown}"), 404)
    other_server = webid.point_webid(uuid.uuid4(), 1, "", webid.ID_ONLY)
    assert_error(http.get(f"{server.url}/points/{other_server}"), 404)


# ---- streams/{webId}/recorded --------------------------------------------------------------------


@pytest.mark.parametrize("max_count", [1, 17, 250])
def test_maxcount_truncates_exactly(server, http, archive, fast, max_count):
    expected = truth.recorded(archive, fast["Name"], START, END)
    assert len(expected) > max_count
    items = recorded(server, http, fast, startTime=iso(START), endTime=iso(END), maxCount=max_count)
    assert as_rows(fast["Name"], items) == expected[:max_count]


def test_window_matches_truth_and_bounds_are_inclusive(server, http, archive, fast):
    everything = recorded(server, http, fast, startTime=iso(START), endTime=iso(END), maxCount=10000)
    assert as_rows(fast["Name"], everything) == truth.recorded(archive, fast["Name"], START, END)
    # items alone on their timestamp (values sharing one are covered by the next test)
    alone = [
        item
        for k, item in enumerate(everything[10:-1], 10)
        if everything[k - 1]["Timestamp"] != item["Timestamp"] != everything[k + 1]["Timestamp"]
    ]
    fractional = next(i for i in alone if re.search(r"\.\d{7}Z$", i["Timestamp"]))
    whole = next(i for i in alone if "." not in i["Timestamp"])
    for item in (fractional, whole):
        ticks = ticks_of(item["Timestamp"])
        got = recorded(server, http, fast, startTime=item["Timestamp"], endTime=iso(END))
        assert got[0] == item
        # one 100 ns tick later the value is excluded: the 7th fractional digit is honoured
        later = recorded(server, http, fast, startTime=format_ticks(ticks + 1), endTime=iso(END))
        assert later[0] == everything[everything.index(item) + 1]
        # and endTime is inclusive too
        upto = recorded(server, http, fast, startTime=iso(START), endTime=item["Timestamp"], maxCount=10000)
        assert upto[-1] == item and len(upto) == everything.index(item) + 1


def test_all_values_sharing_the_start_timestamp_are_returned(server, http, points, day_items):
    """PI allows several events on one timestamp; a client resuming at that timestamp gets all of them."""
    for name, items in day_items.items():  # noqa: B007 - the name found is used after the loop
        stamps = [i["Timestamp"] for i in items]
        dup = next((k for k in range(2, len(stamps)) if stamps[k] == stamps[k - 1] != stamps[k - 2]), None)
        if dup is not None:
            break
    else:
        pytest.fail("no duplicate timestamps in a day of 45 points")
    got = recorded(server, http, points[name], startTime=stamps[dup], endTime=iso(END), maxCount=2)
    assert got == items[dup - 1 : dup + 1]


def test_end_before_start_is_descending(server, http, archive, fast):
    items = recorded(server, http, fast, startTime=iso(END), endTime=iso(START), maxCount=10000)
    stamps = [ticks_of(i["Timestamp"]) for i in items]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] > stamps[-1]
    assert as_rows(fast["Name"], items[::-1]) == truth.recorded(archive, fast["Name"], START, END)
    newest = recorded(server, http, fast, startTime=iso(END), endTime=iso(START), maxCount=3)
    assert newest == items[:3]


def test_maxcount_limits(server, http, archive, fast):
    assert_error(http.get(f"{server.url}/streams/{fast['WebId']}/recorded", params={"maxCount": 150001}), 400)
    assert (
        http.get(
            f"{server.url}/streams/{fast['WebId']}/recorded",
            params={"startTime": iso(START), "endTime": iso(END), "maxCount": 150000},
        ).status_code
        == 200
    )
    day = truth.recorded(archive, fast["Name"], DAY_START, END)
    assert len(day) > 1000
    default = recorded(server, http, fast, startTime=iso(DAY_START), endTime=iso(END))
    assert as_rows(fast["Name"], default) == day[:1000]


def _first_after(archive, tag, start):
    return truth.recorded(archive, tag, start, start + dt.timedelta(hours=2))[0]["timestamp"]


def _midnight(at: dt.datetime, days: int = 0) -> dt.datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=days)


ABSOLUTE = dt.datetime.combine(START.date(), dt.time(), UTC) + dt.timedelta(hours=START.hour, minutes=17, seconds=3)


@pytest.mark.parametrize(
    "text, params, meaning",
    [
        ("*-1h", {}, lambda now: now - dt.timedelta(hours=1)),
        ("*-90m", {"timeZone": "UTC"}, lambda now: now - dt.timedelta(minutes=90)),
        ("t", {}, _midnight),
        ("y", {}, lambda now: _midnight(now, 1)),
        ("y+13h", {"timeZone": "UTC"}, lambda now: _midnight(now, 1) + dt.timedelta(hours=13)),
        (ABSOLUTE.strftime("%Y-%m-%dT%H:%M:%SZ"), {}, lambda now: ABSOLUTE),
        (ABSOLUTE.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat(), {}, lambda now: ABSOLUTE),
        (ABSOLUTE.strftime("%d-%b-%y %H:%M:%S"), {"timeZone": "UTC"}, lambda now: ABSOLUTE),
        (
            ABSOLUTE.astimezone(dt.timezone(dt.timedelta(hours=-5))).strftime("%Y-%m-%dT%H:%M:%S"),
            {"timeZone": "America/Bogota"},
            lambda now: ABSOLUTE,
        ),
    ],
)
def test_time_strings(server, http, archive, fast, text, params, meaning):
    before = dt.datetime.now(UTC)
    items = recorded(server, http, fast, startTime=text, maxCount=1, **params)
    after = dt.datetime.now(UTC)
    lo, hi = _first_after(archive, fast["Name"], meaning(before)), _first_after(archive, fast["Name"], meaning(after))
    if lo > before:  # pragma: no cover - only seconds after midnight UTC
        pytest.skip("no value yet since the requested instant")
    assert items, f"{text!r} returned nothing"
    got = when(items[0]["Timestamp"])
    assert lo <= got <= hi, (text, got, lo, hi)
    day = {r["timestamp"] for r in truth.recorded(archive, fast["Name"], DAY_START - dt.timedelta(days=1), after)}
    assert got in day


def test_bare_interval_is_relative_to_the_other_end(server, http, archive, fast):
    """AFTimeRange rule: endTime "+30m" counts from startTime, startTime "-30m" from endTime."""
    half = dt.timedelta(minutes=30)
    after = recorded(server, http, fast, startTime=iso(START), endTime="+30m", maxCount=10000)
    assert as_rows(fast["Name"], after) == truth.recorded(archive, fast["Name"], START, START + half)
    before = recorded(server, http, fast, startTime="-30m", endTime=iso(END), maxCount=10000)
    assert as_rows(fast["Name"], before) == truth.recorded(archive, fast["Name"], END - half, END)
    assert after and before


def test_bad_time_string_is_400(server, http, fast):
    for bad in ("not a time", "*-1parsec", "2024-13-45T00:00:00Z"):
        assert_error(http.get(f"{server.url}/streams/{fast['WebId']}/recorded", params={"startTime": bad}), 400)


def test_timestamps_mix_whole_seconds_and_seven_digit_fractions(day_items):
    stamps = [i["Timestamp"] for items in day_items.values() for i in items]
    assert all(TS.match(s) for s in stamps)
    assert any("." not in s for s in stamps)
    assert any(re.search(r"\.\d{7}Z$", s) for s in stamps)
    assert not any(re.search(r"\.\d*0Z$", s) for s in stamps), "fractions keep no trailing zeros"
    one_response = max(day_items.values(), key=len)
    forms = {"." in i["Timestamp"] for i in one_response}
    assert forms == {True, False}, "both forms occur within one response"


# ---- values --------------------------------------------------------------------------------------


def test_point_types(points):
    assert {p["PointType"] for p in points.values()} == {"Float32", "Float64", "Int32", "Digital", "String"}


def test_a_day_of_every_point_equals_truth(archive, day_items):
    for name, items in day_items.items():
        assert as_rows(name, items) == truth.recorded(archive, name, DAY_START, END), name


def test_value_shapes(points, day_items):
    seen = set()
    for name, items in day_items.items():
        ptype = points[name]["PointType"]
        for item in items:
            assert set(item) == {
                "Timestamp",
                "Value",
                "UnitsAbbreviation",
                "Good",
                "Questionable",
                "Substituted",
                "Annotated",
            }
            value = item["Value"]
            if isinstance(value, dict) and value.get("IsSystem"):
                continue
            seen.add(ptype)
            if ptype == "Digital":
                assert set(value) == {"Name", "Value", "IsSystem"} and value["IsSystem"] is False
                assert value["Name"] == DIGITAL_SETS[points[name]["DigitalSetName"]][value["Value"]]
                assert item["Good"] is True
            elif ptype == "String":
                assert isinstance(value, str)
            elif ptype == "Int32":
                assert type(value) is int
            else:
                assert type(value) is float and math.isfinite(value)
    assert seen == {"Float32", "Float64", "Int32", "Digital", "String"}


def test_system_states_and_quality_flags_occur(day_items):
    items = [i for values in day_items.values() for i in values]
    system = [i for i in items if isinstance(i["Value"], dict) and i["Value"]["IsSystem"]]
    assert system, "a day over all points holds system states"
    known = {name: code for name, code in (PT_CREATED, *SYSTEM_STATES)}
    for item in system:
        assert item["Good"] is False
        assert set(item["Value"]) == {"Name", "Value", "IsSystem"}
        assert known[item["Value"]["Name"]] == item["Value"]["Value"]
    assert all(i["Good"] for i in items if not (isinstance(i["Value"], dict) and i["Value"]["IsSystem"]))
    for flag in ("Questionable", "Substituted", "Annotated"):
        assert any(i[flag] for i in items), flag


# ---- data servers and points ---------------------------------------------------------------------


def test_dataservers(server, http, archive, ds_webid):
    body = http.get(f"{server.url}/dataservers").json()
    assert len(body["Items"]) == 1
    ds = body["Items"][0]
    assert (ds["Name"], ds["Path"], ds["Id"]) == ("PISIM", "\\\\PIServers[PISIM]", str(archive.server_id))
    assert webid.decode(ds_webid).server_id == archive.server_id
    for params in ({"path": "\\\\PISIM"}, {"path": "\\\\PIServers[pisim]"}, {"name": "pisim"}):
        assert http.get(f"{server.url}/dataservers", params=params).json()["WebId"] == ds_webid
    assert http.get(f"{server.url}/dataservers/{ds_webid}").json()["Name"] == "PISIM"
    assert_error(http.get(f"{server.url}/dataservers", params={"name": "OTHER"}), 404)


@pytest.mark.parametrize(
    "name_filter, expected",
    [
        ("syd*", lambda n: n.startswith("SYD.")),
        ("*.ps000?5.pv", lambda n: re.fullmatch(r".*\.PS000.5\.PV", n)),
        ("*", lambda n: True),
        ("nothing*", lambda n: False),
        ("syd[.]*", lambda n: False),  # PI wildcards are * and ? only
    ],
)
def test_point_name_filter(server, http, archive, ds_webid, name_filter, expected):
    body = http.get(f"{server.url}/dataservers/{ds_webid}/points", params={"nameFilter": name_filter}).json()
    names = [p["Name"] for p in body["Items"]]
    assert names == [p.name for p in archive.points if expected(p.name)]
    assert names or name_filter in ("nothing*", "syd[.]*")


def test_point_paging_returns_every_point_once(server, http, archive, ds_webid):
    names, start = [], 0
    while True:
        page = http.get(
            f"{server.url}/dataservers/{ds_webid}/points",
            params={"startIndex": start, "maxCount": 7, "selectedFields": "Items.Name"},
        ).json()["Items"]
        if not page:
            break
        assert len(page) <= 7 and all(set(p) == {"Name"} for p in page)
        names += [p["Name"] for p in page]
        start += 7
    assert names == [p.name for p in archive.points]
    assert len(set(names)) == N_POINTS
    assert_error(http.get(f"{server.url}/dataservers/{ds_webid}/points", params={"startIndex": -5}), 400)


def test_point_by_path_is_case_insensitive(server, http, points):
    name = "SYD.U001.TT00000.PV"
    for path in (f"\\\\PISIM\\{name}", f"\\\\pisim\\{name.lower()}", f"\\\\PiSim\\{name.title()}"):
        resp = http.get(f"{server.url}/points", params={"path": path})
        assert resp.status_code == 200 and resp.json()["WebId"] == points[name]["WebId"]
    assert_error(http.get(f"{server.url}/points", params={"path": "\\\\PISIM\\NO.SUCH.TAG"}), 404)
    assert_error(http.get(f"{server.url}/points", params={"path": f"\\\\OTHER\\{name}"}), 404)


def test_links_are_absolute(server, http, ds_webid, points):
    ds = http.get(f"{server.url}/dataservers/{ds_webid}").json()
    landing = http.get(server.url).json()
    bodies = [ds, landing, *points.values()]
    links = [url for body in bodies for url in body["Links"].values()]
    assert len(links) >= 9 * N_POINTS
    assert all(url.startswith(server.url + "/") for url in links), links[:3]
    point = next(iter(points.values()))
    assert http.get(point["Links"]["RecordedData"], params={"maxCount": 1}).status_code == 200
    assert http.get(point["Links"]["Self"]).json()["WebId"] == point["WebId"]
    assert http.get(ds["Links"]["Points"], params={"maxCount": 2}).json()["Items"][0]["Name"] == point["Name"]


# ---- points/search (PI Web API 2021 SP3+) ----------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ("name:=SYD*", lambda p: p.name.startswith("SYD.")),
        ("Tag:=syd*", lambda p: p.name.startswith("SYD.")),
        ("syd*", lambda p: p.name.startswith("SYD.")),
        ("name:SYD.U001.TT00000.PV", lambda p: p.name == "SYD.U001.TT00000.PV"),
        ("tag:<>*.TT*", lambda p: ".TT" not in p.name),
        ("PointType:=Digital", lambda p: p.point_type == "Digital"),
        ("name:ROT* AND pointtype:Float32", lambda p: p.name.startswith("ROT") and p.point_type == "Float32"),
        ("name:ROT* pointtype:Float32", lambda p: p.name.startswith("ROT") and p.point_type == "Float32"),
        ("pointtype:String OR pointtype:Int32", lambda p: p.point_type in ("String", "Int32")),
        (
            "(name:HOU* AND pointtype:Digital) OR (name:CAL* AND pointtype:Int32)",
            lambda p: (p.name[:3], p.point_type) in (("HOU", "Digital"), ("CAL", "Int32")),
        ),
        ("descriptor:'Sydney Pump status'", lambda p: p.descriptor == "Sydney Pump status"),
        (r"description:sydney\ pump*", lambda p: p.descriptor.startswith("Sydney Pump")),
        ("pointid:>40", lambda p: p.point_id > 40),
        ("", lambda p: True),
    ],
)
def test_points_search(server, http, archive, ds_webid, query, expected):
    resp = http.get(f"{server.url}/points/search", params={"dataServerWebId": ds_webid, "query": query})
    assert resp.status_code == 200, resp.text
    names = [p["Name"] for p in resp.json()["Items"]]
    assert names == [p.name for p in archive.points if expected(p)]
    assert names


def test_points_search_options_and_paging(server, http, archive, ds_webid):
    url = f"{server.url}/points/search"
    got = http.get(url, params={"query": "tag:PS000", "searchOption": "contains"}).json()["Items"]
    assert [p["Name"] for p in got] == [p.name for p in archive.points if "PS000" in p.name]
    got = http.get(url, params={"query": "sydney*", "searchNameAndDescriptor": "true"}).json()["Items"]
    assert [p["Name"] for p in got] == [p.name for p in archive.points if p.plant == "SYD"]
    page = http.get(url, params={"query": "*", "startIndex": 10, "maxCount": 5}).json()["Items"]
    assert [p["Name"] for p in page] == [p.name for p in archive.points[10:15]]
    assert_error(http.get(url, params={"query": "*", "maxCount": 1001}), 400)
    assert_error(http.get(url, params={"query": "nosuchattribute:=x"}), 400)
    assert_error(http.get(url, params={"query": "*", "dataServerWebId": "F1DSgarbage"}), 400)


# ---- streamsets ----------------------------------------------------------------------------------


def test_streamset_recorded(server, http, archive, points):
    chosen = [points[p.name] for p in archive.points[:3]] + [points[archive.points[30].name]]
    params = [("webId", p["WebId"]) for p in chosen] + [
        ("startTime", iso(START)),
        ("endTime", iso(END)),
        ("maxCount", "50"),
    ]
    resp = http.get(f"{server.url}/streamsets/recorded", params=params)
    assert resp.status_code == 200, resp.text
    items = resp.json()["Items"]
    assert [i["WebId"] for i in items] == [p["WebId"] for p in chosen]
    for item, point in zip(items, chosen):
        assert {"WebId", "Name", "Path", "Items"} <= set(item)
        assert (item["Name"], item["Path"]) == (point["Name"], point["Path"])
        assert item["Items"] == recorded(server, http, point, startTime=iso(START), endTime=iso(END), maxCount=50)
        assert as_rows(point["Name"], item["Items"]) == truth.recorded(archive, point["Name"], START, END)[:50]
    assert_error(http.get(f"{server.url}/streamsets/recorded"), 400)


# ---- batch ---------------------------------------------------------------------------------------


def batch(server, http, body):
    resp = http.post(f"{server.url}/batch", json=body, headers={"X-Requested-With": "XmlHttpRequest"})
    assert resp.status_code == 207, resp.text
    out = resp.json()
    assert set(out) == set(body)
    return out


def test_batch_needs_x_requested_with(server, http):
    resp = http.post(f"{server.url}/batch", json={"a": {"Method": "GET", "Resource": f"{server.url}/system"}})
    assert 400 <= resp.status_code < 500
    assert_error(resp, resp.status_code)


def test_batch_independent_requests(server, http, fast, ds_webid):
    rec = f"{server.url}/streams/{fast['WebId']}/recorded?startTime={iso(START)}&endTime={iso(END)}&maxCount=4"
    out = batch(
        server,
        http,
        {
            "servers": {"Method": "GET", "Resource": f"{server.url}/dataservers"},
            "values": {"Method": "GET", "Resource": rec},
        },
    )
    for sub in out.values():
        assert set(sub) >= {"Status", "Headers", "Content"} and sub["Status"] == 200
        assert isinstance(sub["Headers"], dict)
    assert out["servers"]["Content"]["Items"][0]["WebId"] == ds_webid
    assert out["values"]["Content"]["Items"] == recorded(
        server, http, fast, startTime=iso(START), endTime=iso(END), maxCount=4
    )


def test_batch_parameters_from_a_parent(server, http, fast):
    out = batch(
        server,
        http,
        {
            "v": {
                "Method": "GET",
                "ParentIds": ["p"],
                "Parameters": ["$.p.Content.WebId"],
                "Resource": f"{server.url}/streams/{{0}}/recorded?startTime={iso(START)}&endTime={iso(END)}",
            },
            "p": {
                "Method": "GET",
                "Resource": f"{server.url}/points?path=%5C%5CPISIM%5C{fast['Name']}&selectedFields=WebId",
            },
        },
    )
    assert out["p"]["Content"] == {"WebId": fast["WebId"]}
    assert out["v"]["Status"] == 200
    assert out["v"]["Content"]["Items"] == recorded(server, http, fast, startTime=iso(START), endTime=iso(END))


def test_batch_request_template_fans_out_in_token_order(server, http, archive, ds_webid):
    out = batch(
        server,
        http,
        {
            "list": {
                "Method": "GET",
                "Resource": f"{server.url}/dataservers/{ds_webid}/points?nameFilter=CAL*"
                "&selectedFields=Items.WebId;Items.Name",
            },
            "vals": {
                "Method": "GET",
                "ParentIds": ["list"],
                "Parameters": ["$.list.Content.Items[*].WebId"],
                "RequestTemplate": {
                    "Resource": f"{server.url}/streams/{{0}}/recorded?startTime={iso(START)}"
                    f"&endTime={iso(END)}&maxCount=5"
                },
            },
        },
    )
    listed = out["list"]["Content"]["Items"]
    assert [p["Name"] for p in listed] == [p.name for p in archive.points if p.name.startswith("CAL")]
    assert out["vals"]["Status"] in (200, 207)
    subs = out["vals"]["Content"]["Items"]
    assert len(subs) == len(listed) == 9
    for sub, point in zip(subs, listed):
        assert sub["Status"] == 200
        assert as_rows(point["Name"], sub["Content"]["Items"]) == truth.recorded(archive, point["Name"], START, END)[:5]


def test_batch_failed_parent_gives_409(server, http):
    out = batch(
        server,
        http,
        {
            "bad": {"Method": "GET", "Resource": f"{server.url}/points/garbage"},
            "child": {
                "Method": "GET",
                "ParentIds": ["bad"],
                "Parameters": ["$.bad.Content.WebId"],
                "Resource": f"{server.url}/points/{{0}}",
            },
            "fine": {"Method": "GET", "Resource": f"{server.url}/system"},
        },
    )
    assert out["bad"]["Status"] == 400 and out["bad"]["Content"]["Errors"]
    assert out["child"]["Status"] == 409
    assert out["fine"]["Status"] == 200


def test_batch_jsonpath_selecting_nothing_is_400(server, http, ds_webid):
    out = batch(
        server,
        http,
        {
            "empty": {"Method": "GET", "Resource": f"{server.url}/dataservers/{ds_webid}/points?nameFilter=NONE*"},
            "fan": {
                "Method": "GET",
                "ParentIds": ["empty"],
                "Parameters": ["$.empty.Content.Items[*].WebId"],
                "RequestTemplate": {"Resource": f"{server.url}/streams/{{0}}/recorded"},
            },
            "one": {
                "Method": "GET",
                "ParentIds": ["empty"],
                "Parameters": ["$.empty.Content.Nope"],
                "Resource": f"{server.url}/points/{{0}}",
            },
            "res": {"Method": "GET", "ParentIds": ["empty"], "Resource": "$.empty.Content.Links.Nope"},
        },
    )
    assert out["empty"]["Status"] == 200 and out["empty"]["Content"]["Items"] == []
    for rid in ("fan", "one", "res"):
        assert out[rid]["Status"] == 400, (rid, out[rid])
        assert any("Some JSON paths did not select any tokens" in e for e in out[rid]["Content"]["Errors"])


# ---- protocol details ----------------------------------------------------------------------------


def test_query_names_and_enum_values_are_case_insensitive(server, http, archive, fast):
    url = f"{server.url}/streams/{fast['WebId']}/recorded"
    got = http.get(url, params={"STARTTIME": iso(START), "endtime": iso(END), "MAXCOUNT": 5}).json()["Items"]
    assert as_rows(fast["Name"], got) == truth.recorded(archive, fast["Name"], START, END)[:5]
    for value in ("inside", "INSIDE", "Inside"):
        for name in ("boundarytype", "BoundaryType"):
            resp = http.get(url, params={"startTime": iso(START), "endTime": iso(END), "maxCount": 5, name: value})
            assert resp.status_code == 200 and resp.json()["Items"] == got
    assert_error(http.get(url, params={"boundaryType": "sideways"}), 400)
    assert_error(http.get(url, params={"maxCount": "many"}), 400)


def test_selected_fields(server, http, fast):
    body = http.get(
        f"{server.url}/streams/{fast['WebId']}/recorded",
        params={
            "startTime": iso(START),
            "endTime": iso(END),
            "maxCount": 20,
            "selectedFields": "Items.Timestamp;Items.Value",
        },
    ).json()
    assert set(body) == {"Items"} and len(body["Items"]) == 20
    assert all(set(i) == {"Timestamp", "Value"} for i in body["Items"])
    point = http.get(f"{server.url}/points/{fast['WebId']}", params={"selectedfields": "webid;name"}).json()
    assert point == {"WebId": fast["WebId"], "Name": fast["Name"]}


def test_unknown_routes_are_404(server, http, fast):
    root = server.url[: -len("/piwebapi")]
    for url in (
        f"{server.url}/nosuchcontroller",
        f"{server.url}/streams/{fast['WebId']}/nosuchaction",
        f"{root}/other",
        f"{root}/piwebapidataservers",
        f"{server.url}/dataservers/x/y/z/w",
    ):
        resp = http.get(url)
        assert resp.status_code in (400, 404), url
        assert_error(resp, resp.status_code)
    assert_error(http.get(f"{server.url}/nosuchcontroller"), 404)
    assert_error(http.get(f"{root}/piwebapidataservers"), 404)
    assert http.get(f"{server.url}/").status_code == 200


def test_basic_auth(archive):
    with SimulatorServer(archive, basic_auth=("u", "p")) as srv:
        for auth in (None, ("u", "wrong"), ("x", "p")):
            resp = requests.get(f"{srv.url}/dataservers", auth=auth)
            assert resp.status_code == 401
            assert resp.headers["WWW-Authenticate"].lower().startswith("basic")
            assert_error(resp, 401)
        resp = requests.get(f"{srv.url}/dataservers", auth=("u", "p"))
        assert resp.status_code == 200 and resp.json()["Items"][0]["Name"] == "PISIM"


def test_cli_serves():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pi_simulator", "serve", "--port", str(port), "--tags", "5", "--seed", "3"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/piwebapi"
        deadline = time.monotonic() + 20
        while True:
            try:
                resp = requests.get(url, timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert resp.status_code == 200 and resp.json()["Links"]["DataServers"] == f"{url}/dataservers"
        ds = requests.get(f"{url}/dataservers").json()["Items"][0]
        points = requests.get(ds["Links"]["Points"]).json()["Items"]
        assert [p["Name"] for p in points] == [p.name for p in Archive(seed=3, n_points=5).points]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_latency_models_a_remote_server():
    """Every request waits at least ``latency_ms`` (the benchmarks' remote-server model)."""
    import time as _time

    with SimulatorServer(Archive(seed=3, n_points=5), latency_ms=120, max_concurrency=1) as slow:
        for _ in range(2):
            started = _time.perf_counter()
            assert requests.get(slow.url + "/system", timeout=10).status_code == 200
            assert _time.perf_counter() - started >= 0.12


@pytest.mark.parametrize("limit", [1, 7, 150, 10_000])
def test_a_limited_read_is_the_head_or_tail_of_the_full_one(limit):
    """maxCount reads only the hours it needs; the values are exactly the first (or last) of the window."""
    archive = Archive(seed=3, n_points=12)
    end = truth.to_ticks(dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    start = end - 30 * 3600 * 10_000_000
    for point in archive.points:
        full = archive.events(point, start, end)
        head = archive.events(point, start, end, limit=limit)
        tail = archive.events(point, start, end, limit=limit, newest_first=True)
        assert head.ticks.tolist() == full.ticks.tolist()[:limit]
        assert tail.ticks.tolist() == full.ticks.tolist()[-limit:]
        assert head.number.tolist() == full.number.tolist()[:limit]
        if full.text is not None:
            assert tail.text == full.text[-limit:]
