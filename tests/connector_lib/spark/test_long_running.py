"""The stream readers inside one long-running (continuous) update, driven the way a processing-time trigger
drives them: the AF snapshot is taken again every ``pi.af.refresh``, event frames are searched every
``pi.ef.interval`` from where the previous search of the update ended, and new tags are discovered every
``pi.discovery_interval``; a triggered (available-now) update still reads each once."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from connector_lib.config import PIConfig
from connector_lib.plan import WindowTask
from connector_lib.spark.af_source import AFStreamReader
from connector_lib.spark.datasource import PIStreamReader
from connector_lib.spark.ef_source import EventFrameStreamReader
from pi_simulator import Archive, SimulatorServer
from pi_simulator.model import ArchiveChanges
from pi_simulator.truth import to_ticks

UTC = dt.UTC


def config(**more) -> PIConfig:
    return PIConfig.from_mapping(
        {
            "pi.url": "http://pi.invalid/piwebapi",
            "pi.af.databases": "Operations",
            "pi.af.refresh": "1s",
            "pi.ef.interval": "1s",
            **more,
        }
    )


def test_the_af_snapshot_is_taken_again_after_the_refresh_interval():
    """As Spark 4.2 drives it: the next latest offset is asked from the batch that ran; Spark commits a
    batch only when it builds the next one."""
    reader = AFStreamReader(config(), None, {})
    first = reader.latestOffset(reader.initialOffset(), None)
    assert first["round"] == 1
    assert reader.latestOffset(reader.initialOffset(), None) == first  # asked again before it ran: the same
    assert reader.latestOffset(first, None) == first  # it ran just now: not due before pi.af.refresh
    time.sleep(1.1)
    second = reader.latestOffset(first, None)
    assert second["round"] == 2 and second["at"] > first["at"]
    reader.commit(first)  # Spark commits the first batch as it builds the second
    assert reader.latestOffset(first, None) == second


def test_without_the_start_offset_a_new_offset_comes_every_refresh_interval():
    """As Spark 4.0 and 4.1 drive it: ``latestOffset()`` without the start gives a new offset every
    pi.af.refresh, and each new one reads."""
    reader = AFStreamReader(config(), None, {})
    first = reader.latestOffset()
    assert reader.latestOffset() == first  # within pi.af.refresh: the same offset, no new batch
    assert reader.partitions(reader.initialOffset(), first)  # the first read
    time.sleep(1.1)
    second = reader.latestOffset()
    assert second != first
    reader.commit(first)  # Spark commits the first batch as it builds the second
    assert reader.partitions(first, second)
    assert json.loads(reader.partitions(first, second)[0].value)["since"] == first["at"]


def test_the_reads_after_a_first_one_continue_the_same_update():
    """The table did not exist when the update started (its first read creates it): the later reads of
    the same long-running update are not a stream resumed without its state."""
    reader = AFStreamReader(config(), None, {"table": "main.osipi.pi_af_bronze", "found": False})
    first = reader.latestOffset(reader.initialOffset(), None)
    assert reader.partitions(reader.initialOffset(), first)
    time.sleep(1.1)
    second = reader.latestOffset(first, None)
    assert reader.partitions(first, second)


def test_a_triggered_update_takes_one_snapshot():
    reader = AFStreamReader(config(**{"pi.af.refresh": "0s"}), None, {})
    reader.prepareForTriggerAvailableNow()
    first = reader.latestOffset(reader.initialOffset(), None)
    reader.commit(first)
    assert reader.latestOffset(first, None) == first  # pi.af.refresh 0s: due, but once per update


def test_event_frames_are_searched_again_from_where_the_previous_search_ended():
    reader = EventFrameStreamReader(config(), {"\\\\AF\\Operations": "2026-11-30T00:00:00+00:00"}, {})
    first = reader.latestOffset(reader.initialOffset(), None)
    [part] = reader.partitions(reader.initialOffset(), first)
    assert json.loads(part.value)["since"] is None  # the first search starts where the last update's ended
    time.sleep(1.1)
    second = reader.latestOffset(first, None)
    assert second["round"] == 2
    [part] = reader.partitions(first, second)
    assert json.loads(part.value)["since"] == first["at"]


@pytest.fixture
def growing_server():
    """Four points, a fifth created three seconds from now."""
    created = dt.datetime.now(UTC) + dt.timedelta(seconds=3)
    base = Archive(seed=3, n_points=5)
    late = base.points[4].name
    archive = Archive(seed=3, n_points=5, changes=ArchiveChanges(created=((late, to_ticks(created)),)))
    with SimulatorServer(archive) as server:
        yield server, server.api.point_webid(archive.points[4])


def _windows(reader: PIStreamReader, start: dict) -> tuple[dict, set[str]]:
    end = reader.latestOffset(start, None)
    tasks = [WindowTask.from_json(t) for p in reader.partitions(start, end) for t in json.loads(p.value)["tasks"]]
    reader.commit(end)
    return end, {t.web_id for t in tasks}


@pytest.mark.parametrize("available_now", [False, True])
def test_new_tags_are_discovered_in_a_long_running_update_only(growing_server, available_now):
    server, new_tag = growing_server
    reader = PIStreamReader(
        PIConfig.from_mapping(
            {"pi.url": server.url, "pi.discovery_interval": "1s", "pi.settle_lag": "0s", "pi.backfill_start": "*-5m"}
        ),
        {},
    )
    if available_now:
        reader.prepareForTriggerAvailableNow()
    offset, first = _windows(reader, reader.initialOffset())
    assert len(first) == 4 and new_tag not in first
    time.sleep(3.5)
    _, later = _windows(reader, offset)
    assert (new_tag in later) is not available_now
