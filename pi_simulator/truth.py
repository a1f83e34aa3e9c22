"""Ground truth: the exact values the archive holds for a tag and window, in the normalised form
the lakehouse tables should end up with. Tests and ``make run`` compare silver with this, never
with the pipeline's own output.

Keys are (tag, timestamp at microsecond precision, sequence): Spark timestamps keep microseconds, so
events whose 100 ns ticks fall in one microsecond are told apart by their order (``sequence``), exactly
like several events sharing one PI timestamp.
"""

from __future__ import annotations

import datetime as dt

from .calculation import Stream, intervals, summarize
from .model import DIGITAL_SETS, TICKS_PER_SECOND, Archive, system_state_name

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ticks(when: dt.datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


def ticks_to_datetime(ticks: int) -> dt.datetime:
    """Truncate 100 ns ticks to the microsecond, as the connector does."""
    return _EPOCH + dt.timedelta(microseconds=int(ticks) // 10)


def recorded(
    archive: Archive, tag: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime | None = None
) -> list[dict]:
    """Every archived event of ``tag`` with ``start <= time <= end`` (both inclusive); with ``as_of``, as
    the server answered at that instant (late arrivals not yet visible, edits made by then applied)."""
    point = archive.by_name[tag.upper()]
    seg = archive.events(point, to_ticks(start), to_ticks(end), as_of=None if as_of is None else to_ticks(as_of))
    states = DIGITAL_SETS.get(point.kind.digital_set, ())
    rows: list[dict] = []
    last_us, seq = None, 0
    for i in range(len(seg.ticks)):
        us = int(seg.ticks[i]) // 10
        seq = seq + 1 if us == last_us else 0
        last_us = us
        code = int(seg.system_code[i])
        row = {
            "tag": point.name,
            "timestamp": ticks_to_datetime(seg.ticks[i]),
            "sequence": seq,
            "value_type": None,
            "value_double": None,
            "value_string": None,
            "state_code": None,
            "state_name": None,
            "is_system": False,
            "good": code == 0,
            "questionable": bool(seg.questionable[i]),
            "substituted": bool(seg.substituted[i]),
            "annotated": bool(seg.annotated[i]),
            "units": point.kind.units,
        }
        if code:
            row.update(value_type="system", state_code=code, state_name=system_state_name(code), is_system=True)
        elif point.point_type == "Digital":
            idx = int(seg.number[i])
            row.update(value_type="digital", state_code=idx, state_name=states[idx])
        elif point.point_type == "String":
            row.update(value_type="string", value_string=seg.text[i])
        else:
            row.update(value_type="number", value_double=float(seg.number[i]))
        rows.append(row)
    return rows


def _stream(archive: Archive, tag: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime) -> Stream:
    return Stream.around(archive, archive.by_name[tag.upper()], to_ticks(start), to_ticks(end), to_ticks(as_of))


def interpolated(
    archive: Archive, tag: str, times: list[dt.datetime], as_of: dt.datetime
) -> list[tuple[dt.datetime, float | None]]:
    """PI's value of ``tag`` at each of ``times`` as the server answered at ``as_of``: the number, or
    None where the value is not a good number (a system state, no data, a digital state or text)."""
    s = _stream(archive, tag, min(times), max(times), as_of)
    return [(t, s.good_number(s.value_at(to_ticks(t)))) for t in times]


def summary(
    archive: Archive,
    tag: str,
    start: dt.datetime,
    end: dt.datetime,
    summary_type: str,
    as_of: dt.datetime,
    duration: dt.timedelta | None = None,
    basis: str = "TimeWeighted",
) -> list[tuple[dt.datetime, float | None]]:
    """PI's ``summary_type`` of ``tag`` per ``duration`` from ``start`` to ``end`` (one interval without
    it) by ``basis``, as of ``as_of``: (interval start, value; None when the interval had no good data)."""
    s = _stream(archive, tag, start, end, as_of)
    step = None if duration is None else to_ticks(_EPOCH + duration)
    out = []
    for lo, hi in intervals(to_ticks(start), to_ticks(end), step):
        (result,) = summarize(s, lo, hi, [summary_type], basis)
        out.append((ticks_to_datetime(lo), result.value if result.good else None))
    return out
