"""Exact paging through the batch controller, against the simulator over real HTTP and its ground truth
(nothing dropped or repeated at a page boundary): windows larger than maxCount, several values on one timestamp across a page
boundary, the server's item cap, and per-tag failures that do not hold back other tags."""

import datetime as dt
import os

import pytest

from connector_lib.client import PIWebAPIClient
from connector_lib.config import ConfigError, PIConfig
from connector_lib.discovery import discover_tags
from connector_lib.extract import BRONZE_COLUMNS, iter_rows, read_windows
from connector_lib.plan import WindowTask
from connector_lib.values import TYPED_FIELDS
from pi_simulator import Archive, SimulatorServer, truth
from tests.conftest import hour_start

UTC = dt.UTC
COLS = [name for name, _ in BRONZE_COLUMNS]
COMPARED = TYPED_FIELDS
# OSIPI_TEST_HOURS_AGO moves the window (the data differ per hour): a sweep over it finds data-dependent bugs
END = hour_start(int(os.environ.get("OSIPI_TEST_HOURS_AGO", "1")))
START = END - dt.timedelta(hours=3)


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=11, n_points=24)


def run(server_url, tasks, **settings):
    config = PIConfig.from_mapping({"pi.url": server_url, "pi.http.backoff": "0s", **settings})
    rows = [dict(zip(COLS, r)) for r in iter_rows(read_windows(PIWebAPIClient(config), config, tasks))]
    return [r for r in rows if r["record_kind"] == "value"], [r for r in rows if r["record_kind"] == "window"]


def tasks_for(server_url, start=START, end=END, names=None, **settings):
    config = PIConfig.from_mapping({"pi.url": server_url, **settings})
    tags = discover_tags(PIWebAPIClient(config), config)
    return [WindowTask.of(t, start, end) for t in tags if names is None or t.name in names]


def keyed(rows):
    out = {}
    for r in rows:
        key = (r["tag"], r["timestamp"], r["sequence"])
        assert key not in out, f"value read twice: {key}"
        out[key] = tuple(r[c] for c in COMPARED)
    return out


def truth_keyed(archive, tags, start=START, end=END):
    return {
        (t["tag"], t["timestamp"], t["sequence"]): tuple(t[c] for c in COMPARED)
        for name in tags
        for t in truth.recorded(archive, name, start, end)
    }


@pytest.mark.parametrize(
    "page_size, per_request, n_tags, per_call",
    [(10000, 100, 24, 20000), (7, 5, 12, 20000), (2, 3, 4, 20000), (10000, 24, 24, 240)],
)
def test_every_value_once_whatever_the_page_size(server, archive, page_size, per_request, n_tags, per_call):
    tasks = tasks_for(server.url)[:n_tags]
    values, windows = run(
        server.url,
        tasks,
        **{
            "pi.page_size": str(page_size),
            "pi.values_per_call": str(per_call),
            "pi.tags_per_request": str(per_request),
        },
    )
    expected = truth_keyed(archive, [t.tag for t in tasks])
    assert len(expected) > 100 and (page_size > 100 or len(expected) > 50 * page_size)
    assert keyed(values) == expected
    assert len(windows) == len(tasks) and {w["status"] for w in windows} == {"ok"}
    assert sum(w["value_count"] for w in windows) == len(expected)


def _duplicate_case(archive):
    for point in archive.points:
        rows = truth.recorded(archive, point.name, START, END)
        for i in range(1, len(rows)):
            if rows[i]["sequence"] == 1 and i >= 2:
                return point.name, rows, i - 1  # index of the first value of the shared timestamp
    pytest.skip("no duplicate timestamp in this archive window")  # pragma: no cover - seed has them


def test_values_sharing_a_timestamp_across_a_page_boundary(server, archive):
    name, rows, first = _duplicate_case(archive)
    # the first page ends on the first of the values sharing one timestamp
    values, windows = run(server.url, tasks_for(server.url, names={name}), **{"pi.page_size": str(first + 1)})
    got = keyed(values)
    assert got == truth_keyed(archive, [name])
    ts = rows[first]["timestamp"]
    shared = [r["sequence"] for r in rows if r["timestamp"] == ts]  # 2 or more, depending on the hour
    assert len(shared) >= 2 and [k[2] for k in got if k[1] == ts] == shared
    assert windows[0]["status"] == "ok"


def test_page_of_one_timestamp_grows_then_reports_the_item_cap(archive):
    name, _, _ = _duplicate_case(archive)
    with SimulatorServer(archive, max_items_per_call=1) as capped:
        cap = {"pi.page_size": "1", "pi.max_items_per_call": "1"}
        values, windows = run(capped.url, tasks_for(capped.url, names={name}, **cap), **cap)
    assert windows[0]["status"] == "failed"
    assert "share timestamp" in windows[0]["error"]
    # what was read before the unpageable instant is real data, not invented
    expected = truth_keyed(archive, [name])
    assert set(keyed(values)) <= set(expected)
    # when the cap leaves room for one more value than the busiest shared instant holds, paging goes on
    most = 1 + max(r["sequence"] for r in truth.recorded(archive, name, START, END))
    with SimulatorServer(archive, max_items_per_call=most + 1) as capped:
        cap = {"pi.page_size": "1", "pi.max_items_per_call": str(most + 1)}
        values, windows = run(capped.url, tasks_for(capped.url, names={name}, **cap), **cap)
    assert windows[0]["status"] == "ok" and keyed(values) == expected


def test_a_failing_tag_does_not_hold_back_the_others(server, archive):
    tasks = tasks_for(server.url)[:4]
    ghost = WindowTask("P1DP" + "R0hPU1RcTk9UX0FfVEFH", "GHOST", START, END)
    values, windows = run(server.url, tasks + [ghost], **{"pi.page_size": "50", "pi.http.max_retries": "0"})
    status = {w["tag"]: (w["status"], w["error"]) for w in windows}
    assert status["GHOST"][0] == "failed" and "404" in status["GHOST"][1]
    assert all(status[t.tag][0] == "ok" for t in tasks)
    assert keyed(values) == truth_keyed(archive, [t.tag for t in tasks])


def test_discovery_by_explicit_list_and_by_name_filter(server, archive):
    base = {"pi.url": server.url}
    names = [archive.points[3].name, archive.points[0].name.lower()]
    config = PIConfig.from_mapping({**base, "pi.tags": ",".join(names)})
    found = discover_tags(PIWebAPIClient(config), config)
    assert [t.name for t in found] == sorted([archive.points[3].name, archive.points[0].name])
    assert found[0].point_type and found[0].web_id.startswith("F1DP")
    config = PIConfig.from_mapping({**base, "pi.tag_filter": "syd.*"})
    by_filter = discover_tags(PIWebAPIClient(config), config)
    assert {t.name for t in by_filter} == {p.name for p in archive.points if p.name.startswith("SYD.")}
    config = PIConfig.from_mapping({**base, "pi.tags": "NOPE.1, " + archive.points[1].name})
    with pytest.raises(ConfigError, match=r"^pi.tags: not found on PISIM: NOPE.1$"):
        discover_tags(PIWebAPIClient(config), config)


def test_each_tag_is_discovered_by_exactly_one_shard_and_keeps_it(server, archive):
    def shard(index, count, **settings):
        config = PIConfig.from_mapping(
            {"pi.url": server.url, "pi.shard.count": str(count), "pi.shard.index": str(index), **settings}
        )
        return {t.name for t in discover_tags(PIWebAPIClient(config), config)}

    everyone = {p.name for p in archive.points}
    shards = [shard(i, 3) for i in range(3)]
    assert set().union(*shards) == everyone and sum(len(s) for s in shards) == len(everyone)
    assert all(len(s) >= len(everyone) // 6 for s in shards), [len(s) for s in shards]  # shared out, not lumped
    by_id = {p.name: p.point_id for p in archive.points}
    assert all(by_id[name] % 3 == i for i, names in enumerate(shards) for name in names)
    # an explicit list is shared out the same way, so shards can be given one list
    listed = [archive.points[k].name for k in range(6)]
    assert shard(1, 3, **{"pi.tags": ",".join(listed)}) == shards[1] & set(listed)


def test_a_call_returns_at_most_values_per_call_whatever_the_window():
    from connector_lib.extract import max_count

    config = PIConfig.from_mapping({"pi.url": "http://h/piwebapi", "pi.values_per_call": "20000"})
    assert max_count(config, 100) == 200  # 100 sub-requests x 200 values
    assert max_count(config, 10) == 2000  # the tags still paging get larger pages
    assert max_count(config, 1) == 10000  # never above pi.page_size
    small = PIConfig.from_mapping({"pi.url": "http://h/piwebapi", "pi.values_per_call": "50"})
    assert max_count(small, 100) == 1  # never below one value per sub-request
    capped = PIConfig.from_mapping(
        {"pi.url": "http://h/piwebapi", "pi.max_items_per_call": "500", "pi.page_size": "500"}
    )
    assert capped.values_per_call == 500  # the default follows a lower server cap
