"""Archive events rendered as PI Web API ``TimedValue`` JSON objects."""

from __future__ import annotations

import datetime as dt

import numpy as np

from .model import DIGITAL_SETS, TICKS_PER_SECOND, Point, Segment, system_state_name

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def format_ticks(ticks: int) -> str:
    """UTC ``Z`` time; fraction only when non-zero, up to 7 digits with trailing zeros trimmed."""
    seconds, frac = divmod(int(ticks), TICKS_PER_SECOND)
    text = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:07d}".rstrip("0")
    return text + "Z"


def format_many(ticks: np.ndarray) -> list[str]:
    """:func:`format_ticks` for an array, vectorised (rendering dominates the simulator's cost)."""
    if not len(ticks):
        return []
    text = np.datetime_as_string((ticks * 100).astype("datetime64[ns]"), unit="ns")
    whole = (ticks % TICKS_PER_SECOND) == 0
    return [t[:19] + "Z" if w else t[:27].rstrip("0") + "Z" for t, w in zip(text.tolist(), whole.tolist())]


def timed_values(point: Point, seg: Segment) -> list[dict]:
    units = point.kind.units
    states = DIGITAL_SETS.get(point.kind.digital_set, ())
    ptype = point.point_type
    stamps = format_many(seg.ticks)
    codes = seg.system_code.tolist()
    numbers = seg.number.tolist()
    questionable, substituted, annotated = (seg.questionable.tolist(), seg.substituted.tolist(), seg.annotated.tolist())
    out = []
    for i, code in enumerate(codes):
        if code:
            value: object = {"Name": system_state_name(code), "Value": code, "IsSystem": True}
        elif ptype == "Digital":
            idx = int(numbers[i])
            value = {"Name": states[idx], "Value": idx, "IsSystem": False}
        elif ptype == "String":
            value = seg.text[i]
        elif ptype == "Int32":
            value = int(numbers[i])
        else:
            value = numbers[i]
        out.append(
            {
                "Timestamp": stamps[i],
                "Value": value,
                "UnitsAbbreviation": units,
                "Good": code == 0,
                "Questionable": questionable[i],
                "Substituted": substituted[i],
                "Annotated": annotated[i],
            }
        )
    return out
