"""Stream Updates in the connector, against the simulator over HTTP: the registration and retrieve calls, and
the stream reader following tags through late values, edits, lost markers, a server that forgets every
registration and a reader restarted from its committed state, ending with every value the simulator's
truth holds, once.

The reader is driven the way Spark drives it (``latestOffset``, ``partitions``, ``read``, ``commit``)
without Spark, so the test runs in seconds; the pipeline runs it under Spark in tests/e2e."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.extract import iter_rows
from connector_lib.follow import QUIET_ADVANCE, Follower, UpdatesRefused, window
from connector_lib.spark.datasource import PIStreamReader
from connector_lib.timeutil import UTC
from connector_lib.updates import Lost, Retrieved, Unanswered, register, retrieve
from pi_simulator import Archive, SimulatorServer
from pi_simulator.faults import FaultPlan
from pi_simulator.model import ArchiveChanges
from pi_simulator.truth import recorded
from tests.conftest import BRONZE_NAMES

LATE = ArchiveChanges(seed=4, buffered_share=0.4, max_delay_s=6, edit_share=0.05, max_edit_delay_s=6)


class Clock:
    """The simulator's clock: real time until frozen (then nothing more becomes visible)."""

    def __init__(self):
        self.frozen: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        now = dt.datetime.now(dt.UTC)
        return min(now, self.frozen) if self.frozen else now


def settings(server: SimulatorServer, **more) -> PIConfig:
    return PIConfig.from_mapping(
        {
            "pi.url": server.url,
            "pi.read_mode": "updates",
            "pi.backfill_start": "*-3m",
            "pi.settle_lag": "1s",
            "pi.lookback": "30s",
            "pi.http.backoff": "0s",
            "pi.updates.markers_per_request": "7",
            **more,
        }
    )


class Run:
    """A stream reader driven micro-batch by micro-batch; bronze is the list of rows it read."""

    def __init__(self, config: PIConfig, watermarks=None, markers=None, resumed=False):
        self.reader = PIStreamReader(config, watermarks or {}, markers=markers or {})
        self.offset: dict = {"round": 1, "end": "resumed"} if resumed else self.reader.initialOffset()
        self.bronze: list[dict] = []

    def batch(self) -> int:
        end = self.reader.latestOffset(self.offset, None)
        if end == self.offset:
            return 0
        rows = [r for p in self.reader.partitions(self.offset, end) for r in iter_rows(self.reader.read(p))]
        self.bronze += [dict(zip(BRONZE_NAMES, r)) for r in rows]
        self.reader.commit(end)
        self.offset = end
        return len(rows)


def silver(bronze: list[dict]) -> dict[tuple, tuple]:
    """Each (tag, timestamp, sequence) once, with the value read last: what silver's merge keeps."""
    kept: dict[tuple, tuple] = {}
    for row in sorted((r for r in bronze if r["record_kind"] == "value"), key=lambda r: r["extracted_at"]):
        kept[(row["tag"], row["timestamp"], row["sequence"])] = _value(row)
    return kept


def _value(row: dict) -> tuple:
    return (row["value_type"], row["value_double"], row["value_string"], row["state_code"], row["good"])


def truth(archive: Archive, start: dt.datetime, end: dt.datetime, as_of: dt.datetime) -> dict[tuple, tuple]:
    return {
        (r["tag"], r["timestamp"], r["sequence"]): _value(r)
        for p in archive.points
        for r in recorded(archive, p.name, start, end, as_of=as_of)
    }


def reached(bronze: list[dict]) -> dict[str, dt.datetime]:
    """How far each tag's windows reached."""
    ends: dict[str, dt.datetime] = {}
    for r in bronze:
        if r["record_kind"] == "window":
            ends[r["web_id"]] = max(ends.get(r["web_id"], r["window_end"]), r["window_end"])
    return ends


def follow_until_frozen(run: Run, clock: Clock, seconds: float, pause: float = 0.5, between=None) -> dt.datetime:
    """Micro-batches for ``seconds`` of real time, then the simulator's clock frozen and micro-batches
    for a few seconds more (nothing becomes visible any more: the followers retrieve what is left, the
    tags read with recorded pass the frozen instant); returns the instant frozen."""
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        run.batch()
        if between:
            between()
        time.sleep(pause)
    clock.frozen = dt.datetime.now(dt.UTC)
    stop = time.monotonic() + 3  # past the settle lag: tags read with recorded pass the frozen instant too
    while time.monotonic() < stop:
        run.batch()
        time.sleep(0.5)
    return clock.frozen


@pytest.fixture
def late_server():
    clock = Clock()
    archive = Archive(seed=31, n_points=12, changes=LATE, interval_scale=0.02)
    with SimulatorServer(archive, clock=clock) as srv:
        yield srv, archive, clock


def test_register_and_retrieve_many_tags_per_call(late_server):
    server, archive, _ = late_server
    config = settings(server)
    client = PIWebAPIClient(config)
    webids = [server.api.point_webid(p) for p in archive.points]
    found = register(client, config, [*webids[:5], "F1DPnotawebid", *webids[5:]])
    assert isinstance(found["F1DPnotawebid"], Lost) and "400" in found["F1DPnotawebid"].reason
    markers = {w: found[w] for w in webids}
    assert all(isinstance(m, str) for m in markers.values())
    time.sleep(1.5)
    got = retrieve(client, config, markers)  # type: ignore[arg-type]
    assert all(isinstance(g, Retrieved) for g in got.values())
    assert sum(len(g.events) for g in got.values() if isinstance(g, Retrieved)) > 0
    server.api.updates.forget_all()
    lost = retrieve(client, config, {w: g.marker for w, g in got.items() if isinstance(g, Retrieved)})
    assert {type(g) for g in lost.values()} == {Lost}
    assert all("Cache not found" in g.reason for g in lost.values() if isinstance(g, Lost))


def test_a_retrieve_that_fails_transiently_keeps_its_marker():
    archive = Archive(seed=3, n_points=3)
    plan = FaultPlan(seed=1, sub_rate=1.0, sub_kinds=("503",))
    with SimulatorServer(archive, faults=plan) as server:
        config = settings(server, **{"pi.http.max_retries": "1"})
        got = retrieve(PIWebAPIClient(config), config, {"W1": "0" * 32 + "_0"})
        assert isinstance(got["W1"], Unanswered)


def test_only_values_added_after_the_position_are_written_as_delivered():
    from connector_lib.discovery import Tag

    tag = Tag(web_id="W", name="T", point_type="Float64", digital_set="")
    at = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)

    def event(action, seconds):
        stamp = (at + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"Action": action, "Timestamp": stamp, "Value": 1.5, "Good": True}

    until = at + dt.timedelta(seconds=10)
    adds = window(tag, at, until, Retrieved("m1", [event("Add", 3), event("Add", 3), event("Add", 9)]))
    assert adds is not None and adds.events is not None and len(adds.events) == 3
    assert (adds.start, adds.end, adds.marker) == (at, until, "m1")
    edit = window(tag, at, until, Retrieved("m2", [event("Add", 4), event("Update", -100)]))
    assert edit is not None and edit.events is None  # read with recorded from the edited instant
    assert (edit.start, edit.end, edit.marker) == (at - dt.timedelta(seconds=100), until, "m2")
    # an edit of a value this same retrieve delivered: which of the instant's values it replaces is the
    # archive's to say, so the window is read with recorded
    same = window(tag, at, until, Retrieved("m2", [event("Add", 4), event("Update", 4)]))
    assert same is not None and same.events is None and same.start == at
    ahead = window(tag, at, until, Retrieved("m3", [event("Add", 60)]))  # stamped after the retrieve was sent
    assert ahead is not None and ahead.events is not None and ahead.end == at + dt.timedelta(seconds=60)
    again = window(tag, at, until, Retrieved("m4", [event("Add", 0)]))  # at the position: may be its second
    assert again is not None and again.events is None
    # PI stamps to 100 ns: a window ending at a value stamped finer than a microsecond ends after it, so
    # the window read with recorded (here, for the edit beside it) holds that value
    fine = {"Action": "Add", "Timestamp": "2026-12-01T12:00:30.7546043Z", "Value": 1.5, "Good": True}
    beside = window(tag, at, until, Retrieved("m6", [fine, event("Update", -100)]))
    assert beside is not None and beside.events is None
    assert beside.end == at + dt.timedelta(seconds=30, microseconds=754605)
    assert window(tag, at, until, Retrieved("m5", [])) is None  # quiet: nothing to write yet
    quiet = window(tag, at, at + QUIET_ADVANCE, Retrieved("m5", []))
    assert quiet is not None and quiet.events == () and quiet.marker == "m5"


@pytest.mark.slow
def test_following_late_values_and_edits_ends_with_the_truth(late_server):
    server, archive, clock = late_server
    run = Run(settings(server))
    run.batch()  # backfill, registration
    assert run.reader.follower.markers.keys() == reached(run.bronze).keys()
    frozen = follow_until_frozen(run, clock, seconds=14)
    start = min(r["window_start"] for r in run.bronze if r["record_kind"] == "window")
    assert silver(run.bronze) == truth(archive, start, frozen, frozen)
    windows = [r for r in run.bronze if r["record_kind"] == "window"]
    assert all(r["status"] == "ok" for r in windows)
    delivered = sum(1 for r in windows if r["raw"] and '"marker"' in r["raw"] and r["value_count"])
    assert delivered > 10  # most windows came from the updates themselves


@pytest.mark.slow
def test_lost_markers_fall_back_to_recorded_and_register_again(late_server):
    """The server forgets every registration twice (a restart), and some markers expire: each tag reads
    from its watermark with recorded and follows again; nothing is missed or doubled."""
    server, archive, clock = late_server
    run = Run(settings(server))
    run.batch()
    rounds = iter(range(1000))

    def restart_sometimes():
        if next(rounds) in (4, 12):
            server.api.updates.forget_all()

    frozen = follow_until_frozen(run, clock, seconds=14, between=restart_sometimes)
    start = min(r["window_start"] for r in run.bronze if r["record_kind"] == "window")
    assert silver(run.bronze) == truth(archive, start, frozen, frozen)
    assert run.reader.follower.markers.keys() == reached(run.bronze).keys()  # all following again


@pytest.mark.slow
def test_a_restarted_reader_resumes_from_its_committed_markers(late_server):
    server, archive, clock = late_server
    config = settings(server)
    first = Run(config)
    for _ in range(6):
        first.batch()
        time.sleep(0.5)
    windows = sorted((r for r in first.bronze if r["record_kind"] == "window"), key=lambda r: r["extracted_at"])
    marks = {r["web_id"]: r["window_end"] for r in windows}
    markers = {r["web_id"]: json.loads(r["raw"])["marker"] for r in windows if r["raw"]}
    assert markers.keys() == marks.keys()
    time.sleep(1.0)
    second = Run(config, marks, markers, resumed=True)
    registered_before = server.api.updates.registrations
    frozen = follow_until_frozen(second, clock, seconds=4)
    assert server.api.updates.registrations == registered_before  # resumed, not registered again
    start = min(r["window_start"] for r in windows)
    assert silver(first.bronze + second.bronze) == truth(archive, start, frozen, frozen)


def test_auto_reads_with_recorded_where_the_server_has_no_stream_updates():
    archive = Archive(seed=3, n_points=4)
    with SimulatorServer(archive, stream_updates=False) as server:  # a PI Web API from before 2018
        auto = Run(settings(server, **{"pi.read_mode": "auto"}))
        assert auto.batch() > 0 and not auto.reader.follower.enabled
        with pytest.raises(UpdatesRefused, match=r"pi.read_mode: updates, but http://127.0.0.1:\d+\S* does not offer"):
            Run(settings(server)).batch()


def test_a_follower_with_recorded_mode_never_calls_the_server():
    config = PIConfig.from_mapping({"pi.url": "http://unused.invalid"})
    follower = Follower(config, {"W": "m"}, lambda: pytest.fail("no client wanted"), lambda: dt.datetime.now(UTC))
    assert not follower.following("W")
    assert follower.register_caught_up([], dt.datetime.now(UTC)) == []


def test_a_point_the_user_may_not_read_is_polled_and_the_others_follow():
    """Point security refuses one registration (403); the other tags of its sub-request are registered one
    by one, and one refusal does not make the server look as if it had no Stream Updates."""
    archive = Archive(seed=3, n_points=4)
    denied = archive.points[0]
    with SimulatorServer(archive, faults=FaultPlan(failing_points=frozenset({denied.name}))) as server:
        run = Run(settings(server))
        run.batch()
        following = run.reader.follower.markers
        assert run.reader.follower.enabled
        assert len(following) == 3 and server.api.point_webid(denied) not in following
