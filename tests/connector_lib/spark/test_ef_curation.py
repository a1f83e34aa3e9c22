"""The event frame tables merged one micro-batch at a time (connector_lib.spark.ef_curation) against the
same tables rebuilt from all of event frame bronze: the same rows after every micro-batch, whether a frame
closes, moves to the next day, changes product, is read twice in one micro-batch, a micro-batch is applied
again after a crash, or its element is renamed (or first appears in AF) after the frame was read."""

import datetime as dt

import pytest

from connector_lib.spark import ef_curation
from tests.conftest import EF_BATCHES, ELEMENTS_AFTER, ELEMENTS_BEFORE, ef_bronze, read_record, set_elements

INCREMENTAL, REBUILT = "ef_curation_test", "ef_curation_rebuilt"


# the AF element versions in place when each of EF_BATCHES is merged (G1 renamed before the third)
ELEMENTS = [ELEMENTS_BEFORE, ELEMENTS_BEFORE, ELEMENTS_AFTER, ELEMENTS_AFTER, ELEMENTS_AFTER]


@pytest.fixture()
def schemas(spark):
    for schema in (INCREMENTAL, REBUILT):
        spark.sql(f"DROP DATABASE IF EXISTS {schema} CASCADE")
        spark.sql(f"CREATE DATABASE {schema}")
    return {
        s: (
            ef_curation.EFTargets.in_schema(f"spark_catalog.{s}"),
            ef_curation.AFSource(f"spark_catalog.{s}.pi_af_elements", f"spark_catalog.{s}.pi_af_bronze"),
        )
        for s in (INCREMENTAL, REBUILT)
    }


def rows_of(spark, table):
    """A table's rows, comparable whatever their order (maps and arrays as sorted tuples)."""

    def plain(v):
        if isinstance(v, dict):
            return tuple(sorted(v.items()))
        return tuple(v) if isinstance(v, list) else v

    return sorted(
        (tuple(sorted((k, plain(v)) for k, v in r.asDict().items())) for r in spark.read.table(table).collect()),
        key=repr,
    )


def assert_tables_equal(spark, incremental, rebuilt):
    for field in ("frames", "attributes", "alarms", "downtime", "batches"):
        got, expected = (rows_of(spark, getattr(t, field)) for t in (incremental, rebuilt))
        assert got == expected, field


def test_micro_batches_merged_one_at_a_time_equal_the_tables_rebuilt_from_all_reads(spark, schemas):
    (targets, af), (rebuilt, rebuilt_af) = schemas[INCREMENTAL], schemas[REBUILT]
    seen = []
    for batch_id, (rows, elements) in enumerate(zip(EF_BATCHES, ELEMENTS)):
        set_elements(spark, af.elements, elements)
        set_elements(spark, rebuilt_af.elements, elements)
        ef_curation.apply_ef_batch(ef_bronze(spark, rows), batch_id, targets, af)
        if batch_id == 1:  # replayed after a crash before the stream's checkpoint
            ef_curation.apply_ef_batch(ef_bronze(spark, rows), batch_id, targets, af)
        seen += rows
        ef_curation.apply_ef_batch(ef_bronze(spark, seen), 0, rebuilt, rebuilt_af)
        assert_tables_equal(spark, targets, rebuilt)
        if batch_id == 1:
            assert spark.read.table(targets.batches).where("product = 'PET-500'").count() == 0
            downtime = {(r.element_id, r.day): r.downtime_minutes for r in spark.read.table(targets.downtime).collect()}
            assert downtime == {
                ("G1", dt.date(2026, 1, 5)): 20.0,
                ("G1", dt.date(2026, 1, 6)): 40.0,
                (None, dt.date(2026, 1, 6)): 20.0,
            }
        if batch_id == 2:
            alarm = spark.read.table(targets.alarms).first()
            assert (alarm.element_name, alarm.is_acknowledged) == ("P-001A", True)
            assert {r.element_name for r in spark.read.table(targets.downtime).collect()} == {"P-001A", "T-9"}
    downtime = {(r.element_id, r.day): r.downtime_minutes for r in spark.read.table(targets.downtime).collect()}
    assert downtime == {
        ("G1", dt.date(2026, 1, 5)): 70.0,
        ("G1", dt.date(2026, 1, 6)): 40.0,
        ("G9", dt.date(2026, 1, 6)): 20.0,
    }


def test_the_frames_read_in_one_micro_batch_are_merged_where_newer_than_the_row_held(spark, schemas):
    targets, af = schemas[INCREMENTAL]
    set_elements(spark, af.elements, ELEMENTS_BEFORE)
    ef_curation.apply_ef_batch(ef_bronze(spark, EF_BATCHES[0] + EF_BATCHES[1]), 0, targets, af)
    ef_curation.apply_ef_batch(ef_bronze(spark, EF_BATCHES[0]), 1, targets, af)  # older reads, delivered late
    frames = {r.id: (r.read_id, r.in_progress) for r in spark.read.table(targets.frames).collect()}
    assert frames == {"a": ("r2", False), "b": ("r2", False), "c": ("r2", False), "d": ("r2", False)}
    assert {r.product for r in spark.read.table(targets.batches).collect()} == {"CAN-330"}


def test_frames_read_before_any_af_snapshot_find_their_elements_once_there_is_one(spark, schemas):
    (targets, af), (rebuilt, rebuilt_af) = schemas[INCREMENTAL], schemas[REBUILT]
    ef_curation.apply_ef_batch(ef_bronze(spark, EF_BATCHES[0] + EF_BATCHES[1]), 0, targets, af)  # no AF yet
    assert {r.element_id for r in spark.read.table(targets.downtime).collect()} == {None}
    set_elements(spark, af.elements, ELEMENTS_BEFORE)
    set_elements(spark, rebuilt_af.elements, ELEMENTS_BEFORE)
    ef_curation.apply_ef_batch(ef_bronze(spark, [read_record("r9", 300)]), 1, targets, af)  # nothing new read
    ef_curation.apply_ef_batch(ef_bronze(spark, EF_BATCHES[0] + EF_BATCHES[1]), 0, rebuilt, rebuilt_af)
    assert_tables_equal(spark, targets, rebuilt)
    assert {r.element_id for r in spark.read.table(targets.downtime).collect()} == {"G1", None}  # d: E9, unknown
