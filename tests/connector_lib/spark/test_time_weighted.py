"""PI's TimeWeighted rule per tag and hour (connector_lib.spark.time_weighted) on a real local Spark:
cases worked by hand (T0 is 10:00, ``at(m)`` is m minutes later), then random histories compared with the
simulator's own calculation (pi_simulator.calculation), an implementation in plain Python that shares no
code with the Spark one."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from chispa import assert_approx_df_equality

from connector_lib.spark import time_weighted
from pi_simulator.calculation import Stream, summarize
from pi_simulator.model import Segment
from pi_simulator.truth import to_ticks
from tests.conftest import T0, at

HOUR = dt.timedelta(hours=1)
EVENTS = "web_id string, timestamp timestamp, sequence int, number double, good boolean"
TAGS = "web_id string, step boolean, until timestamp"
IO_TIMEOUT = None  # a bad event: no number, not good


def hours(spark, events, step=False, until=None, web_id="W"):
    """``events``: (minute, number or IO_TIMEOUT[, sequence]) of one tag -> {hour: (mean, good share)}."""
    rows = [(web_id, at(e[0]), e[2] if len(e) > 2 else 0, e[1], e[1] is not None) for e in events]
    got = time_weighted.hourly(
        spark.createDataFrame(rows, EVENTS), spark.createDataFrame([(web_id, step, until)], TAGS)
    ).collect()
    return {(r.hour.replace(tzinfo=dt.UTC) if r.hour.tzinfo is None else r.hour): r for r in got}


def test_a_continuous_hour_interpolates_both_boundaries(spark):
    # 09:30 = 0, 10:30 = 60, 11:30 = 0: the line is 30 at 10:00 and at 11:00, 60 at 10:30 -> mean 45
    got = hours(spark, [(-30, 0.0), (30, 60.0), (90, 0.0)], until=at(90))
    assert got[T0].time_weighted_mean == pytest.approx(45.0)
    assert got[T0].time_weighted_good_share == pytest.approx(1.0)


def test_a_stepped_hour_holds_the_value_from_before_it(spark):
    # 09:30 = 10 holds to 10:30, then 60 to 11:30 -> (10 * 30 + 60 * 30) / 60
    got = hours(spark, [(-30, 10.0), (30, 60.0), (90, 0.0)], step=True, until=at(90))
    assert got[T0].time_weighted_mean == pytest.approx(35.0)


def test_an_hour_without_events_has_a_mean_from_the_events_on_both_sides(spark):
    # 09:50 = 0 and 11:10 = 80: 10:00 is 10, 11:00 is 70 -> mean 40 (stepped: 0)
    assert hours(spark, [(-10, 0.0), (70, 80.0)], until=at(70))[T0].time_weighted_mean == pytest.approx(40.0)
    assert hours(spark, [(-10, 0.0), (70, 80.0)], step=True, until=at(70))[T0].time_weighted_mean == 0.0


def test_a_system_state_is_bad_time_and_the_value_before_it_holds(spark):
    # 10:00 = 10 holds to the bad event at 10:20; bad to 10:40; 30 at 10:40 on the line to 50 at 11:40
    # (30 + 20 / 3 at 11:00): area 10 * 20 + (30 + 30 + 20 / 3) / 2 * 20 over 40 good minutes
    got = hours(spark, [(0, 10.0), (20, IO_TIMEOUT), (40, 30.0), (100, 50.0)], until=at(100))
    assert got[T0].time_weighted_mean == pytest.approx((200 + (60 + 20 / 3) / 2 * 20) / 40)
    assert got[T0].time_weighted_good_share == pytest.approx(40 / 60)


def test_values_sharing_a_timestamp_the_first_ends_the_line_the_last_starts_the_next(spark):
    # 10:00 = 0 -> first at 10:30 = 10; last at 10:30 = 20 -> 11:00 = 20: (5 * 30 + 20 * 30) / 60
    got = hours(spark, [(0, 0.0), (30, 10.0, 0), (30, 20.0, 1), (60, 20.0)], until=at(60))
    assert got[T0].time_weighted_mean == pytest.approx(12.5)


def test_time_before_the_first_event_is_not_good_and_the_last_value_holds_to_the_horizon(spark):
    # first event at 10:15; known until 11:30: 10:00-10:15 no data; 11:00-11:30 the value held
    got = hours(spark, [(15, 8.0), (45, 4.0)], until=at(90))
    assert got[T0].time_weighted_good_share == pytest.approx(45 / 60)
    assert got[T0].time_weighted_mean == pytest.approx((6 * 30 + 4 * 15) / 45)
    later = got[T0 + HOUR]
    assert later.time_weighted_mean == pytest.approx(4.0)
    assert later.time_weighted_good_share == pytest.approx(1.0)  # the known half hour, all good
    assert set(got) == {T0, T0 + HOUR}


def test_each_hour_carries_the_last_event_started_before_its_end(spark):
    got = hours(spark, [(10, 1.0), (50, IO_TIMEOUT), (55, 3.0, 0), (55, 7.0, 1)], until=at(200))
    carried = got[T0]
    assert (carried.last_event_value, carried.last_event_good) == (7.0, True)
    assert carried.last_event_at.replace(tzinfo=dt.UTC) == at(55)
    # the silent hours after it carry the same event
    assert got[T0 + 2 * HOUR].last_event_value == 7.0 and got[T0 + 2 * HOUR].time_weighted_mean == 7.0


def test_tags_do_not_mix_and_the_session_zone_does_not_move_hours(any_zone_spark):
    spark = any_zone_spark
    a = hours(spark, [(0, 1.0), (60, 1.0)], until=at(60), web_id="A")
    b = hours(spark, [(0, 5.0), (60, 5.0)], until=at(60), web_id="B")
    assert a[T0].time_weighted_mean == 1.0 and b[T0].time_weighted_mean == 5.0
    assert set(a) == {T0, T0 + HOUR}


def random_history(rng: random.Random, n: int) -> list[tuple[float, float | None, int]]:
    """Events over about four hours: random gaps (some long), a few bad ones, a few shared timestamps."""
    out, minute = [], -rng.uniform(0, 90)
    for _ in range(n):
        minute += rng.choice((0.0, rng.uniform(0.01, 5), rng.uniform(5, 40), rng.uniform(60, 150)))
        number = None if rng.random() < 0.08 else round(rng.uniform(-50, 150), 3)
        sequence = out[-1][2] + 1 if out and out[-1][0] == minute else 0
        out.append((round(minute, 4), number, sequence))
    return out


def simulator_hours(history, step: bool, until_minute: float) -> dict:
    """The same history through the simulator's calculation: each complete hour's Average and
    PercentGood as PI's summary gives them."""
    ticks = np.array([to_ticks(at(m)) for m, _, _ in history], dtype=np.int64)
    codes = np.array([0 if v is not None else 246 for _, v, _ in history], dtype=np.int32)
    numbers = np.array([v if v is not None else 0.0 for _, v, _ in history])
    none = np.zeros(len(history), dtype=bool)
    stream = Stream(Segment(ticks, codes, numbers, None, none, none, none), numeric=True, step=step)
    first = T0 + dt.timedelta(minutes=history[0][0])
    first_hour = first.replace(minute=0, second=0, microsecond=0) + HOUR  # complete hours only
    out, hour = {}, first_hour
    while hour + HOUR <= at(until_minute):
        avg, good = summarize(stream, to_ticks(hour), to_ticks(hour + HOUR), ["Average", "PercentGood"])
        out[hour] = (avg.value if avg.good else None, good.value / 100)
        hour += HOUR
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_equal_the_simulators_summary_for_every_complete_hour(spark, seed):
    rng = random.Random(seed)
    history = random_history(rng, 80)
    step = seed % 2 == 1
    until = history[-1][0] + rng.uniform(0, 120)
    want = simulator_hours(history, step, until)
    got = hours(spark, history, step=step, until=at(until))
    assert len(want) >= 2
    expected = spark.createDataFrame(
        [(h, m, s) for h, (m, s) in want.items()], "hour timestamp, mean double, share double"
    )
    actual = spark.createDataFrame(
        [(h, got[h].time_weighted_mean, got[h].time_weighted_good_share) for h in want],
        "hour timestamp, mean double, share double",
    )
    assert_approx_df_equality(actual, expected, precision=1e-7, ignore_row_order=True)


def test_a_value_without_a_good_flag_is_good_unless_it_is_a_system_state(spark):
    """Servers and selectedFields may omit Good: silver keeps it unknown, gold counts the number as good
    (and a system state as bad, as every system state is)."""
    from connector_lib.spark import transforms
    from tests.conftest import bronze, value

    silver = transforms.silver_values(
        bronze(
            spark,
            [
                value("A", 0, 4.0, read_at=90, good=None),
                value("A", 30, None, read_at=90, vtype="system", good=None, state_name="Shutdown", state_code=254),
                value("A", 60, 8.0, read_at=90, good=None),
            ],
        )
    )
    events = [(r.number, r.good) for r in time_weighted.events_of(silver).orderBy("timestamp").collect()]
    assert events == [(4.0, True), (None, False), (8.0, True)]
    assert [r.good for r in silver.orderBy("timestamp").collect()] == [None, None, None]
