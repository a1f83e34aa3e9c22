"""PI ``TimedValue`` JSON to one normalised row, keeping every value's meaning (DESIGN invariant 4).

Numbers, strings, digital states (name and code) and system states ("Pt Created", "I/O Timeout", ...)
land in separate columns with a ``value_type`` that says which one is meaningful; the four quality flags
and the units are kept; timestamps are UTC. A value the server could not produce (per-value ``Errors``)
keeps its timestamp with ``value_type = 'error'`` and the error text, so nothing disappears silently.
Anything that does not look like a TimedValue raises :class:`MalformedValue` for quarantine.
"""

from __future__ import annotations

import json
import math

from .timeutil import parse_pi_timestamp

# column order of a normalised value (the data source schema repeats it)
VALUE_FIELDS = (
    "timestamp", "timestamp_raw", "value_type", "value_double", "value_string", "state_code",
    "state_name", "is_system", "good", "questionable", "substituted", "annotated", "units", "errors",
)


class MalformedValue(ValueError):
    """A value object that cannot be normalised; carries the raw item for the quarantine table."""

    def __init__(self, reason: str, raw: object):
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


def _flag(item: dict, name: str, default: bool) -> bool:
    value = item.get(name, default)
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    raise MalformedValue(f"{name} is not a boolean", item)


def normalise(item: object, stream_units: str | None = None) -> tuple:
    """One ``TimedValue`` to a tuple in :data:`VALUE_FIELDS` order."""
    if not isinstance(item, dict):
        raise MalformedValue("value is not a JSON object", item)
    raw_ts = item.get("Timestamp")
    if not isinstance(raw_ts, str):
        raise MalformedValue("Timestamp missing or not a string", item)
    try:
        ts, canonical = parse_pi_timestamp(raw_ts)
    except ValueError:
        raise MalformedValue(f"unparseable Timestamp {raw_ts!r}", item) from None
    value = item.get("Value")
    units = item.get("UnitsAbbreviation")
    if units is None:
        units = stream_units
    if units is not None and not isinstance(units, str):
        raise MalformedValue("UnitsAbbreviation is not a string", item)
    errors = item.get("Errors")
    good = _flag(item, "Good", True)
    flags = (_flag(item, "Questionable", False), _flag(item, "Substituted", False),
             _flag(item, "Annotated", False))
    value_double = value_string = state_code = state_name = None
    is_system = False
    if errors:
        value_type = "error"
        good = False
        value_string = None if value is None else json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        name, code = value.get("Name"), value.get("Value")
        if not isinstance(name, str) or isinstance(code, bool) or not isinstance(code, int):
            raise MalformedValue("digital state without a Name and an integer Value", item)
        is_system = value.get("IsSystem") is True
        value_type = "system" if is_system else "digital"
        state_code, state_name = code, name
    elif isinstance(value, bool):
        value_type, value_double = "number", 1.0 if value else 0.0
    elif isinstance(value, (int, float)):
        value_type, value_double = "number", float(value)
        if math.isnan(value_double) or math.isinf(value_double):
            value_type, value_string = "string", str(value)
    elif isinstance(value, str):
        value_type, value_string = "string", value
    elif value is None:
        raise MalformedValue("Value is null without Errors", item)
    else:
        raise MalformedValue(f"unsupported Value type {type(value).__name__}", item)
    return (
        ts, canonical, value_type, value_double, value_string, state_code, state_name, is_system,
        good, *flags, units, json.dumps(errors, ensure_ascii=False) if errors else None,
    )
