"""The stream reader's two conversations with Spark, driven the way each runtime drives it, against the
simulator over HTTP: Spark 4.0 and 4.1 (Databricks Runtime 17.3 LTS) call ``latestOffset()`` without the
start and ask for the partitions of the last committed batch when a query restarts; Spark 4.2 and
Databricks Runtime 18 pass the start and a read limit. ``tests/compat`` runs the real thing under each."""

import datetime as dt
import json

import pytest

from connector_lib.config import PIConfig
from connector_lib.plan import WindowTask
from connector_lib.spark.datasource import PIStreamReader
from connector_lib.spark.state import StateError
from pi_simulator import Archive, SimulatorServer

UTC = dt.UTC


@pytest.fixture(scope="module")
def server():
    with SimulatorServer(Archive(seed=3, n_points=4)) as running:
        yield running


def reader(server, watermarks=None, state=None) -> PIStreamReader:
    config = PIConfig.from_mapping(
        {
            "pi.url": server.url,
            "pi.backfill_start": "*-50m",
            "pi.max_window": "20m",
            "pi.lookback": "5m",
            "pi.settle_lag": "0s",
        }
    )
    return PIStreamReader(config, watermarks or {}, state=state)


def windows(partitions) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(web id, start, end) of every window the partitions carry to the executors."""
    tasks = [WindowTask.from_json(t) for p in partitions for t in json.loads(p.value)["tasks"]]
    return sorted((t.web_id, t.start, t.end) for t in tasks)


def test_without_the_start_offset_the_batch_is_planned_in_partitions(server):
    stream = reader(server)
    end = stream.latestOffset()  # Spark 4.0: no arguments
    assert set(end) == {"end"}
    first = windows(stream.partitions(stream.initialOffset(), end))
    assert len(first) == 4  # every tag from the backfill start, one pi.max_window chunk
    assert len({w[1] for w in first}) == 1 and {w[2] - w[1] for w in first} == {dt.timedelta(minutes=20)}
    again = stream.latestOffset()
    second = windows(stream.partitions(end, again))
    assert {w[1] for w in second} == {w[2] for w in first}  # the next chunk continues where the first ended


def test_the_restart_probe_plans_nothing_and_moves_nothing(server):
    stream = reader(server)
    end = stream.latestOffset()
    planned = windows(stream.partitions(stream.initialOffset(), end))
    assert stream.partitions(end, end) == []  # asked again for the committed batch when a query restarts
    nxt = windows(stream.partitions(end, stream.latestOffset()))
    assert {w[1] for w in nxt} == {w[2] for w in planned}


def test_with_the_start_offset_the_update_runs_to_its_end_in_chunks(server):
    stream = reader(server)
    stream.prepareForTriggerAvailableNow()
    offset, rounds = stream.initialOffset(), 0
    while True:
        nxt = stream.latestOffset(offset, None)  # Spark 4.2: start and read limit
        if nxt == offset:
            break
        assert windows(stream.partitions(offset, nxt))
        stream.commit(nxt)
        offset, rounds = nxt, rounds + 1
    assert rounds == 3  # 50 minutes in 20-minute chunks


def test_a_resumed_stream_starts_from_the_watermarks_minus_the_lookback(server):
    mark = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=15)
    tags = reader(server)
    tags.latestOffset(tags.initialOffset(), None)
    marks = {web_id: mark for web_id in tags._positions}
    stream = reader(server, marks, {"table": "c.s.pi_recorded_bronze", "found": True})
    resumed = {"round": 4, "end": mark.isoformat()}
    planned = windows(stream.partitions(resumed, stream.latestOffset()))
    assert len(planned) == 4 and {w[1] for w in planned} == {mark - dt.timedelta(minutes=5)}


def test_a_resumed_stream_whose_bronze_was_not_found_stops(server):
    stream = reader(server, state={"table": "main.osipi.pi_recorded_bronze", "found": False})
    with pytest.raises(StateError, match=r"^main\.osipi\.pi_recorded_bronze: not found when the update started"):
        stream.partitions({"end": "2026-01-01T00:00:00+00:00"}, stream.latestOffset())
    fresh = reader(server, state={"table": "main.osipi.pi_recorded_bronze", "found": False})
    assert windows(fresh.partitions(fresh.initialOffset(), fresh.latestOffset()))  # a first run reads


def test_partitions_asked_twice_for_one_batch_plan_it_once(server):
    for call_with_start in (False, True):
        stream = reader(server)
        start = stream.initialOffset()
        end = stream.latestOffset(start, None) if call_with_start else stream.latestOffset()
        first = windows(stream.partitions(start, end))
        assert windows(stream.partitions(start, end)) == first  # the same windows, positions unmoved
        stream.commit(end)
        nxt = stream.latestOffset(end, None) if call_with_start else stream.latestOffset()
        assert {w[1] for w in windows(stream.partitions(end, nxt))} == {w[2] for w in first}
