"""PI's calculations over a point's archived events: the value at any time (interpolation) and summaries
of intervals, by the rules the PI Web API documents for ``interpolated``, ``plot`` and ``summary``.

The documented rules (PI Web API reference, "Calculation Basis" and "Summary Type"):

* A point's ``Step`` attribute decides interpolation: off, a value at a time between two events lies on
  the straight line between them; on (and for every non-numeric point), the earlier event holds until the
  next. After the last event its value holds.
* ``TimeWeighted`` weights each value by the time it applies, with interpolated values generated at the
  interval's boundaries; ``TimeWeightedContinuous`` and ``TimeWeightedDiscrete`` do the same as if ``Step``
  were off or on; ``EventWeighted`` weights every event in the interval (both ends included) alike.
* Bad values (system states such as ``I/O Timeout``) are left out; ``PercentGood`` is the share of the
  interval's time (time-weighted) or of its events (event-weighted) that was good; time with no data at
  all (before the point's first event) is not good. ``Total`` is the time integral in units per day,
  scaled up from the good time to the whole interval.

What the reference leaves open, this module decides as follows (and ``docs/simulator.md`` says so):
a bad event makes the time from it to the next event bad; the good value before a bad event holds up to
it (there is nothing to interpolate towards); of several events sharing a timestamp, the first is the
value at that instant and the last is the one that holds after it; the time-weighted standard deviations
(sample and population alike) are the square root of the time-weighted mean squared deviation;
time-weighted ``Count`` is the good time in seconds; an interval without good data answers ``Calc Failed``
(bad) for every type but ``Count`` and ``PercentGood``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .model import TICKS_PER_SECOND, Archive, Point, Segment

NO_DATA = ("No Data", 248)
CALC_FAILED = ("Calc Failed", 249)
SECONDS_PER_DAY = 86400.0

#: summary types in the order a response lists them, as the API spells them
SUMMARY_TYPES = (
    "Total",
    "Average",
    "Minimum",
    "Maximum",
    "Range",
    "StdDev",
    "PopulationStdDev",
    "Count",
    "PercentGood",
    "TotalWithUOM",
)
#: the names that stand for several types
SUMMARY_GROUPS = {
    "All": SUMMARY_TYPES[:9],
    "AllForNonNumeric": ("Count", "PercentGood"),
}
BASES = ("TimeWeighted", "EventWeighted", "TimeWeightedContinuous", "TimeWeightedDiscrete")
TIME_TYPES = ("Auto", "EarliestTime", "MostRecentTime")
#: the only types a stream of digital states or text can be summarised by
NON_NUMERIC_TYPES = frozenset(SUMMARY_GROUPS["AllForNonNumeric"])


@dataclass(frozen=True)
class Sample:
    """A stream's value at one time: the archived event at ``index`` (held or exact), a number
    interpolated between two events, or neither (no data: before the first event)."""

    index: int | None = None
    number: float | None = None

    @property
    def no_data(self) -> bool:
        return self.index is None and self.number is None


@dataclass(frozen=True)
class Result:
    """One summary value: ``value`` a number, or a system state ``(name, code)`` when bad."""

    type: str
    ticks: int
    value: float | tuple[str, int]
    good: bool


class Stream:
    """A point's events (``seg``, in archive order) as the calculations see them. ``seg`` must hold
    every event the calculation needs: the last one before the earliest time asked and the first one
    after the latest (``events_around`` in the routes)."""

    def __init__(self, seg: Segment, numeric: bool, step: bool):
        self.seg = seg
        self.ticks = seg.ticks
        self.numeric = numeric
        self.step = step or not numeric
        self.good = seg.system_code == 0

    @classmethod
    def around(cls, archive: Archive, point: Point, start: int, end: int, as_of: int) -> Stream:
        """The stream of ``point`` over ``[start, end]`` as of ``as_of`` (ticks), with the events on either
        side that its values at ``start`` and ``end`` need."""
        return cls(archive.events_around(point, start, end, as_of), point.numeric, point.step)

    def held(self, step: bool | None) -> bool:
        """Whether values hold between events: the point's ``Step``, or ``step`` when a calculation basis
        overrides it (a non-numeric point always holds)."""
        return self.step if step is None else (step or not self.numeric)

    def __len__(self) -> int:
        return len(self.ticks)

    def value_at(self, ticks: int, step: bool | None = None) -> Sample:
        """The value at ``ticks``: an event exactly then (the first of several), else the previous event
        held (stepped, non-numeric, bad, or nothing good after it to interpolate towards) or the line
        between the previous and the next event."""
        step = self.held(step)
        i = int(np.searchsorted(self.ticks, ticks, side="left"))
        if i < len(self.ticks) and self.ticks[i] == ticks:
            return Sample(index=i)
        if i == 0:
            return Sample()
        before = i - 1
        if step or i == len(self.ticks) or not self.good[before] or not self.good[i]:
            return Sample(index=before)
        t0, t1 = int(self.ticks[before]), int(self.ticks[i])
        v0, v1 = float(self.seg.number[before]), float(self.seg.number[i])
        return Sample(number=v0 + (v1 - v0) * (ticks - t0) / (t1 - t0))

    def good_number(self, sample: Sample) -> float | None:
        """The sample's number when it is a good numeric value, else None."""
        if sample.number is not None:
            return sample.number
        if sample.index is None or not self.numeric or not self.good[sample.index]:
            return None
        return float(self.seg.number[sample.index])

    def is_good(self, sample: Sample) -> bool:
        """Whether the sample is a good value (not a system state, not the absence of data)."""
        return sample.number is not None or (sample.index is not None and bool(self.good[sample.index]))

    def between(self, start: int, end: int, include_end: bool) -> range:
        """Indices of the events with ``start <= time < end`` (``<= end`` with ``include_end``)."""
        lo = int(np.searchsorted(self.ticks, start, side="left"))
        hi = int(np.searchsorted(self.ticks, end, side="right" if include_end else "left"))
        return range(lo, hi)


# ---- summaries ------------------------------------------------------------------------------------------


def expand_types(names: list[str]) -> list[str]:
    """Requested ``summaryType`` values (case-insensitive, groups expanded) in response order; raises
    ValueError naming an unknown one."""
    known = {t.lower(): t for t in (*SUMMARY_TYPES, *SUMMARY_GROUPS)}
    wanted: set[str] = set()
    for name in names or ["Total"]:
        canonical = known.get(name.strip().lower())
        if canonical is None:
            raise ValueError(name)
        wanted.update(SUMMARY_GROUPS.get(canonical, (canonical,)))
    return [t for t in SUMMARY_TYPES if t in wanted]


def summarize(
    stream: Stream, start: int, end: int, types: list[str], basis: str = "TimeWeighted", time_type: str = "Auto"
) -> list[Result]:
    """The summary values of ``types`` over ``[start, end]`` by ``basis``."""
    if basis == "EventWeighted":
        stats = _event_weighted(stream, start, end)
    else:
        step = {"TimeWeightedContinuous": False, "TimeWeightedDiscrete": True}.get(basis)
        stats = _time_weighted(stream, start, end, step)
    out = []
    for kind in types:
        value = stats.get(kind)
        if kind in ("Minimum", "Maximum") and value is not None:
            at, number = value
            ticks = at if time_type == "Auto" else (start if time_type == "EarliestTime" else end)
            out.append(Result(kind, ticks, number, True))
            continue
        ticks = end if time_type == "MostRecentTime" else start
        if value is None:
            out.append(Result(kind, ticks, CALC_FAILED, False))
        else:
            out.append(Result(kind, ticks, value, True))
    return out


def _time_weighted(stream: Stream, start: int, end: int, step: bool | None) -> dict:
    """The time-weighted statistics over ``[start, end)``: boundary values interpolated, each piece
    between consecutive points integrated (trapezoid on a line, rectangle on a held value)."""
    points = [(start, stream.value_at(start, step))]
    points += [(int(stream.ticks[i]), Sample(index=i)) for i in stream.between(start, end, include_end=False)]
    points.append((end, stream.value_at(end, step)))
    held = stream.held(step)
    pieces = []  # (length in seconds, value at its start, value at its end) of the good numeric time
    good_s = 0.0
    for (t0, a), (t1, b) in zip(points, points[1:]):
        length = (t1 - t0) / TICKS_PER_SECOND
        if length <= 0:
            continue
        if not stream.is_good(a):
            continue  # a bad value or no data: not good time
        good_s += length
        v0, v1 = stream.good_number(a), stream.good_number(b)
        if v0 is not None:
            pieces.append((length, v0, v0 if held or v1 is None else v1))
    total_s = (end - start) / TICKS_PER_SECOND
    stats: dict = {"Count": good_s, "PercentGood": 100.0 * good_s / total_s if total_s > 0 else 0.0}
    if not stream.numeric or good_s <= 0:
        return stats
    mean = sum(length * (v0 + v1) / 2 for length, v0, v1 in pieces) / good_s
    variance = sum(
        length * ((v0 - mean) ** 2 + (v0 - mean) * (v1 - mean) + (v1 - mean) ** 2) / 3 for length, v0, v1 in pieces
    )
    deviation = math.sqrt(max(variance / good_s, 0.0))
    candidates = [(t, stream.good_number(s)) for t, s in points]
    candidates = [(t, v) for t, v in candidates if v is not None]
    stats.update(
        Average=mean,
        Total=mean * total_s / SECONDS_PER_DAY,
        TotalWithUOM=mean * total_s / SECONDS_PER_DAY,
        StdDev=deviation,
        PopulationStdDev=deviation,
    )
    if candidates:
        low = min(candidates, key=lambda c: c[1])
        high = max(candidates, key=lambda c: c[1])
        stats.update(Minimum=low, Maximum=high, Range=high[1] - low[1])
    return stats


def _event_weighted(stream: Stream, start: int, end: int) -> dict:
    """Every event in ``[start, end]`` weighs the same; bad ones are left out of the statistics."""
    events = list(stream.between(start, end, include_end=True))
    good = [i for i in events if stream.good[i]]
    stats: dict = {
        "Count": float(len(good)),
        "PercentGood": 100.0 * len(good) / len(events) if events else 0.0,
    }
    if not stream.numeric or not good:
        return stats
    values = [float(stream.seg.number[i]) for i in good]
    mean = sum(values) / len(values)
    squares = sum((v - mean) ** 2 for v in values)
    low = min(good, key=lambda i: stream.seg.number[i])
    high = max(good, key=lambda i: stream.seg.number[i])
    stats.update(
        Average=mean,
        Total=sum(values),
        TotalWithUOM=sum(values),
        PopulationStdDev=math.sqrt(squares / len(values)),
        Minimum=(int(stream.ticks[low]), float(stream.seg.number[low])),
        Maximum=(int(stream.ticks[high]), float(stream.seg.number[high])),
        Range=float(stream.seg.number[high] - stream.seg.number[low]),
    )
    if len(values) > 1:  # "Two events are required for standard deviation"
        stats["StdDev"] = math.sqrt(squares / (len(values) - 1))
    return stats


def intervals(start: int, end: int, duration: int | None) -> list[tuple[int, int]]:
    """``[start, end]`` cut into ``duration``-long intervals from ``start`` (the last one shorter when
    the range is not a multiple); the whole range when ``duration`` is None."""
    if duration is None:
        return [(start, end)]
    if duration <= 0:
        raise ValueError("summaryDuration must be positive")
    out, at = [], start
    while at < end:
        out.append((at, min(at + duration, end)))
        at += duration
    return out


# ---- plot -----------------------------------------------------------------------------------------------


def plot_indices(stream: Stream, start: int, end: int, count: int) -> list[int]:
    """The events a plot of ``count`` intervals shows: per interval its first and last event, its lowest
    and highest good value and its first bad one (each once), in time order."""
    chosen: set[int] = set()
    width = (end - start) / count
    for k in range(count):
        lo = start + round(k * width)
        hi = start + round((k + 1) * width)
        inside = list(stream.between(lo, hi, include_end=k == count - 1))
        if not inside:
            continue
        chosen.update((inside[0], inside[-1]))
        good = [i for i in inside if stream.good[i]]
        if good and stream.numeric:
            chosen.add(min(good, key=lambda i: stream.seg.number[i]))
            chosen.add(max(good, key=lambda i: stream.seg.number[i]))
        bad = [i for i in inside if not stream.good[i]]
        if bad:
            chosen.add(bad[0])
    return sorted(chosen)


# ---- at a time ------------------------------------------------------------------------------------------

RETRIEVAL_MODES = ("Auto", "AtOrBefore", "Before", "AtOrAfter", "After", "Exact")


def recorded_at(stream: Stream, ticks: int, mode: str) -> Sample:
    """The recorded event ``mode`` picks for ``ticks`` (``Auto``: the interpolated value of a continuous
    point, the event at or before of a stepped one); no data when there is none."""
    if mode == "Auto":
        return stream.value_at(ticks)
    n = len(stream.ticks)
    at_lo = int(np.searchsorted(stream.ticks, ticks, side="left"))
    at_hi = int(np.searchsorted(stream.ticks, ticks, side="right"))
    exact = at_lo < at_hi
    if mode == "Exact":
        return Sample(index=at_lo) if exact else Sample()
    if mode == "AtOrBefore":
        return Sample(index=at_lo) if exact else (Sample(index=at_lo - 1) if at_lo > 0 else Sample())
    if mode == "Before":
        return Sample(index=at_lo - 1) if at_lo > 0 else Sample()
    if mode == "AtOrAfter":
        return Sample(index=at_lo) if at_lo < n else Sample()
    if mode == "After":
        return Sample(index=at_hi) if at_hi < n else Sample()
    raise ValueError(mode)
