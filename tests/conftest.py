"""Shared fixtures: the simulator over real HTTP and one local Spark (Connect) session with Delta.

One Spark session serves the whole run (the chispa tests and the end-to-end pipeline), because a JVM
holds a single SparkContext and the pipeline needs the Delta and Hive settings at start-up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import warnings
from pathlib import Path

import pytest

from connector_lib.af import AF_COLUMNS, af_row
from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.discovery import discover_tags
from connector_lib.eventframes import EF_COLUMN_NAMES, EF_COLUMNS
from connector_lib.extract import BRONZE_COLUMNS, iter_rows, read_windows
from connector_lib.plan import WindowTask
from pi_simulator import Archive, SimulatorServer, truth

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Test data is small: adaptive execution and several shuffle partitions only add Spark jobs to each merge
# (42% fewer jobs on silver's merges without them). Every local session of the run gets this, the
# pipelines started in child processes included; make run and the benchmarks keep the defaults.
os.environ.setdefault(
    "OSIPI_SPARK_CONF", json.dumps({"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "1"})
)
FIXTURES = Path(__file__).parent / "fixtures"


SPARK_FIXTURES = {"spark", "any_zone_spark", "local_pipeline_factory"}


def pytest_collection_modifyitems(config, items):
    """Marks what the inner loop (``make fast``) leaves out: everything under ``tests/e2e`` is ``e2e``, and a
    test that uses the Spark session (directly or through another fixture) is ``spark``."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)
        if SPARK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="module")
def server(archive):
    """The simulator over real HTTP, serving the ``archive`` fixture of the test's module."""
    with SimulatorServer(archive) as srv:
        yield srv


@pytest.fixture(scope="session")
def local_pipeline_factory(tmp_path_factory):
    """Creates LocalPipeline objects that share one Spark session (the first one's)."""
    from devtools.local_pipeline import LocalPipeline

    warnings.filterwarnings("ignore", category=UserWarning)
    created = []

    def make(configuration, name="pipeline"):
        work = tmp_path_factory.mktemp(name)
        pipeline = LocalPipeline(work, configuration, database=name)
        if created:
            pipeline._spark = created[0].spark
        created.append(pipeline)
        return pipeline

    yield make
    if created:
        created[0].stop()


@pytest.fixture(scope="session")
def spark(local_pipeline_factory):
    return local_pipeline_factory({}, "spark").spark


@pytest.fixture(params=["UTC", "Asia/Kolkata"])
def any_zone_spark(spark, request):
    """The session under UTC and under a zone half an hour off the hour: every hour boundary of the
    session's own zone is then a UTC half hour, so a transform or state read that follows the session's
    zone shows."""
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", request.param)
    yield spark
    spark.conf.set("spark.sql.session.timeZone", before)


# ---- one window read through the connector, and the simulator's truth for it ---------------------------
# Both keyed (tag, timestamp, sequence): what the authentication, TLS and Structured Streaming tests
# compare, whatever the mode.

BRONZE_NAMES = [name for name, _ in BRONZE_COLUMNS]


def hour_start(hours_ago: int = 1) -> dt.datetime:
    """The start of the hour ``hours_ago`` before the current one (by default the last full hour but one):
    settled history, the same for every test of a run."""
    return dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=hours_ago)


def past_window(minutes: int) -> tuple[dt.datetime, dt.datetime]:
    """``minutes`` ending at the last full hour but one: settled history, the same for every test."""
    end = hour_start()
    return end - dt.timedelta(minutes=minutes), end


def read_rows(cfg: PIConfig, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Every bronze row of the window, read with a new client (so with the configured authentication)."""
    client = PIWebAPIClient(cfg)
    tasks = [WindowTask.of(t, start, end) for t in discover_tags(client, cfg)]
    return [dict(zip(BRONZE_NAMES, r)) for r in iter_rows(read_windows(client, cfg, tasks))]


def value_keys(rows: list[dict]) -> set:
    return {(r["tag"], r["timestamp"], r["sequence"]) for r in rows if r["record_kind"] == "value"}


def truth_keys(archive: Archive, start: dt.datetime, end: dt.datetime, names=None) -> set:
    return {
        (t["tag"], t["timestamp"], t["sequence"])
        for p in archive.points
        if names is None or p.name in names
        for t in truth.recorded(archive, p.name, start, end)
    }


# ---- bronze rows of the Spark tests (the transforms, the merges, the pipeline graph) --------------------
# Times are minutes after T0; a row builder fills what its tests do not vary.

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
BRONZE_SCHEMA = ", ".join(f"{n} {t}" for n, t in BRONZE_COLUMNS)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def bronze(spark, rows):
    names = [n for n, _ in BRONZE_COLUMNS]
    return spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], BRONZE_SCHEMA)


def value(tag, minute, v, read_at, prior=None, seq=0, vtype="number", good=True, **extra):
    return {
        "record_kind": "value",
        "web_id": "W" + tag,
        "tag": tag,
        "sequence": seq,
        "timestamp": at(minute),
        "value_type": vtype,
        "value_double": v if vtype == "number" else None,
        "good": good,
        "is_system": vtype == "system",
        "questionable": False,
        "substituted": False,
        "annotated": False,
        "units": "degC",
        "extracted_at": at(read_at),
        "prior_watermark": prior,
        **extra,
    }


def window(tag, start, end, status, read_at, count=0):
    return {
        "record_kind": "window",
        "web_id": "W" + tag,
        "tag": tag,
        "window_start": at(start),
        "window_end": at(end),
        "status": status,
        "error": None if status == "ok" else "HTTP 503",
        "value_count": count,
        "extracted_at": at(read_at),
    }


# AF bronze: complete snapshots of one database, on the same clock.

AF_SCHEMA = ", ".join(f"{n} {t}" for n, t in AF_COLUMNS)
AF_DB = "\\\\AF\\DB"


def element(snapshot, minute, eid, name, parent="\\\\AF\\DB\\Site"):
    return af_row(
        record_kind="element",
        snapshot_id=snapshot,
        database=AF_DB,
        id=eid,
        web_id=f"W-{eid}-{name}",
        name=name,
        path=f"{parent}\\{name}",
        parent_path=parent,
        template="Pump",
        categories=["Equipment"],
        description="",
        extracted_at=at(minute),
    )


def attribute(snapshot, minute, aid, element_path, tag, point):
    return af_row(
        record_kind="attribute",
        snapshot_id=snapshot,
        database=AF_DB,
        id=aid,
        web_id=f"WA-{aid}",
        name="Flow",
        path=f"{element_path}|Flow",
        element_path=element_path,
        value_type="Double",
        units="m3/h",
        data_reference="PI Point",
        config_string=f"\\\\PI\\{tag}",
        tag=tag,
        point_web_id=point,
        categories=[],
        extracted_at=at(minute),
    )


def done(snapshot, minute, status="ok"):
    return af_row(record_kind="snapshot", snapshot_id=snapshot, database=AF_DB, status=status, extracted_at=at(minute))


AF_ROWS = [
    element("s1", 0, "e1", "P-1"),
    element("s1", 0, "e2", "P-2"),
    done("s1", 0),
    element("s2", 10, "e1", "P-1"),
    done("s2", 10, "failed"),  # partial: e2 missing must not count
    element("s3", 20, "e1", "P-1A"),
    element("s3", 20, "e2", "P-2"),
    done("s3", 20),  # e1 renamed
    element("s4", 30, "e1", "P-1A"),
    done("s4", 30),  # e2 gone
    element("s5", 40, "e1", "P-1A"),
    element("s5", 40, "e2", "P-2"),
    done("s5", 40),  # e2 back: a new version
]
# a1 of e1, re-pointed from FT1 to FT2 when e1 was renamed (s3); a2 (from s5) references a tag gone from PI
PATH1, PATH1A = "\\\\AF\\DB\\Site\\P-1", "\\\\AF\\DB\\Site\\P-1A"
AF_ATTRIBUTES = [
    attribute("s1", 0, "a1", PATH1, "FT1", "WP1"),
    attribute("s3", 20, "a1", PATH1A, "FT2", "WP2"),
    attribute("s4", 30, "a1", PATH1A, "FT2", "WP2"),
    attribute("s5", 40, "a1", PATH1A, "FT2", "WP2"),
    attribute("s5", 40, "a2", PATH1A, "GONE", None),
]


# Event frame bronze: a clock of its own, late in the day, so frames cross midnight.

EF_T0 = dt.datetime(2026, 1, 5, 22, 0, tzinfo=dt.UTC)
EF_SCHEMA = ", ".join(f"{n} {t}" for n, t in EF_COLUMNS)


def ef_at(minutes: float) -> dt.datetime:
    return EF_T0 + dt.timedelta(minutes=minutes)


def ef_value(v, units="", good=True):
    return json.dumps({"Timestamp": "2026-01-05T22:00:00Z", "Value": v, "UnitsAbbreviation": units, "Good": good})


def frame(fid, start, end, read_at, template="Downtime", element="E1", read="r1", **extra):
    return {
        "record_kind": "event_frame",
        "read_id": read,
        "database": "\\\\AF\\Ops",
        "id": fid,
        "web_id": "F" + fid,
        "name": f"{template} {fid}",
        "template": template,
        "start_time": ef_at(start),
        "end_time": None if end is None else ef_at(end),
        "in_progress": end is None,
        "can_be_acknowledged": False,
        "is_acknowledged": False,
        "element_web_ids": [element],
        "attributes": {},
        "extracted_at": ef_at(read_at),
        **extra,
    }


def ef_bronze(spark, rows):
    return spark.createDataFrame([tuple(r.get(n) for n in EF_COLUMN_NAMES) for r in rows], EF_SCHEMA)


EF_OPS = "\\\\AF\\Ops"


def read_record(read_id, read_at):
    return {
        "record_kind": "read",
        "read_id": read_id,
        "database": EF_OPS,
        "status": "ok",
        "extracted_at": ef_at(read_at),
    }


def element_version(eid, web_id, name, since, until=None):
    return (
        EF_OPS,
        eid,
        web_id,
        name,
        f"{EF_OPS}\\Sydney\\{name}",
        f"{EF_OPS}\\Sydney",
        "Pump",
        [],
        "",
        ef_at(since),
        None if until is None else ef_at(until),
        until is None,
    )


ELEMENTS_BEFORE = [element_version("G1", "E1", "P-001", 0), element_version("G2", "E2", "L-1", 0)]
# at minute 150: G1 renamed (its WebID follows the path), G9 first seen
ELEMENTS_AFTER = [
    element_version("G1", "E1", "P-001", 0, 150),
    element_version("G1", "E1b", "P-001A", 150),
    element_version("G2", "E2", "L-1", 0),
    element_version("G9", "E9", "T-9", 150),
]


def product(name):
    return {"Product": ef_value(name)}


EF_BATCHES = [
    # 0: a downtime opens at 23:40 on P-001; a batch of PET; an alarm opens
    [
        frame("a", 100, None, 110, element="E1", read="r1"),
        frame("b", 0, 30, 110, "Batch", element="E2", read="r1", attributes=product("PET-500")),
        frame("c", 60, None, 110, "Alarm", element="E1", read="r1", can_be_acknowledged=True),
        read_record("r1", 111),
    ],
    # 1: the downtime closes after midnight; the batch's product is corrected, and read twice; the alarm
    # closes and is acknowledged; a downtime on an element no AF snapshot holds yet
    [
        frame("a", 100, 160, 170, element="E1", read="r2"),
        frame("b", 0, 30, 165, "Batch", element="E2", read="r2a", attributes=product("PET-501")),
        frame("b", 0, 30, 170, "Batch", element="E2", read="r2", attributes=product("CAN-330")),
        frame(
            "c",
            60,
            80,
            170,
            "Alarm",
            element="E1",
            read="r2",
            can_be_acknowledged=True,
            is_acknowledged=True,
            acknowledged_by="op",
            acknowledged_at=ef_at(70),
        ),
        frame("d", 120, 140, 170, element="E9", read="r2"),
        read_record("r2", 171),
    ],
    # 2 (after the rename): a new batch only; the renamed element's frames and d's element change anyway
    [
        frame("e", 130, 140, 200, "Batch", element="E2", read="r3", attributes=product("CAN-330")),
        read_record("r3", 201),
    ],
    # 3: the read found nothing new
    [read_record("r4", 230)],
    # 4: the downtime's start corrected: it now starts before 23:00 the same day
    [frame("a", 50, 160, 260, element="E1b", read="r5"), read_record("r5", 261)],
]


def set_elements(spark, table, rows):
    from connector_lib.spark.af_curation import history_schema

    spark.createDataFrame(rows, history_schema(spark, "element")).writeTo(table).createOrReplace()
