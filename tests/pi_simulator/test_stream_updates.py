"""Stream Updates of the simulator against its own archive: what a client assembles from the events equals
what a recorded read answers as of the same instant, markers chain and expire as the vendor documents, and
every answer validates against the vendor's schema."""

from __future__ import annotations

import collections
import datetime as dt

import pytest
import requests

from pi_simulator import Archive, SimulatorServer
from pi_simulator.api import PiWebApi
from pi_simulator.model import ArchiveChanges
from pi_simulator.protocol import Request, parse_query
from pi_simulator.render import format_ticks
from pi_simulator.truth import recorded, to_ticks
from tests.pi_simulator.test_spec_conformance import SPEC, as_json_schema

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
LATE = ArchiveChanges(seed=3, buffered_share=0.5, max_delay_s=180, edit_share=0.05, max_edit_delay_s=240)


class Api:
    """The simulator in process, with a clock the test moves."""

    def __init__(self, archive: Archive, cache_s: float = 900.0):
        self.now = T0
        self.api = PiWebApi(archive, clock=lambda: self.now, updates_cache_s=cache_s)
        self.webids = {p.name: self.api.point_webid(p) for p in archive.points}

    def call(self, method: str, path: str, **query) -> tuple[int, object]:
        pairs = [(k, v) for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])]
        text = "&".join(f"{k}={v}" for k, v in pairs)
        answer = self.api.handle(Request(method, path, parse_query(text), b"", "http://sim", None))
        return answer.status, answer.content

    def register(self, names: list[str]) -> dict[str, str]:
        status, body = self.call("POST", "streamsets/updates", webId=[self.webids[n] for n in names])
        assert status == 200, body
        return {item["SourceName"]: item["LatestMarker"] for item in body["Items"]}

    def retrieve(self, markers: dict[str, str]) -> dict[str, dict]:
        status, body = self.call("GET", "streamsets/updates", marker=list(markers.values()))
        assert status == 200, body
        return dict(zip(markers, body["Items"], strict=True))


def test_registration_answers_a_marker_and_says_when_a_stream_is_registered_already():
    sim = Api(Archive(seed=5, n_points=4))
    names = [p.name for p in sim.api.archive.points]
    status, first = sim.call("POST", "streamsets/updates", webId=[sim.webids[n] for n in names])
    assert status == 200 and [i["Status"] for i in first["Items"]] == ["Succeeded"] * 4
    assert all(len(i["LatestMarker"].split("_")[0]) == 32 and i["LatestMarker"].endswith("_0") for i in first["Items"])
    status, again = sim.call("POST", f"streams/{sim.webids[names[0]]}/updates")
    assert status == 200 and again["Status"] == "AlreadyRegistered"
    assert again["LatestMarker"] == first["Items"][0]["LatestMarker"]
    status, body = sim.call("POST", "streamsets/updates", webId=[sim.webids[names[0]], "F1DPnotawebid"])
    assert status == 400, body


def test_events_bring_a_client_from_one_instant_of_the_archive_to_a_later_one():
    """Every value that arrived (in time order or late) and every edit between two retrieves is one event
    at its timestamp: ``Add`` for a value at or after the newest one, appended; ``Update`` for one inserted
    before it or edited. A client that appends the ``Add`` values and reads again the instants of the
    ``Update`` events (which cannot tell a second value at an instant from an edit of the first) has what a
    recorded read answers at the end."""
    archive = Archive(seed=9, n_points=30, changes=LATE)
    sim = Api(archive)
    names = [p.name for p in archive.points]
    markers = sim.register(names)
    held = {n: _read(archive, n, sim.now) for n in names}
    touched: dict[str, set[str]] = {n: set() for n in names}
    actions: collections.Counter = collections.Counter()
    for _ in range(12):  # a retrieve every 20 s for 4 minutes
        sim.now += dt.timedelta(seconds=20)
        for name, item in sim.retrieve(markers).items():
            assert item["Status"] == "Updated" and item["RequestedMarker"] == markers[name]
            markers[name] = item["LatestMarker"]
            for event in item["Events"]:
                actions[event["Action"]] += 1
                at = instant(event["Timestamp"])
                newest = held[name][-1][0] if held[name] else ""
                if event["Action"] == "Add":
                    assert at >= newest, (newest, event)
                    held[name].append((at, _event_text(event)))
                else:
                    assert event["Action"] == "Update", event
                    assert at < newest or at in {t for t, _ in held[name]}, (newest, event)
                    touched[name].add(at)
    assert actions["Add"] > 20 and actions["Update"] > 5, actions
    for name in names:
        final = _read(archive, name, sim.now)
        for at in touched[name]:  # the instants read again: their values as a recorded read has them now
            held[name] = [(t, v) for t, v in held[name] if t != at] + [(t, v) for t, v in final if t == at]
        assert sorted(held[name]) == sorted(final), name


def _read(archive: Archive, tag: str, as_of: dt.datetime) -> list[tuple[str, str]]:
    """The recorded values of the last hours as of ``as_of``: (timestamp, value) in archive order."""
    rows = recorded(archive, tag, T0 - dt.timedelta(hours=2), as_of + dt.timedelta(hours=1), as_of=as_of)
    return [(instant(format_ticks(to_ticks(r["timestamp"]))), _text(r)) for r in rows]


def instant(text: str) -> str:
    """A PI timestamp as text that sorts in time order, to the microsecond (as the ground truth has it)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return f"{whole}.{fraction.ljust(7, '0')[:6]}"


def _text(row: dict) -> str:
    if row["value_type"] == "number":
        return repr(float(row["value_double"]))
    return row["value_string"] if row["value_type"] == "string" else row["state_name"]


def _event_text(event: dict) -> str:
    value = event["Value"]
    if isinstance(value, dict):
        return value["Name"]
    return value if isinstance(value, str) else repr(float(value))


def test_a_marker_can_be_asked_again_and_chains_equal_one_long_retrieve():
    archive = Archive(seed=11, n_points=3, changes=LATE)
    sim = Api(archive)
    names = [p.name for p in archive.points]
    first = sim.register(names)
    steps = dict(first)
    chained = {n: [] for n in names}
    for _ in range(5):
        sim.now += dt.timedelta(seconds=30)
        for name, item in sim.retrieve(steps).items():
            chained[name] += item["Events"]
            steps[name] = item["LatestMarker"]
    again = sim.retrieve(first)  # from the registration's marker: everything since, once
    for name in names:
        assert again[name]["Events"] == chained[name]
        assert sim.retrieve({name: steps[name]})[name]["Events"] == []


def test_markers_are_lost_with_the_cache_the_server_and_a_deleted_point():
    archive = Archive(seed=5, n_points=4)
    sim = Api(archive, cache_s=60)
    names = [p.name for p in archive.points]
    markers = sim.register(names)
    status, body = sim.call("GET", "streams/updates/0123456789abcdef0123456789abcdef_0")
    assert (status, body) == (404, {"Errors": ["Cache not found"]})
    status, body = sim.call("GET", f"streams/updates/{markers[names[0]].split('_')[0]}_99")
    assert (status, body) == (409, {"Errors": ["Invalid marker supplied"]})
    status, body = sim.call("GET", "streams/updates/garbage")
    assert status == 409
    sim.now += dt.timedelta(seconds=50)
    status, body = sim.call("GET", f"streams/updates/{markers[names[0]]}")
    assert status == 200
    sim.now += dt.timedelta(seconds=15)  # the others unused for 65 s, past the 60 s cache
    items = sim.retrieve(markers)
    assert items[names[0]]["Status"] == "Updated"
    for name in names[1:]:
        assert items[name]["Status"] == "Failed" and items[name]["Exception"] == {"Errors": ["Cache not found"]}
    sim.api.updates.forget_all()  # what a restart does
    status, body = sim.call("GET", f"streams/updates/{items[names[0]]['LatestMarker']}")
    assert (status, body) == (404, {"Errors": ["Cache not found"]})


def test_a_point_deleted_after_registration_ends_its_signup():
    base = Archive(seed=5, n_points=4)
    gone = base.points[1].name
    at = to_ticks(T0 + dt.timedelta(minutes=1))
    archive = Archive(seed=5, n_points=4, changes=ArchiveChanges(deleted=((gone, at),)))
    sim = Api(archive)
    markers = sim.register([gone])
    sim.now += dt.timedelta(minutes=2)
    item = sim.retrieve(markers)[gone]
    assert item["Status"] == "Failed"
    assert item["Exception"] == {"Errors": ["The signup was removed because it is no longer valid."]}
    status, _ = sim.call("GET", f"streams/updates/{markers[gone]}")
    assert status == 404


@pytest.fixture(scope="module")
def served():
    archive = Archive(seed=17, n_points=6, changes=LATE)
    with SimulatorServer(archive) as srv:
        yield srv, [srv.api.point_webid(p) for p in archive.points]


def _validate(path: str, method: str, body: object) -> list[str]:
    import jsonschema

    schema = SPEC["paths"][path][method]["responses"]["200"]["schema"]
    definitions = as_json_schema(SPEC["definitions"])
    check = jsonschema.Draft4Validator({**as_json_schema(schema), "definitions": definitions})
    return [f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message[:160]}" for e in check.iter_errors(body)]


def test_answers_over_http_and_the_batch_controller_validate_against_the_vendors_schema(served):
    server, webids = served
    headers = {"X-Requested-With": "pytest"}
    one = requests.post(f"{server.url}/streams/{webids[0]}/updates", headers=headers, timeout=30)
    many = requests.post(f"{server.url}/streamsets/updates", params={"webId": webids}, headers=headers, timeout=30)
    assert one.status_code == many.status_code == 200, (one.text, many.text)
    markers = [i["LatestMarker"] for i in many.json()["Items"]]
    batch = requests.post(
        f"{server.url}/batch",
        json={
            "1": {
                "Method": "GET",
                "Resource": f"{server.url}/streamsets/updates?" + "&".join(f"marker={m}" for m in markers),
            },
            "2": {"Method": "GET", "Resource": f"{server.url}/streams/updates/{markers[0]}"},
        },
        headers=headers,
        timeout=30,
    )
    assert batch.status_code in (200, 207), batch.text
    answers = batch.json()
    assert answers["1"]["Status"] == answers["2"]["Status"] == 200, answers
    failures = (
        _validate("/streams/{webId}/updates", "post", one.json())
        + _validate("/streamsets/updates", "post", many.json())
        + _validate("/streamsets/updates", "get", answers["1"]["Content"])
        + _validate("/streams/updates/{marker}", "get", answers["2"]["Content"])
    )
    lost = requests.get(f"{server.url}/streamsets/updates", params={"marker": ["0" * 32 + "_0"]}, timeout=30)
    failures += _validate("/streamsets/updates", "get", lost.json())
    assert not failures, "\n".join(failures)
