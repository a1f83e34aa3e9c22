"""Fault injection in the simulator, and the connector's reading under it, over real HTTP (no Spark):
every fault kind is classified (transient or permanent, never an unexpected exception), retries clear
transient faults, and the values of windows that complete equal the ground truth exactly."""

import datetime as dt
import json

import pytest
import requests

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.discovery import discover_tags
from connector_lib.errors import PIWebAPIError
from connector_lib.extract import BRONZE_COLUMNS, iter_rows, read_windows
from connector_lib.plan import WindowTask
from pi_simulator import Archive, SimulatorServer, truth
from pi_simulator.faults import HTTP_FAULTS, SUB_FAULTS, FaultPlan
from tests.conftest import hour_start

UTC = dt.UTC
COLS = [name for name, _ in BRONZE_COLUMNS]
END = hour_start()
START = END - dt.timedelta(hours=2)
COMPARED = ("value_type", "value_double", "value_string", "state_code", "state_name", "good", "units")


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=5, n_points=30)


@pytest.fixture()
def server(archive):
    with SimulatorServer(archive) as srv:
        yield srv


def client_for(url, **settings):
    config = PIConfig.from_mapping({"pi.url": url, "pi.http.backoff": "0s", "pi.http.timeout": "1s", **settings})
    return PIWebAPIClient(config), config


@pytest.mark.parametrize("kind", HTTP_FAULTS)
def test_every_http_fault_is_a_transient_error_then_clears(server, kind):
    server.set_faults(FaultPlan(seed=1, http_rate=1.0, http_kinds=(kind,), slow_s=0.6, retry_after_s=0))
    client, _ = client_for(server.url, **{"pi.http.max_retries": "0", "pi.http.timeout": "0.3s"})
    with pytest.raises(PIWebAPIError) as caught:
        client.get("dataservers")
    assert caught.value.transient, str(caught.value)
    assert server.api.faults.log.counts == {f"http:{kind}": 1}
    server.set_faults(FaultPlan(seed=1, http_rate=0.5, http_kinds=(kind,), slow_s=0.6, retry_after_s=0))
    client, _ = client_for(server.url, **{"pi.http.max_retries": "20", "pi.http.timeout": "0.3s"})
    for _ in range(3):  # the same request again and again: each attempt is a fresh draw
        assert client.get("dataservers")["Items"][0]["Name"] == "PISIM"


def test_malformed_answers_carry_their_body_for_quarantine(server):
    server.set_faults(FaultPlan(seed=1, http_rate=1.0, http_kinds=("malformed",)))
    client, _ = client_for(server.url, **{"pi.http.max_retries": "0"})
    with pytest.raises(PIWebAPIError) as caught:
        client.get("dataservers")
    assert "Service Unavailable" in caught.value.payload


def test_429_retry_after_is_honoured(server, monkeypatch):
    import connector_lib.client as client_module

    slept = []
    monkeypatch.setattr(client_module.time, "sleep", lambda s: slept.append(s))
    server.set_faults(FaultPlan(seed=2, http_rate=1.0, http_kinds=("429",), retry_after_s=7))
    client, _ = client_for(server.url, **{"pi.http.max_retries": "2"})
    with pytest.raises(PIWebAPIError, match="429"):
        client.get("dataservers")
    assert slept == [7.0, 7.0]


def test_fault_draws_are_reproducible_for_a_seed(archive):
    def run(seed):
        with SimulatorServer(archive, faults=FaultPlan(seed=seed, http_rate=0.5, http_kinds=("500",))) as srv:
            outcomes = []
            for i in range(40):
                outcomes.append(requests.get(f"{srv.url}/dataservers?i={i % 10}", timeout=5).status_code)
            return outcomes

    assert run(3) == run(3) and run(3) != run(4)
    assert 5 < run(3).count(500) < 35


@pytest.mark.parametrize("kind", SUB_FAULTS)
def test_sub_request_faults_inside_a_207(server, archive, kind):
    server.set_faults(FaultPlan(seed=1, sub_rate=1.0, sub_kinds=(kind,)))
    web_id = server.api.point_webid(archive.points[0])
    query = f"startTime={START:%Y-%m-%dT%H:%M:%SZ}&endTime={END:%Y-%m-%dT%H:%M:%SZ}"
    answer = requests.post(
        f"{server.url}/batch",
        headers={"X-Requested-With": "t"},
        timeout=10,
        json={"a": {"Method": "GET", "Resource": f"{server.url}/streams/{web_id}/recorded?{query}"}},
    ).json()["a"]
    if kind in ("500", "503"):
        assert answer["Status"] == int(kind) and answer["Content"]["Errors"]
    elif kind == "webexception":
        assert answer["Status"] == 200 and answer["Content"]["WebException"]["StatusCode"] == 500
    else:
        items = answer["Content"]["Items"]
        broken = [i for i in items if "Errors" in i]
        assert len(broken) == 1 and broken[0]["Value"] is None
        assert len(items) == len(truth.recorded(archive, archive.points[0].name, START, END))


def test_a_point_whose_security_denies_the_user_answers_403(server, archive):
    name = archive.points[3].name
    server.set_faults(FaultPlan(failing_points=frozenset({name.lower()})))
    web_id = server.api.point_webid(archive.points[3])
    resp = requests.get(f"{server.url}/streams/{web_id}/recorded", timeout=5)
    assert resp.status_code == 403 and name in resp.json()["Errors"][0]


def test_fault_plan_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(http_kinds=("teapot",))
    with pytest.raises(ValueError, match="unknown fault setting"):
        FaultPlan.parse("seed=1,bogus=2")
    assert FaultPlan.parse("seed=7,http=0.2,kinds=500+reset,failing=a+b").failing_points == {"A", "B"}


def _read(url, archive, tags=None, **settings):
    client, config = client_for(url, **settings)
    found = discover_tags(client, config)
    tasks = [WindowTask.of(t, START, END) for t in found if tags is None or t.name in tags]
    rows = [dict(zip(COLS, r)) for r in iter_rows(read_windows(client, config, tasks))]
    return tasks, rows


def _keyed(rows):
    out = {}
    for r in rows:
        if r["record_kind"] == "value":
            out[(r["tag"], r["timestamp"], r["sequence"])] = tuple(r[c] for c in COMPARED)
    return out


def _truth(archive, tags):
    return {
        (t["tag"], t["timestamp"], t["sequence"]): tuple(t[c] for c in COMPARED)
        for name in tags
        for t in truth.recorded(archive, name, START, END)
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reading_under_every_fault_kind_equals_truth(archive, seed):
    """A third of all calls and a fifth of all sub-requests fail, in every way; with enough retries every
    window completes, and the values equal the truth: no value lost, none kept from a broken answer."""
    plan = FaultPlan(seed=seed, http_rate=0.3, http_kinds=tuple(k for k in HTTP_FAULTS if k != "slow"), sub_rate=0.2)
    with SimulatorServer(archive) as srv:
        client, config = client_for(
            srv.url, **{"pi.tags_per_request": "4", "pi.page_size": "60", "pi.http.max_retries": "8"}
        )
        found = discover_tags(client, config)
        srv.set_faults(plan)
        tasks = [WindowTask.of(t, START, END) for t in found]
        rows = [dict(zip(COLS, r)) for r in iter_rows(read_windows(client, config, tasks))]
        injected = srv.api.faults.log.total()
    windows = [r for r in rows if r["record_kind"] == "window"]
    assert len(windows) == len(tasks) and {w["status"] for w in windows} == {"ok"}, [
        w["error"] for w in windows if w["status"] != "ok"
    ]
    assert _keyed(rows) == _truth(archive, [t.tag for t in tasks])
    assert injected >= 15, srv.api.faults.log.counts
    # malformed whole answers are quarantined with the web ids of the tags they carried
    for q in (r for r in rows if r["record_kind"] == "quarantine"):
        context = json.loads(q["raw"])
        assert context["web_ids"] and "body" in context


def test_retries_exhausted_fail_the_window_and_keep_the_others(archive):
    """A tag whose point denies access fails at once (permanent) and is reported; the others complete."""
    denied = archive.points[2].name
    with SimulatorServer(archive, faults=FaultPlan(failing_points=frozenset({denied}))) as srv:
        tasks, rows = _read(srv.url, archive, **{"pi.tags_per_request": "7"})
    status = {r["tag"]: (r["status"], r["error"]) for r in rows if r["record_kind"] == "window"}
    assert status[denied][0] == "failed" and "403" in status[denied][1] and "denied" in status[denied][1]
    assert all(s == "ok" for tag, (s, _) in status.items() if tag != denied)
    others = [t.tag for t in tasks if t.tag != denied]
    assert _keyed(rows) == _truth(archive, others)


def test_persistent_value_errors_fail_the_window_so_the_next_update_reads_it_again(archive):
    """When every read of a page carries a per-value error, the page is retried, then the window fails
    with the error (its watermark holds); nothing of the page is kept as if it were the truth."""
    tag = archive.points[0].name
    with SimulatorServer(archive, faults=FaultPlan(seed=9, sub_rate=1.0, sub_kinds=("value_errors",))) as srv:
        tasks, rows = _read(srv.url, archive, tags={tag}, **{"pi.http.max_retries": "2"})
        calls = srv.api.faults.log.counts.get("sub:value_errors")
    windows = [r for r in rows if r["record_kind"] == "window"]
    assert windows[0]["status"] == "failed" and "values carried Errors" in windows[0]["error"]
    assert "archive is busy" in windows[0]["error"] and calls == 3  # the first read and two retries
    assert not [r for r in rows if r["record_kind"] == "value" and r["value_type"] == "error"]


def test_value_errors_are_kept_as_error_rows_when_asked(archive):
    """With pi.keep_value_errors the page is retried, then kept with the error row in place of the value
    (nothing silently dropped) and the window completes."""
    with SimulatorServer(archive, faults=FaultPlan(seed=9, sub_rate=1.0, sub_kinds=("value_errors",))) as srv:
        tasks, rows = _read(
            srv.url,
            archive,
            tags={archive.points[0].name},
            **{"pi.http.max_retries": "2", "pi.keep_value_errors": "true"},
        )
    errors = [r for r in rows if r["record_kind"] == "value" and r["value_type"] == "error"]
    windows = [r for r in rows if r["record_kind"] == "window"]
    assert windows[0]["status"] == "ok" and len(errors) == 1 and errors[0]["good"] is False
    assert "archive is busy" in errors[0]["errors"]
    expected = _truth(archive, [archive.points[0].name])
    got = _keyed(rows)
    assert set(got) == set(expected)
    assert sum(got[k] != expected[k] for k in expected) == 1


def test_the_first_batch_calls_fail_then_the_rate_applies(server):
    server.set_faults(FaultPlan(seed=3, fail_first=2, http_kinds=("503",)))
    statuses = [
        requests.post(f"{server.url}/batch", json={}, headers={"X-Requested-With": "t"}, timeout=5).status_code
        for _ in range(4)
    ]
    assert statuses == [503, 503, 207, 207]
    assert requests.get(f"{server.url}/dataservers", timeout=5).status_code == 200  # GETs are not counted


def test_a_new_plan_starts_its_own_count_of_first_failures(server):
    for _ in range(2):
        server.set_faults(FaultPlan(seed=3, fail_first=1, http_kinds=("500",)))
        statuses = [
            requests.post(f"{server.url}/batch", json={}, headers={"X-Requested-With": "t"}, timeout=5).status_code
            for _ in range(2)
        ]
        assert statuses == [500, 207]


def _unreachable(url: str, timeout: str = "2s") -> str:
    client = PIWebAPIClient(
        PIConfig.from_mapping({"pi.url": url, "pi.http.max_retries": "0", "pi.http.timeout": timeout})
    )
    with pytest.raises(PIWebAPIError) as raised:
        client.get("dataservers")
    assert raised.value.transient  # the next update (or retry) tries again
    return str(raised.value)


def test_a_server_that_cannot_be_reached_is_one_line_naming_the_host_and_the_reason():
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert _unreachable(f"http://127.0.0.1:{port}/piwebapi") == (
        f"GET /piwebapi/dataservers: cannot reach 127.0.0.1:{port}: connection refused (nothing listens on that port)"
    )
    assert _unreachable("https://pi.no-such-host.invalid/piwebapi") == (
        "GET /piwebapi/dataservers: cannot reach pi.no-such-host.invalid: the host name does not resolve (DNS)"
    )
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert _unreachable(f"http://127.0.0.1:{silent.getsockname()[1]}/piwebapi", "0.5s") == (
            f"GET /piwebapi/dataservers: cannot reach 127.0.0.1:{silent.getsockname()[1]}: "
            "no answer within 0.5s (pi.http.timeout)"
        )
