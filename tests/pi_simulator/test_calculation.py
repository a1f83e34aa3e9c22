"""PI's interpolation and summary rules in the simulator, on events worked by hand.

Each case gives a few events (seconds from an origin, a number or a system state) and the figures the
documented TimeWeighted / EventWeighted rules give for them, computed on paper in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pi_simulator.calculation import (
    CALC_FAILED,
    Sample,
    Stream,
    expand_types,
    intervals,
    plot_indices,
    recorded_at,
    summarize,
)
from pi_simulator.model import TICKS_PER_SECOND, Segment

T = TICKS_PER_SECOND
IO_TIMEOUT, PT_CREATED = 246, 253


def stream(events: list[tuple[float, float | int]], step: bool = False, states: set[int] = frozenset()) -> Stream:
    """``events``: (seconds, value); a value in ``states`` (or a code >= 246 given as an int) is a system
    state with that code."""
    ticks = np.array([round(s * T) for s, _ in events], dtype=np.int64)
    codes = np.array([v if isinstance(v, int) and v >= 246 else 0 for _, v in events], dtype=np.int32)
    numbers = np.array([0.0 if c else float(v) for (_, v), c in zip(events, codes)])
    false = np.zeros(len(events), dtype=bool)
    return Stream(Segment(ticks, codes, numbers, None, false, false, false), numeric=True, step=step)


def stats(s: Stream, start: float, end: float, basis: str = "TimeWeighted") -> dict:
    """Every summary type's value; ``Minimum``/``Maximum`` as (seconds of their time, value)."""
    results = summarize(s, round(start * T), round(end * T), expand_types(["All"]), basis)
    extremes = ("Minimum", "Maximum")
    return {r.type: (r.ticks / T, r.value) if r.type in extremes and r.good else r.value for r in results}


def test_a_continuous_value_is_interpolated_at_the_boundary_and_held_after_the_last_event():
    s = stream([(0, 0.0), (60, 60.0)])
    assert s.value_at(30 * T) == Sample(number=30.0)
    assert s.value_at(90 * T) == Sample(index=1)
    # [30, 60]: a line from 30 to 60, area 45 * 30 = 1350; [60, 90]: 60 held, 1800; mean 3150 / 60
    got = stats(s, 30, 90)
    assert got["Average"] == pytest.approx(52.5)
    assert got["PercentGood"] == pytest.approx(100.0)
    assert got["Total"] == pytest.approx(52.5 * 60 / 86400)
    assert got["Minimum"] == (30, 30.0) and got["Maximum"] == (60, 60.0)
    assert got["Range"] == pytest.approx(30.0)
    assert got["Count"] == pytest.approx(60.0)  # good seconds


def test_a_stepped_value_holds_until_the_next_event():
    s = stream([(0, 0.0), (60, 60.0)], step=True)
    assert s.value_at(30 * T) == Sample(index=0)
    # [30, 60]: 0 held; [60, 90]: 60 held; mean (0 * 30 + 60 * 30) / 60
    assert stats(s, 30, 90)["Average"] == pytest.approx(30.0)
    # the bases that override the point's Step
    assert stats(s, 30, 90, "TimeWeightedContinuous")["Average"] == pytest.approx(52.5)
    assert stats(stream([(0, 0.0), (60, 60.0)]), 30, 90, "TimeWeightedDiscrete")["Average"] == pytest.approx(30.0)


def test_an_hour_without_events_is_interpolated_from_its_neighbours():
    events = [(-30, 0.0), (90, 120.0)]  # one event before the interval, one after, none inside
    # continuous: the line is 30 at 0 and 90 at 60, mean 60; stepped: 0 held throughout
    assert stats(stream(events), 0, 60)["Average"] == pytest.approx(60.0)
    assert stats(stream(events, step=True), 0, 60)["Average"] == pytest.approx(0.0)
    assert stats(stream(events), 0, 60)["PercentGood"] == pytest.approx(100.0)


def test_a_system_state_makes_its_time_bad_and_the_value_before_it_holds():
    s = stream([(0, 10.0), (20, IO_TIMEOUT), (40, 30.0), (100, 50.0)])
    # [0, 20): 10 held up to the bad event, 200; [20, 40): bad; [40, 60): the line 30 -> 50 (at 100)
    # reaches 30 + 20 * 20 / 60 at 60, area (30 + 36.667) / 2 * 20 = 666.67; good time 40 s
    got = stats(s, 0, 60)
    assert got["Average"] == pytest.approx((200 + (30 + 30 + 20 * 20 / 60) / 2 * 20) / 40)
    assert got["PercentGood"] == pytest.approx(100 * 40 / 60)
    # the total is scaled up from the good time to the whole interval, in units per day
    assert got["Total"] == pytest.approx(got["Average"] * 60 / 86400)
    assert s.value_at(30 * T) == Sample(index=1)  # the state itself holds (a digital state is not interpolated)


def test_events_sharing_a_timestamp_the_first_ends_the_line_the_last_starts_the_next():
    s = stream([(0, 0.0), (30, 10.0), (30, 20.0), (60, 20.0)])
    assert s.value_at(30 * T) == Sample(index=1)
    # [0, 30): line 0 -> 10, 150; [30, 60): 20 -> 20, 600; mean 750 / 60
    assert stats(s, 0, 60)["Average"] == pytest.approx(12.5)


def test_time_before_the_first_event_is_no_data_and_not_good():
    s = stream([(30, PT_CREATED), (45, 10.0)])
    assert s.value_at(0).no_data
    got = stats(s, 0, 60)
    assert got["Average"] == pytest.approx(10.0)
    assert got["PercentGood"] == pytest.approx(25.0)


def test_an_interval_without_good_data_answers_calc_failed_but_counts_and_percent_good():
    s = stream([(0, IO_TIMEOUT), (100, 5.0)])
    got = stats(s, 10, 60)
    assert got["Average"] == CALC_FAILED and got["Minimum"] == CALC_FAILED
    assert got["PercentGood"] == 0.0 and got["Count"] == 0.0


def test_time_weighted_standard_deviation_integrates_the_line():
    s = stream([(0, 0.0), (60, 60.0), (120, 60.0)])
    # [0, 60]: v = t, [60, 120]: 60; mean (1800 + 3600) / 120 = 45
    # variance: (int_0^60 (t - 45)^2 dt + 60 * 15^2) / 120 = ((15^3 + 45^3) / 3 + 13500) / 120
    got = stats(s, 0, 120)
    assert got["Average"] == pytest.approx(45.0)
    assert got["StdDev"] == pytest.approx(math.sqrt(((15**3 + 45**3) / 3 + 13500) / 120))
    assert got["PopulationStdDev"] == got["StdDev"]


def test_event_weighted_counts_every_event_in_the_interval_once_both_ends_included():
    s = stream([(0, 1.0), (20, IO_TIMEOUT), (40, 3.0), (60, 8.0), (61, 100.0)])
    got = stats(s, 0, 60, "EventWeighted")
    assert got["Average"] == pytest.approx(4.0)  # (1 + 3 + 8) / 3
    assert got["Total"] == pytest.approx(12.0)
    assert got["Count"] == 3.0
    assert got["PercentGood"] == pytest.approx(75.0)
    assert got["StdDev"] == pytest.approx(math.sqrt((9 + 1 + 16) / 2))  # sample
    assert got["PopulationStdDev"] == pytest.approx(math.sqrt((9 + 1 + 16) / 3))
    assert got["Minimum"] == (0, 1.0) and got["Maximum"] == (60, 8.0)


def test_one_good_event_has_no_event_weighted_standard_deviation():
    assert stats(stream([(10, 4.0)]), 0, 60, "EventWeighted")["StdDev"] == CALC_FAILED


def test_time_types_stamp_the_result():
    s = stream([(0, 0.0), (60, 60.0)])
    at = {
        kind: {r.type: r.ticks for r in summarize(s, 0, 60 * T, ["Average", "Maximum"], time_type=kind)}
        for kind in ("Auto", "EarliestTime", "MostRecentTime")
    }
    assert at["Auto"] == {"Average": 0, "Maximum": 60 * T}
    assert at["EarliestTime"] == {"Average": 0, "Maximum": 0}
    assert at["MostRecentTime"] == {"Average": 60 * T, "Maximum": 60 * T}


def test_summary_types_expand_in_response_order_and_reject_unknown_names():
    assert expand_types(["percentgood", "Average"]) == ["Average", "PercentGood"]
    assert expand_types([]) == ["Total"]
    assert expand_types(["AllForNonNumeric"]) == ["Count", "PercentGood"]
    assert "TotalWithUOM" not in expand_types(["All"])
    with pytest.raises(ValueError):
        expand_types(["Median"])


def test_summary_durations_cut_the_range_from_its_start():
    assert intervals(0, 25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert intervals(0, 25, None) == [(0, 25)]


def test_retrieval_modes_pick_the_event_around_a_time():
    s = stream([(0, 1.0), (30, 2.0), (30, 3.0), (60, 4.0)], step=True)
    at = 30 * T
    assert recorded_at(s, at, "Exact") == Sample(index=1)
    assert recorded_at(s, at, "AtOrBefore") == Sample(index=1)
    assert recorded_at(s, at, "Before") == Sample(index=0)
    assert recorded_at(s, at, "AtOrAfter") == Sample(index=1)
    assert recorded_at(s, at, "After") == Sample(index=3)
    assert recorded_at(s, 45 * T, "Exact").no_data
    assert recorded_at(s, 45 * T, "Auto") == Sample(index=2)  # stepped: at or before, the last at 30
    assert recorded_at(stream([(0, 1.0), (60, 4.0)]), 45 * T, "Auto") == Sample(number=pytest.approx(3.25))
    assert recorded_at(s, 61 * T, "After").no_data and recorded_at(s, -1, "Before").no_data


def test_a_plot_interval_shows_its_first_last_extremes_and_first_bad_event_once_each():
    s = stream([(1, 5.0), (2, 9.0), (3, IO_TIMEOUT), (4, 1.0), (5, 6.0), (6, 7.0), (12, 3.0)])
    # interval [0, 10): first 1s, last 6s, highest 2s, lowest 4s, bad 3s; interval [10, 20]: 12s only
    assert plot_indices(s, 0, 20 * T, 2) == [0, 1, 2, 3, 5, 6]
