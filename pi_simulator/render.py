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


def event_value(point: Point, seg: Segment, i: int) -> object:
    """The ``Value`` of event ``i``: a number, a text, or a digital state object (system states too)."""
    text = seg.text[i] if seg.text is not None else None
    return _value(point, int(seg.system_code[i]), float(seg.number[i]), text)


def _value(point: Point, code: int, number: float, text: str | None) -> object:
    if code:
        return state_value(system_state_name(code), code)
    if point.point_type == "Digital":
        idx = int(number)
        return {"Name": DIGITAL_SETS[point.kind.digital_set][idx], "Value": idx, "IsSystem": False}
    if point.point_type == "String":
        return text
    if point.point_type == "Int32":
        return int(number)
    return number


def state_value(name: str, code: int) -> dict:
    """A system digital state as a ``Value``."""
    return {"Name": name, "Value": code, "IsSystem": True}


def timed_value(point: Point, ticks: int, value: object, good: bool, seg: Segment | None = None, i: int = -1) -> dict:
    """One ``TimedValue`` at ``ticks``; the flags of event ``i`` of ``seg`` when given (an archived event),
    else none set (a value the server calculated)."""
    archived = seg is not None and i >= 0
    return {
        "Timestamp": format_ticks(ticks),
        "Value": value,
        "UnitsAbbreviation": point.kind.units,
        "Good": good,
        "Questionable": bool(seg.questionable[i]) if archived else False,
        "Substituted": bool(seg.substituted[i]) if archived else False,
        "Annotated": bool(seg.annotated[i]) if archived else False,
    }


def timed_values(point: Point, seg: Segment) -> list[dict]:
    units = point.kind.units
    stamps = format_many(seg.ticks)
    codes, numbers = seg.system_code.tolist(), seg.number.tolist()
    texts = seg.text if seg.text is not None else [None] * len(codes)
    questionable, substituted, annotated = (seg.questionable.tolist(), seg.substituted.tolist(), seg.annotated.tolist())
    return [
        {
            "Timestamp": stamps[i],
            "Value": _value(point, code, numbers[i], texts[i]),
            "UnitsAbbreviation": units,
            "Good": code == 0,
            "Questionable": questionable[i],
            "Substituted": substituted[i],
            "Annotated": annotated[i],
        }
        for i, code in enumerate(codes)
    ]
