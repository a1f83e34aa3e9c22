"""Archive events rendered as PI Web API ``TimedValue`` JSON objects."""

from __future__ import annotations

import datetime as dt

from .model import DIGITAL_SETS, TICKS_PER_SECOND, Point, Segment, system_state_name

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def format_ticks(ticks: int) -> str:
    """UTC ``Z`` time; fraction only when non-zero, up to 7 digits with trailing zeros trimmed."""
    seconds, frac = divmod(int(ticks), TICKS_PER_SECOND)
    text = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:07d}".rstrip("0")
    return text + "Z"


def timed_values(point: Point, seg: Segment) -> list[dict]:
    units = point.kind.units
    states = DIGITAL_SETS.get(point.kind.digital_set, ())
    ptype = point.point_type
    out = []
    for i in range(len(seg.ticks)):
        code = int(seg.system_code[i])
        if code:
            value: object = {"Name": system_state_name(code), "Value": code, "IsSystem": True}
        elif ptype == "Digital":
            idx = int(seg.number[i])
            value = {"Name": states[idx], "Value": idx, "IsSystem": False}
        elif ptype == "String":
            value = seg.text[i]
        elif ptype == "Int32":
            value = int(seg.number[i])
        else:
            value = float(seg.number[i])
        out.append({
            "Timestamp": format_ticks(seg.ticks[i]),
            "Value": value,
            "UnitsAbbreviation": units,
            "Good": code == 0,
            "Questionable": bool(seg.questionable[i]),
            "Substituted": bool(seg.substituted[i]),
            "Annotated": bool(seg.annotated[i]),
        })
    return out
