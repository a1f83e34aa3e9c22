"""PI ``TimedValue`` JSON to one normalised row, keeping every value's meaning.

Numbers, strings, digital states (name and code) and system states ("Pt Created", "I/O Timeout", ...)
land in separate columns with a ``value_type`` that says which one is meaningful; the four quality flags
and the units are kept; timestamps are UTC. A value the server could not produce (per-value ``Errors``)
keeps its timestamp with ``value_type = 'error'`` and the error text, so nothing disappears silently.
Anything that does not look like a TimedValue raises :class:`MalformedValue` for quarantine.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .timeutil import parse_pi_timestamp

# column order of a normalised value (the data source schema repeats it)
VALUE_FIELDS = (
    "timestamp",
    "timestamp_raw",
    "value_type",
    "value_double",
    "value_string",
    "state_code",
    "state_name",
    "is_system",
    "good",
    "questionable",
    "substituted",
    "annotated",
    "units",
    "errors",
)
#: what a value says, as opposed to when: its type, its typed columns, the quality flags and the units (the
#: columns a reconciliation compares with the ground truth)
TYPED_FIELDS = VALUE_FIELDS[VALUE_FIELDS.index("value_type") : VALUE_FIELDS.index("units") + 1]


class MalformedValue(ValueError):
    """A value object that cannot be normalised; carries the raw item for the quarantine table."""

    def __init__(self, reason: str, raw: object):
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


def _flag(item: dict, name: str) -> bool | None:
    """A quality flag as the server sent it; None (unknown) when it sent none: older servers omit
    ``Annotated`` and ``selectedFields`` can leave out any flag, which says nothing about the value."""
    value = item.get(name)
    if value is None or value is True or value is False:
        return value
    raise MalformedValue(f"{name} is not a boolean", item)


def normalise(item: object, stream_units: str | None = None) -> tuple:
    """One ``TimedValue`` to a tuple in :data:`VALUE_FIELDS` order (``timestamp_raw`` is the server's text)."""
    if type(item) is not dict:
        raise MalformedValue("value is not a JSON object", item)
    raw_ts = item.get("Timestamp")
    if type(raw_ts) is not str:
        raise MalformedValue("Timestamp missing or not a string", item)
    try:
        ts = parse_pi_timestamp(raw_ts)
    except ValueError:
        raise MalformedValue(f"unparseable Timestamp {raw_ts!r}", item) from None
    value: Any = item.get("Value")
    units = item.get("UnitsAbbreviation", stream_units)
    if units is None:
        units = stream_units
    elif type(units) is not str:
        raise MalformedValue("UnitsAbbreviation is not a string", item)
    errors = item.get("Errors")
    good = _flag(item, "Good")
    questionable = _flag(item, "Questionable")
    substituted = _flag(item, "Substituted")
    annotated = _flag(item, "Annotated")
    value_double = value_string = state_code = state_name = None
    is_system = False
    kind = type(value)
    if errors:
        value_type = "error"
        good = False
        value_string = None if value is None else json.dumps(value, ensure_ascii=False)
    elif kind is float or kind is int:
        value_type, value_double = "number", float(value)
        if value_double != value_double or value_double in (math.inf, -math.inf):
            value_type, value_double, value_string = "string", None, str(value)
    elif kind is dict:
        name, code = value.get("Name"), value.get("Value")
        if type(name) is not str or type(code) is not int:
            raise MalformedValue("digital state without a Name and an integer Value", item)
        is_system = value.get("IsSystem") is True
        value_type = "system" if is_system else "digital"
        state_code, state_name = code, name
    elif kind is str:
        value_type, value_string = "string", value
    elif kind is bool:
        value_type, value_double = "number", 1.0 if value else 0.0
    elif value is None:
        raise MalformedValue("Value is null without Errors", item)
    else:
        raise MalformedValue(f"unsupported Value type {kind.__name__}", item)
    return (
        ts,
        raw_ts,
        value_type,
        value_double,
        value_string,
        state_code,
        state_name,
        is_system,
        good,
        questionable,
        substituted,
        annotated,
        units,
        json.dumps(errors, ensure_ascii=False) if errors else None,
    )
