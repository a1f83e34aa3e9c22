"""Planning: per-tag windows (lookback once per update, bounded chunks) and value-balanced partitions."""

import datetime as dt

from connector_lib.config import PIConfig
from connector_lib.discovery import Tag
from connector_lib.plan import WindowTask, partition_tasks, plan_windows

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = PIConfig.from_mapping(
    {"pi.url": "http://h/piwebapi", "pi.lookback": "10m", "pi.max_window": "1h", "pi.partitions": "2"}
)


def hours(h: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=h)


def test_lookback_only_on_the_first_window_and_chunks_bounded():
    tags = [Tag("WA", "A"), Tag("WB", "B")]
    marks = {"WA": hours(5)}  # A has a watermark, B is new and starts at its backfill position
    positions = {"WA": hours(5), "WB": hours(2)}
    first = {t.tag: t for t in plan_windows(tags, positions, marks, set(), CONFIG, hours(6))}
    assert (first["A"].start, first["A"].end, first["A"].prior_watermark) == (
        hours(5) - dt.timedelta(minutes=10),
        hours(6),
        hours(5),
    )
    assert (first["B"].start, first["B"].end, first["B"].prior_watermark) == (hours(2), hours(3), None)
    positions = {t.web_id: t.end for t in first.values()}
    second = {t.tag: t for t in plan_windows(tags, positions, marks, {"WA", "WB"}, CONFIG, hours(6))}
    assert set(second) == {"B"}  # A is current; B continues exactly where it stopped, no lookback
    assert (second["B"].start, second["B"].end) == (hours(3), hours(4))


def test_partitions_balance_expected_values_not_tag_counts():
    tasks = [WindowTask(f"W{i}", f"T{i}", hours(0), hours(1)) for i in range(10)]
    densities = {"W0": 10.0, **{f"W{i}": 0.01 for i in range(1, 10)}}
    parts = partition_tasks(tasks, CONFIG, densities)
    assert len(parts) == 2
    dense = next(p for p in parts if any(t.web_id == "W0" for t in p))
    assert [t.web_id for t in dense] == ["W0"]  # the dense tag is a partition of its own
    assert sorted(t.web_id for p in parts for t in p) == sorted(t.web_id for t in tasks)


def test_partitions_are_contiguous_tag_ranges_of_about_equal_load():
    import random

    rng = random.Random(3)
    tasks = [WindowTask(f"W{i:05d}", f"T{i}", hours(0), hours(rng.choice([1, 1, 1, 4]))) for i in range(2000)]
    rng.shuffle(tasks)
    config = PIConfig.from_mapping({"pi.url": "http://h/piwebapi", "pi.partitions": "8"})
    parts = partition_tasks(tasks, config)
    assert len(parts) == 8
    ranges = [(min(t.web_id for t in p), max(t.web_id for t in p)) for p in parts]
    assert all(ranges[k][1] < ranges[k + 1][0] for k in range(7))  # disjoint and in order: file stats skip
    loads = [sum((t.end - t.start).total_seconds() for t in p) for p in parts]
    assert max(loads) <= 1.01 * sum(loads) / 8 + 4 * 3600  # within one window of an equal share
    assert sorted(t.web_id for p in parts for t in p) == sorted(t.web_id for t in tasks)


def test_long_backfill_windows_weigh_more_and_unknown_tags_count_as_median():
    tasks = [WindowTask("LONG", "L", hours(0), hours(24))] + [
        WindowTask(f"S{i}", f"S{i}", hours(23), hours(24)) for i in range(6)
    ]
    parts = partition_tasks(tasks, CONFIG)  # no history at all: equal density, so length decides
    assert [t.web_id for t in parts[0]] == ["LONG"] and len(parts[1]) == 6
