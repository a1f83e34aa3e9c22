"""The AF history folded one micro-batch of snapshots at a time (connector_lib.spark.af_curation) against
the history recomputed from all of AF bronze: the same versions, whether the snapshots arrive one by one,
two in a micro-batch, or a micro-batch is applied again after a crash."""

import pytest
from chispa import assert_df_equality

from connector_lib.spark import af_curation, af_transforms
from tests.conftest import AF_ATTRIBUTES, AF_ROWS, AF_SCHEMA, PATH1A, attribute, done, element

SCHEMA_NAME = "af_curation_test"


def _by_snapshot():
    """The bronze rows of each snapshot, in the order they were taken: s1 complete, s2 failed, s3 (e1
    renamed, a1 re-pointed), s4 (e2 gone), s5 (e2 back, a2 new)."""
    rows = AF_ROWS + AF_ATTRIBUTES
    return [[r for r in rows if r[1] == s] for s in ("s1", "s2", "s3", "s4", "s5")]


@pytest.fixture()
def targets(spark):
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {SCHEMA_NAME}")
    return af_curation.AFTargets.in_schema(f"spark_catalog.{SCHEMA_NAME}")


def _apply(spark, targets, batches):
    for batch_id, rows in enumerate(batches):
        af_curation.apply_af_batch(spark.createDataFrame(rows, AF_SCHEMA), batch_id, targets)


def _assert_equals_recomputed(spark, targets):
    bronze = spark.createDataFrame(AF_ROWS + AF_ATTRIBUTES, AF_SCHEMA)
    for kind in af_curation.KINDS:
        assert_df_equality(
            spark.read.table(targets.of(kind)),
            af_transforms.history(bronze, kind),
            ignore_row_order=True,
            ignore_nullable=True,
            ignore_column_order=True,
        )
    mapping = af_transforms.tag_assets(
        af_transforms.history(bronze, "element"), af_transforms.history(bronze, "attribute")
    )
    assert_df_equality(
        spark.read.table(targets.tag_assets),
        mapping,
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_column_order=True,
    )


def test_snapshots_folded_as_they_arrive_give_the_recomputed_history(spark, targets):
    """s1 alone; s2 (failed) and s3 in one micro-batch, replayed after a crash; s3 again, older than
    the last change; s4; s5, replayed; then s6, which sees the hierarchy as s5 left it and changes nothing."""
    s1, s2, s3, s4, s5 = _by_snapshot()
    for batch_id, rows in [(0, s1), (1, s2 + s3), (1, s2 + s3), (2, s3), (3, s4), (4, s5), (4, s5)]:
        af_curation.apply_af_batch(spark.createDataFrame(rows, AF_SCHEMA), batch_id, targets)
    _assert_equals_recomputed(spark, targets)
    renamed = spark.read.table(targets.elements).where("id = 'e1'").orderBy("valid_from").collect()
    assert [(r["name"], r["is_current"]) for r in renamed] == [("P-1", False), ("P-1A", True)]
    before = {kind: sorted(spark.read.table(targets.of(kind)).collect()) for kind in af_curation.KINDS}
    same = [
        element("s6", 50, "e1", "P-1A"),
        element("s6", 50, "e2", "P-2"),
        attribute("s6", 50, "a1", PATH1A, "FT2", "WP2"),
        attribute("s6", 50, "a2", PATH1A, "GONE", None),
        done("s6", 50),
    ]
    af_curation.apply_af_batch(spark.createDataFrame(same, AF_SCHEMA), 5, targets)
    assert {kind: sorted(spark.read.table(targets.of(kind)).collect()) for kind in af_curation.KINDS} == before


def test_micro_batch_zero_rebuilds_the_history_from_what_it_carries(spark, targets):
    batches = _by_snapshot()
    _apply(spark, targets, batches[:3])
    # what the tables after AF read within the update that took s4, before and after its fold
    recent = spark.createDataFrame(batches[3], AF_SCHEMA)
    expected = af_transforms.history(spark.createDataFrame(sum(batches[:4], []), AF_SCHEMA), "element")
    for _ in range(2):
        assert_df_equality(
            af_curation.folded(spark.read.table(targets.elements), recent, "element"),
            expected,
            ignore_row_order=True,
            ignore_nullable=True,
            ignore_column_order=True,
        )
        af_curation.apply_af_batch(recent, 3, targets)
    _apply(spark, targets, [sum(batches, [])])  # a new checkpoint: bronze from its first row
    _assert_equals_recomputed(spark, targets)


def test_a_long_running_update_folds_its_newest_snapshot_once(spark, targets):
    """A continuous update takes a snapshot every ``pi.af.refresh``: with s3 (e1 renamed), s4 and s5 all
    taken since it started, the history read through ``folded`` holds one current version per element,
    as of s5."""
    batches = _by_snapshot()
    _apply(spark, targets, batches[:2])
    recent = spark.createDataFrame(sum(batches[2:], []), AF_SCHEMA)
    current = af_curation.folded(spark.read.table(targets.elements), recent, "element").where("is_current")
    expected = af_transforms.history(spark.createDataFrame(sum(batches, []), AF_SCHEMA), "element").where("is_current")
    columns = ["database", "id", *af_transforms.ELEMENT_COLUMNS]
    assert current.count() == current.select("database", "id").distinct().count()
    assert sorted(current.select(*columns).collect()) == sorted(expected.select(*columns).collect())
