"""The column-wise page decoder must produce exactly the rows of the value-by-value path, or step aside.

Every page here goes through both: :func:`connector_lib.pages.decode_page` + ``value_batch`` and
:func:`connector_lib.values.normalise` item by item. Where the decoder declines a page (returns None) the
careful path handles it, so a decline is always safe; an accepted page that differs is a bug.
"""

import datetime as dt
import json

import orjson
import pytest

from connector_lib.bronze import COLUMN_NAMES
from connector_lib.extract import iter_rows
from connector_lib.pages import PageOf, decode_page, parse_timestamps, value_batch
from connector_lib.timeutil import epoch_micros
from connector_lib.values import VALUE_FIELDS, MalformedValue, normalise
from pi_simulator import Archive
from pi_simulator.render import timed_values
from pi_simulator.truth import to_ticks
from tests.conftest import FIXTURES

UTC = dt.UTC
AT = dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONSTANTS = {
    "web_id": "P1",
    "tag": "T1",
    "window_start": AT - dt.timedelta(hours=1),
    "window_end": AT,
    "prior_watermark": None,
    "point_type": "Float64",
    "digital_set": "",
}
COMPARED = VALUE_FIELDS + ("sequence",)


def careful(items, units, last_micros=None, last_seq=0):
    rows, last = [], last_micros
    seq = last_seq
    for item in items:
        try:
            values = normalise(item, units)
        except MalformedValue:
            return None  # would be quarantined
        micros = epoch_micros(values[0])
        seq = seq + 1 if micros == last else 0
        last = micros
        rows.append(dict(zip(VALUE_FIELDS, values), sequence=seq))
    return rows


def columnar(items, units, last_micros=None, last_seq=0):
    columns = decode_page(items, units)
    if columns is None:
        return None
    page = PageOf(items, columns, CONSTANTS, last_micros, last_seq)
    batch, ends, declined = value_batch([page], AT)
    if declined:
        assert batch is None and declined == [page] and parse_timestamps(columns.raw_ts) is None
        return None
    rows = [dict(zip(COLUMN_NAMES, r)) for r in iter_rows([batch])]
    assert ends == [(page, epoch_micros(rows[-1]["timestamp"]), rows[-1]["sequence"])]
    for r in rows:
        assert (r["record_kind"], r["web_id"], r["extracted_at"]) == ("value", "P1", AT)
    return [{k: r[k] for k in COMPARED} for r in rows]


def simulator_pages():
    archive = Archive(seed=5, n_points=45)  # every sensor kind at every plant
    end = dt.datetime(2026, 11, 20, tzinfo=UTC)
    for point in archive.points:
        seg = archive.events(point, to_ticks(end - dt.timedelta(hours=6)), to_ticks(end))
        yield point.name, orjson.loads(orjson.dumps(timed_values(point, seg))), point.kind.units


@pytest.mark.parametrize("name,items,units", list(simulator_pages()), ids=lambda x: x if isinstance(x, str) else "")
def test_simulator_pages_decode_column_wise_and_identically(name, items, units):
    fast = columnar(items, None)
    assert fast is not None, "a plain simulator page must take the column-wise path"
    assert fast == careful(items, None)


def fixture_pages():
    for path in sorted((FIXTURES / "piwebapi").glob("*.json")):
        body = json.loads(path.read_text())
        if isinstance(body, dict) and isinstance(body.get("Items"), list):
            yield path.name, body["Items"], body.get("UnitsAbbreviation")


@pytest.mark.parametrize("name,items,units", list(fixture_pages()), ids=lambda x: x if isinstance(x, str) else "")
def test_real_server_pages_agree_or_decline(name, items, units):
    fast = columnar(items, units)
    if fast is not None:
        assert fast == careful(items, units)


def v(ts, value, **extra):
    return {
        "Timestamp": ts,
        "Value": value,
        "UnitsAbbreviation": None,
        "Good": True,
        "Questionable": False,
        "Substituted": False,
        "Annotated": False,
        **extra,
    }


SYSTEM = {"Name": "I/O Timeout", "Value": 246, "IsSystem": True}
DIGITAL = {"Name": "Open", "Value": 1, "IsSystem": False}
ODD_PAGES = {
    "numbers with a system state": [
        v("2026-11-23T10:00:00Z", 1.5),
        v("2026-11-23T10:00:01Z", SYSTEM),
        v("2026-11-23T10:00:02.1234567Z", 3),
    ],
    "strings with a system state": [v("2026-11-23T10:00:00Z", "A"), v("2026-11-23T10:00:00Z", SYSTEM)],
    "digital without IsSystem": [
        v("2026-11-23T10:00:00Z", {"Name": "Closed", "Value": 0}),
        v("2026-11-23T10:00:05Z", DIGITAL),
    ],
    "integers beyond 2**53": [v("2026-11-23T10:00:00Z", 2**60), v("2026-11-23T10:00:01Z", -7)],
    "7-digit ticks in one microsecond": [
        v("2026-11-23T10:00:00.0000011Z", 1.0),
        v("2026-11-23T10:00:00.0000019Z", 2.0),
        v("2026-11-23T10:00:00.000002Z", 3.0),
    ],
    "item units over stream units": [
        v("2026-11-23T10:00:00Z", 1.0, UnitsAbbreviation="bar"),
        v("2026-11-23T10:00:01Z", 2.0),
    ],
    "mixed numbers strings digital": [
        v("2026-11-23T10:00:00Z", 1),
        v("2026-11-23T10:00:01Z", "x"),
        v("2026-11-23T10:00:02Z", DIGITAL),
    ],
}
DECLINED = {
    "quality flags missing": [{"Timestamp": "2026-11-23T10:00:00Z", "Value": 4.0}],
    "annotations": [v("2026-11-23T10:00:00Z", 1.0, UnitsAbbreviation="C", Annotations=[])],
    "a flag null": [v("2026-11-23T10:00:00Z", 1.0, Good=None)],
    "per-value errors": [v("2026-11-23T10:00:00Z", None, Errors=["bad"])],
    "offset instead of Z": [v("2026-11-23T10:00:00+10:00", 1.0)],
    "no time zone": [v("2026-11-23T10:00:00", 1.0)],
    "boolean value": [v("2026-11-23T10:00:00Z", True)],
    "null value": [v("2026-11-23T10:00:00Z", None)],
    "not a dict": [v("2026-11-23T10:00:00Z", 1.0), "garbage"],
    "NaN": [v("2026-11-23T10:00:00Z", float("nan"))],
    "year 9999": [v("9999-12-31T23:59:59Z", 1.0)],
    "digital code not an integer": [v("2026-11-23T10:00:00Z", {"Name": "Open", "Value": "1"})],
    "units not a string": [v("2026-11-23T10:00:00Z", 1.0, UnitsAbbreviation=5)],
    "timestamp not a string": [v(1732356000, 1.0)],
}


@pytest.mark.parametrize("name", sorted(ODD_PAGES))
def test_odd_but_valid_pages_decode_identically(name):
    fast = columnar(ODD_PAGES[name], "degC")
    assert fast is not None and fast == careful(ODD_PAGES[name], "degC")


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_pages_the_decoder_must_leave_to_the_careful_path(name):
    assert columnar(DECLINED[name], "degC") is None


def test_sequence_continues_a_timestamp_run_from_the_previous_page():
    items = [v("2026-11-23T10:00:00Z", 1.0), v("2026-11-23T10:00:00Z", 2.0), v("2026-11-23T10:00:01Z", 3.0)]
    last = epoch_micros(dt.datetime(2026, 11, 23, 10, tzinfo=UTC))
    fast = columnar(items, None, last_micros=last, last_seq=2)
    assert [r["sequence"] for r in fast] == [3, 4, 0]
    assert fast == careful(items, None, last_micros=last, last_seq=2)


def test_pages_of_several_tags_in_one_batch_keep_their_own_constants_and_sequences():
    a = [v("2026-11-23T10:00:00Z", 1.0), v("2026-11-23T10:00:00Z", 2.0)]
    b = [v("2026-11-23T10:00:00Z", "s")]
    c = [v("9999-12-31T23:59:59Z", 1.0)]  # Arrow cannot read it: this page alone is left to the careful path
    pages = [
        PageOf(p, decode_page(p, None), dict(CONSTANTS, web_id=w, tag=w), None, 0)
        for p, w in ((a, "A"), (c, "C"), (b, "B"))
    ]
    batch, ends, declined = value_batch(pages, AT)
    rows = [dict(zip(COLUMN_NAMES, r)) for r in iter_rows([batch])]
    assert [(r["web_id"], r["sequence"], r["value_type"]) for r in rows] == [
        ("A", 0, "number"),
        ("A", 1, "number"),
        ("B", 0, "string"),
    ]
    assert [(e[0].constants["web_id"], e[2]) for e in ends] == [("A", 1), ("B", 0)]
    assert declined == [pages[1]]
