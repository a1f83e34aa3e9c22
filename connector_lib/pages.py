"""Pages of recorded values straight to Arrow columns: one pass per field over a page, not one Python
call per value.

A page is decoded this way only when every item is a plain ``TimedValue`` of one value kind (numbers,
strings or digital states), with boolean quality flags, string units, no per-value ``Errors`` and a UTC
timestamp ending in ``Z``: what a PI Web API sends for nearly every page. Anything else returns ``None``
and the caller falls back to :func:`connector_lib.values.normalise` item by item, which types or
quarantines every odd value. Both paths produce the same rows (tests/connector_lib/test_pages.py holds them to it).

Timestamps are parsed by Arrow in C: read as nanoseconds (PI's 100 ns ticks fit) and truncated to
microseconds, the same truncation :func:`connector_lib.timeutil.parse_pi_timestamp` applies. A page whose
timestamps Arrow cannot read (outside 1677..2262, say) goes the careful way too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .bronze import ARROW_SCHEMA
from .values import TYPED_FIELDS

_NS = pa.timestamp("ns", tz="UTC")
_US = pa.timestamp("us", tz="UTC")
_FIELDS = ("Timestamp", "Value", "Good", "Questionable", "Substituted", "Annotated", "UnitsAbbreviation")
_GETTERS = tuple(itemgetter(name) for name in _FIELDS)
_NUMBER = {int, float}
_KINDS = {int, float, str, dict}
_KIND_NAMES = {int: "number", float: "number", str: "string"}
_BOOL = {bool}
_STR = {str}


@dataclass
class PageColumns:
    """The value columns of one page; a column left ``None`` is null for every value."""

    raw_ts: list
    value_type: list
    value_double: list | None = None
    value_string: list | None = None
    state_code: list | None = None
    state_name: list | None = None
    is_system: list | None = None
    good: list | None = None
    questionable: list | None = None
    substituted: list | None = None
    annotated: list | None = None
    units: list | None = None


def decode_page(items: list, stream_units: object) -> PageColumns | None:
    """The page's columns, or ``None`` when any item needs the value-by-value path.

    Only items with exactly the seven fields of a plain TimedValue qualify (so no ``Errors``, no
    ``Annotations``), each field pulled out by one C-level pass over the page."""
    if not items or (stream_units is not None and type(stream_units) is not str):
        return None
    try:
        if set(map(len, items)) != {len(_FIELDS)}:
            return None
        raw_ts, values, good, questionable, substituted, annotated, units = (
            list(map(getter, items)) for getter in _GETTERS
        )
    except (KeyError, TypeError):
        return None
    if set(map(type, raw_ts)) != _STR:
        return None
    for flag in (good, questionable, substituted, annotated):
        if set(map(type, flag)) != _BOOL:
            return None
    unit_types = set(map(type, units))
    if unit_types != _STR:
        if not unit_types <= {str, type(None)}:
            return None
        units = [stream_units if u is None else u for u in units]
    n = len(items)
    page = PageColumns(
        raw_ts,
        ["number"] * n,
        units=units,
        good=good,
        questionable=questionable,
        substituted=substituted,
        annotated=annotated,
    )
    kinds = set(map(type, values))
    if kinds == {float}:
        page.value_double = values
    elif not kinds <= _KINDS or not _mixed_values(page, values, kinds):
        return None
    if page.value_double is not None:
        numbers = page.value_double if kinds == {float} else [v for v in page.value_double if v is not None]
        if not np.isfinite(np.asarray(numbers, dtype=np.float64)).all():
            return None  # NaN and infinities are kept as text by the careful path
    if page.is_system is None:
        page.is_system = [False] * n
    return page


def _mixed_values(page: PageColumns, values: list, kinds: set) -> bool:
    """Numbers, strings and digital or system states, in any mix (a numeric tag's "I/O Timeout")."""
    types = list(map(type, values))
    system = None
    if dict in kinds:
        states = [v if t is dict else None for v, t in zip(values, types)]
        try:
            names = [s["Name"] if s is not None else None for s in states]
            codes = [s["Value"] if s is not None else None for s in states]
        except KeyError:
            return False
        if set(type(x) for x, t in zip(names, types) if t is dict) != _STR or set(
            type(x) for x, t in zip(codes, types) if t is dict
        ) != {int}:
            return False
        system = [s is not None and s.get("IsSystem") is True for s in states]
        page.state_name, page.state_code, page.is_system = names, codes, system
        page.value_type = [
            ("system" if y else "digital") if t is dict else _KIND_NAMES[t] for t, y in zip(types, system)
        ]
    elif len(kinds) > 1 or str in kinds:
        page.value_type = [_KIND_NAMES[t] for t in types]
    if kinds & _NUMBER:
        try:
            page.value_double = [float(v) if t is int or t is float else None for v, t in zip(values, types)]
        except OverflowError:
            return False
    if str in kinds:
        page.value_string = [v if t is str else None for v, t in zip(values, types)]
    return True


def parse_timestamps(raw_ts: list | pa.Array) -> pa.Array | None:
    """Microsecond UTC timestamps of PI's ``...T...Z`` texts, or ``None`` if Arrow cannot read one."""
    text = raw_ts if isinstance(raw_ts, pa.Array) else pa.array(raw_ts, pa.string())
    if not (
        pc.all(pc.ends_with(text, "Z")).as_py() and pc.all(pc.equal(pc.utf8_slice_codeunits(text, 10, 11), "T")).as_py()
    ):
        return None
    try:
        return text.cast(_NS).cast(_US, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


@dataclass
class PageOf:
    """A decoded page with the window it belongs to and the sequence state it continues."""

    items: list
    columns: PageColumns
    constants: dict  # web_id, tag, window_start, window_end, prior_watermark, point_type, digital_set
    last_micros: int | None  # the window's last timestamp before this page (µs), for the sequence
    last_sequence: int
    units: object = None  # the response's UnitsAbbreviation, for the careful path


def _readable(pages: Sequence[PageOf]) -> tuple[list[PageOf], list[PageOf], pa.Array, pa.Array]:
    """Parse all pages' timestamps in one Arrow call; only if that fails, find the pages at fault.
    Returns the readable pages, the others, and the readable pages' timestamp texts and values."""
    text = pa.array(list(chain.from_iterable(p.columns.raw_ts for p in pages)), pa.string())
    stamps = parse_timestamps(text)
    if stamps is not None:
        return list(pages), [], text, stamps
    readable, declined, texts, parsed = [], [], [], []
    for p in pages:
        page_text = pa.array(p.columns.raw_ts, pa.string())
        page_stamps = parse_timestamps(page_text)
        if page_stamps is None:
            declined.append(p)
        else:
            readable.append(p)
            texts.append(page_text)
            parsed.append(page_stamps)
    if not readable:
        return [], declined, pa.array([], pa.string()), pa.array([], _US)
    return readable, declined, pa.concat_arrays(texts), pa.concat_arrays(parsed)


def sequences(pages: Sequence[PageOf], micros: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Sequence numbers of all pages' values (0 for the first value at a timestamp, then 1, 2, ...),
    continuing a run across a page boundary; and each page's (last µs, last sequence)."""
    n = len(micros)
    same = np.empty(n, dtype=bool)
    same[1:] = micros[1:] == micros[:-1]
    starts = np.cumsum([0] + [len(p.columns.raw_ts) for p in pages])
    for p, offset in zip(pages, starts):
        same[offset] = p.last_micros is not None and micros[offset] == p.last_micros
    index = np.arange(n)
    seq = index - np.maximum.accumulate(np.where(same, -1, index))
    ends = []
    for p, offset, stop in zip(pages, starts, starts[1:]):
        if same[offset]:  # the page continues the previous page's run of one timestamp
            lead = offset
            while lead < stop and (lead == offset or same[lead]):
                seq[lead] = p.last_sequence + 1 + (lead - offset)
                lead += 1
        ends.append((int(micros[stop - 1]), int(seq[stop - 1])))
    return seq.astype(np.int32), ends


def value_batch(
    pages: Sequence[PageOf], extracted_at: dt.datetime
) -> tuple[pa.RecordBatch | None, list[tuple[PageOf, int, int]], list[PageOf]]:
    """One bronze record batch for the values of several pages (of different tags); each page's last
    timestamp (µs) and sequence; and the pages left to the careful path (unreadable timestamps)."""
    pages, declined, text, stamps = _readable(pages)
    if not pages:
        return None, [], declined
    lengths = np.array([len(p.columns.raw_ts) for p in pages])
    n = int(lengths.sum())
    seq, ends = sequences(pages, stamps.cast(pa.int64()).to_numpy())
    page_of_row = pa.array(np.repeat(np.arange(len(pages), dtype=np.int32), lengths))

    def per_value(name: str, kind: pa.DataType) -> pa.Array:
        parts = [getattr(p.columns, name) for p in pages]
        if all(part is None for part in parts):
            return pa.nulls(n, kind)
        flat: list = []
        for part, k in zip(parts, lengths):
            flat.extend(part if part is not None else [None] * int(k))
        return pa.array(flat, kind)

    def per_page(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([p.constants.get(name) for p in pages], kind).take(page_of_row)

    columns = {
        "record_kind": _repeat("value", pa.string(), n),
        "sequence": pa.array(seq, pa.int32()),
        "timestamp": stamps,
        "timestamp_raw": text,
        "extracted_at": _repeat(extracted_at, ARROW_SCHEMA.field("extracted_at").type, n),
    }
    for name in TYPED_FIELDS:
        columns[name] = per_value(name, ARROW_SCHEMA.field(name).type)
    for name in ("web_id", "tag", "window_start", "window_end", "prior_watermark", "point_type", "digital_set"):
        columns[name] = per_page(name, ARROW_SCHEMA.field(name).type)
    arrays = [columns[field.name] if field.name in columns else pa.nulls(n, field.type) for field in ARROW_SCHEMA]
    batch = pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)
    return batch, [(p, micros, seq) for p, (micros, seq) in zip(pages, ends)], declined


def _repeat(value: object, kind: pa.DataType, n: int) -> pa.Array:
    return pa.array([value], kind).take(pa.array(np.zeros(n, dtype=np.int32)))
