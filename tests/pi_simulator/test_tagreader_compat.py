"""A real third-party PI Web API client, equinor's tagreader (imstype "piwebapi"), against the simulator.

tagreader lists data servers (GET dataservers), finds points with GET points/search (query
``name:<escaped tag>``, ``dataserverwebid``), reads metadata with GET points/{webId} and RAW values with
GET streams/{webId}/recorded (``dd-Mon-yy HH:MM:SS`` times, ``timeZone=UTC``, ``maxCount``,
``selectedFields``), paging by the last timestamp it got. What it reads must be the ground truth.

tagreader resolves the data server's WebId through ``get_piwebapi_source_to_webid_dict(auth=...)``
without passing the client's URL, so it would ask its built-in default host; the test points that
default at the simulator. ``auth=None`` makes tagreader use Kerberos with OPTIONAL mutual
authentication, which sends no credentials unless the server answers 401, so it works unauthenticated.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
import tagreader  # a pinned dev dependency: a missing install must fail, not skip
from tagreader import web_handlers
from tagreader.utils import ReaderType

from pi_simulator import Archive, SimulatorServer, truth

UTC = dt.UTC
END = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=2)
START = END - dt.timedelta(minutes=30)


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=5, n_points=45)


@pytest.fixture(scope="module")
def server(archive):
    with SimulatorServer(archive) as srv, pytest.MonkeyPatch.context() as mp:
        mp.setattr(web_handlers, "get_url_pi", lambda: srv.url)
        yield srv


def make_client(server, **handler_options):
    client = tagreader.IMSClient(
        datasource="PISIM",
        imstype="piwebapi",
        url=server.url,
        tz="UTC",
        auth=None,
        verify_ssl=False,
        cache=None,
        handler_options=handler_options,
    )
    client.connect()
    return client


@pytest.fixture(scope="module")
def client(server):
    return make_client(server)


@pytest.fixture(scope="module")
def numeric(archive):
    """A busy numeric point, so a 30-minute window holds many values."""
    return min((p for p in archive.points if p.point_type == "Float64"), key=lambda p: p.mean_interval_s)


def expected(archive, tag, start=START, end=END, status=False):
    """Ground truth as tagreader shows it: one row per timestamp (it drops later values on a shared
    timestamp), system states as NaN, status = Questionable + 2*(not Good) + 4*Substituted."""
    rows, seen = [], set()
    for r in truth.recorded(archive, tag, start, end):
        if r["timestamp"] in seen:
            continue
        seen.add(r["timestamp"])
        value = r["value_double"] if r["value_type"] == "number" else math.nan
        row = (r["timestamp"], value)
        if status:
            row += (int(r["questionable"]) + 2 * (1 - int(r["good"])) + 4 * int(r["substituted"]),)
        rows.append(row)
    return rows


def as_rows(df, tag, status=False):
    stamps = [t.to_pydatetime() for t in df.index.tz_convert("UTC").floor("us")]
    values = [float(v) for v in df[tag]]
    if status:
        return list(zip(stamps, values, [int(s) for s in df[tag + "::status"]]))
    return list(zip(stamps, values))


def same(got, want):
    """Row lists equal, NaN equal to NaN."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[2:] == w[2:], (g, w)
        assert (math.isnan(g[1]) and math.isnan(w[1])) or g[1] == w[1], (g, w)


def test_list_sources(server):
    assert tagreader.list_sources("piwebapi", url=server.url, auth=None, verify_ssl=False) == ["PISIM"]


def test_search_by_tag_wildcard(client, archive):
    got = client.search("SYD*")
    assert got == [(p.name, p.descriptor) for p in archive.points if p.name.startswith("SYD.")]
    assert client.search("hou.u001.ft*", return_desc=False) == [
        p.name for p in archive.points if p.name.startswith("HOU.U001.FT")
    ]
    assert client.search("NO.SUCH.TAG") == []


def test_search_by_description(client, archive):
    got = client.search(desc="Rotterdam Pump*", return_desc=False)
    assert got == [p.name for p in archive.points if p.descriptor.startswith("Rotterdam Pump")]
    assert got
    both = client.search(tag="CAL*", desc="*level", return_desc=False)
    assert both == [p.name for p in archive.points if p.plant == "CAL" and p.descriptor.endswith("level")]
    assert both


def test_units_and_descriptions(client, numeric):
    assert client.get_units(numeric.name) == {numeric.name: numeric.kind.units}
    assert client.get_descriptions(numeric.name) == {numeric.name: numeric.descriptor}


def test_raw_read_equals_truth(client, archive, numeric):
    df = client.read([numeric.name], START, END, read_type=ReaderType.RAW)
    want = expected(archive, numeric.name)
    assert len(want) > 30
    same(as_rows(df, numeric.name), want)


def test_raw_read_paged_by_tagreader_equals_truth(server, archive, numeric):
    """max_rows=10 makes tagreader page by the last timestamp of each page, several times."""
    small = make_client(server, max_rows=10)
    df = small.read([numeric.name], START, END, read_type=ReaderType.RAW)
    same(as_rows(df, numeric.name), expected(archive, numeric.name))


def test_raw_read_with_status_over_every_numeric_kind(client, archive):
    """The busiest point of each numeric type, with quality, over 12 hours: system states (NaN) and
    questionable/substituted flags show up and keep their meaning."""
    start = END - dt.timedelta(hours=12)
    statuses = set()
    for ptype in ("Float32", "Float64", "Int32"):
        point = min((p for p in archive.points if p.point_type == ptype), key=lambda p: p.mean_interval_s)
        df = client.read([point.name], start, END, read_type=ReaderType.RAW, get_status=True)
        assert isinstance(df.index, pd.DatetimeIndex)
        want = expected(archive, point.name, start, END, status=True)
        same(as_rows(df, point.name, status=True), want)
        statuses |= {row[2] for row in want}
    assert {0, 1, 2, 4} <= statuses, statuses


def test_interpolated_read_equals_truth(client, archive, numeric):
    df = client.read([numeric.name], START, END, ts=60, read_type=ReaderType.INT)
    got = as_rows(df, numeric.name)
    want = truth.interpolated(archive, numeric.name, [t for t, _ in got], as_of=dt.datetime.now(UTC))
    assert len(got) >= 30
    assert [t for t, _ in got] == [START + dt.timedelta(minutes=k) for k in range(len(got))]
    same(got, [(t, math.nan if v is None else v) for t, v in want])


@pytest.mark.parametrize("read_type,summary_type", [(ReaderType.AVG, "Average"), (ReaderType.MAX, "Maximum")])
def test_summary_reads_equal_truth(client, archive, numeric, read_type, summary_type):
    """tagreader asks ``summary`` per ``summaryDuration`` and indexes each value by its timestamp (the
    interval's start for an average, the extreme's own time for a maximum)."""
    df = client.read([numeric.name], START, END, ts=600, read_type=read_type)
    got = [v for _, v in as_rows(df, numeric.name)]
    want = truth.summary(
        archive, numeric.name, START, END, summary_type, as_of=dt.datetime.now(UTC), duration=dt.timedelta(minutes=10)
    )
    assert len(want) == 3 and None not in [v for _, v in want]
    assert got == [v for _, v in want]
    if read_type == ReaderType.AVG:
        assert [t for t, _ in as_rows(df, numeric.name)] == [t for t, _ in want]
