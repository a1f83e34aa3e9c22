"""The micro-batch merge (connector_lib.spark.curation) against the full recomputation it replaces: the
same bronze rows, merged one micro-batch at a time (one of them twice, as after a crash before the
checkpoint), give the silver, gold and watermarks that the transforms compute from all of bronze."""

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from connector_lib.bronze import SPARK_SCHEMA
from connector_lib.spark import curation, transforms
from connector_lib.spark.utc import collect_utc
from tests.conftest import at, bronze, value, window
from tests.connector_lib.spark.conftest import value_reads

SCHEMA_NAME = "curation_test"


@pytest.fixture()
def targets(spark):
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {SCHEMA_NAME}")
    return curation.Targets.in_schema(f"spark_catalog.{SCHEMA_NAME}")


def _apply(spark, targets, batches, replay=None):
    for batch_id, rows in enumerate(batches):
        curation.apply_batch(bronze(spark, rows), batch_id, targets)
        if batch_id == replay:
            curation.apply_batch(bronze(spark, rows), batch_id, targets)


def test_merging_micro_batches_equals_recomputing_from_all_of_bronze(spark, targets):
    batches = value_reads()
    _apply(spark, targets, batches, replay=1)
    everything = bronze(spark, [r for b in batches for r in b])
    silver = transforms.silver_values(everything)
    assert_df_equality(
        spark.read.table(targets.silver), silver, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True
    )
    assert_approx_df_equality(
        spark.read.table(targets.gold),
        transforms.hourly_gold(silver, transforms.watermarks(everything)),
        1e-9,
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_column_order=True,
    )
    columns = ("web_id", "coverage_start", "watermark", "last_status", "last_error", "failing_since", "updated_at")
    assert_df_equality(
        spark.read.table(targets.watermarks).select(*columns),
        transforms.watermarks(everything).select(*columns),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    marks = {
        r["web_id"]: (r["watermark"], r["failing_since"]) for r in collect_utc(spark.read.table(targets.watermarks))
    }
    assert marks["WA"] == (at(124), at(185)) and marks["WB"] == (at(124), None)
    edited = collect_utc(spark.read.table(targets.silver).where(F.col("timestamp") == at(4)))[0]
    assert (edited["value_double"], edited["is_late"], edited["first_seen_at"]) == (11.5, False, at(5))
    assert spark.read.table(targets.silver).where(F.col("timestamp") == at(3)).first().is_late


def test_a_gap_holds_the_watermark_until_it_is_read_again(spark, targets):
    batches = [
        [window("A", 0, 10, "ok", 10, 1), window("A", 10, 20, "failed", 10), window("A", 20, 30, "ok", 10, 1)],
        [window("A", 30, 40, "ok", 40, 1)],  # the reader went on past the gap
        [window("A", 5, 45, "ok", 50, 3)],
    ]  # the next update reads from the watermark
    _apply(spark, targets, batches[:2])
    assert collect_utc(spark.read.table(targets.watermarks))[0]["watermark"] == at(10)
    curation.apply_batch(bronze(spark, batches[2]), 2, targets)
    row = collect_utc(spark.read.table(targets.watermarks))[0]
    assert (row["coverage_start"], row["watermark"], row["failing_since"]) == (at(0), at(45), None)


def test_micro_batch_zero_rebuilds_the_tables(spark, targets):
    """A new checkpoint (first update, full refresh, or an upgrade from the recomputed tables) starts
    at micro-batch 0 and at bronze's first row: what the tables held before is dropped."""
    _apply(spark, targets, value_reads())
    spark.sql(f"ALTER TABLE {targets.silver} SET TBLPROPERTIES ('{curation.LAYOUT_PROPERTY}' = '1')")
    curation.apply_batch(bronze(spark, value_reads()[0]), 0, targets)
    assert spark.read.table(targets.silver).count() == 3
    assert spark.read.table(targets.watermarks).count() == 2
    for table in targets.all():
        props = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}
        assert props[curation.LAYOUT_PROPERTY] == curation.LAYOUT_VERSION, table
    assert spark.sql(f"DESCRIBE DETAIL {targets.silver}").first().clusteringColumns == ["web_id", "timestamp"]


def test_micro_batch_zero_writes_silver_in_time_slices_sorted_by_tag(spark, targets, monkeypatch):
    """A backfill's first micro-batch is written as files that each hold a slice of time (so a later
    merge, joined on its own time range, skips all but the last), with each file's rows in tag order."""
    monkeypatch.setattr(curation, "SILVER_ROWS_PER_FILE", 40)
    rows = [value(tag, minute, float(minute), read_at=600) for minute in range(0, 480, 4) for tag in "DCBA"]
    rows += [window(tag, 0, 480, "ok", 600, 120) for tag in "ABCD"]
    curation.apply_batch(bronze(spark, rows), 0, targets)
    files = (
        spark.read.table(targets.silver)
        .groupBy(F.input_file_name().alias("file"))
        .agg(F.min("timestamp").alias("lo"), F.max("timestamp").alias("hi"), F.count(F.lit(1)).alias("n"))
        .orderBy("lo")
        .collect()
    )
    assert len(files) >= 6 and sum(f.n for f in files) == 480
    assert all(a.hi < b.lo for a, b in zip(files, files[1:])), "time slices overlap"
    for f in files:
        tags = [
            r.web_id
            for r in spark.read.table(targets.silver).where(F.input_file_name() == f.file).select("web_id").collect()
        ]
        assert tags == sorted(tags), "a slice's rows are not in tag order"


def test_an_empty_micro_batch_changes_nothing(spark, targets):
    _apply(spark, targets, value_reads()[:2])
    before = {t: spark.read.table(t).collect() for t in targets.all()}
    curation.apply_batch(spark.createDataFrame([], SPARK_SCHEMA), 2, targets)
    assert {t: spark.read.table(t).collect() for t in targets.all()} == before


def test_gold_fail_rules_stop_the_merge(spark, targets):
    import expectations

    rows = [value("A", 1, 10.0, read_at=5), window("A", 0, 5, "ok", 5, 1)]
    rule = expectations.Rule("never", "count > 100", "fail")
    with pytest.raises(Exception, match="EXPECTATION_VIOLATION: never"):
        curation.apply_batch(
            bronze(spark, rows), 0, targets, gold_check=lambda df: expectations.apply_local(df, [rule])
        )
    assert spark.read.table(targets.gold).count() == 0


def test_the_merge_reads_only_the_micro_batch_time_range_of_silver(spark, targets):
    """Silver's merge joins on the micro-batch's time range as literals, and gold reads silver over it, so
    Delta skips older files by their statistics: a silver file of last month, made unreadable here, is
    never opened by the merge of today's values."""
    month_ago = -60 * 24 * 30
    _apply(spark, targets, [[value("A", month_ago, 1.0, read_at=month_ago + 5)], value_reads()[0]])
    old = spark.read.table(targets.silver).where(F.col("timestamp") < at(0)).select(F.input_file_name()).first()[0]
    path = old.removeprefix("file:")
    with open(path, "wb") as handle:
        handle.write(b"not parquet")
    curation.apply_batch(bronze(spark, value_reads()[1]), 2, targets)
    assert spark.read.table(targets.silver).where(F.col("timestamp") >= at(0)).count() == 6
    with pytest.raises(Exception):  # noqa: B017 - any error: the old file is unreadable indeed
        spark.read.table(targets.silver).collect()


def test_silver_compacts_purges_and_vacuums_without_changing_its_rows(spark, targets):
    """The maintenance docs/deploy.md gives for the merged tables (OPTIMIZE clusters and compacts, REORG
    ... APPLY (PURGE) rewrites the files deletion vectors point into, VACUUM removes the files no version
    needs) runs on silver as a merge leaves it (several files, deletion vectors), and every row stays."""
    _apply(spark, targets, value_reads()[:2])
    before = sorted(spark.read.table(targets.silver).collect())
    assert spark.sql(f"DESCRIBE DETAIL {targets.silver}").first().numFiles > 1
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        spark.sql(f"OPTIMIZE {targets.silver}")
        spark.sql(f"REORG TABLE {targets.silver} APPLY (PURGE)")
        spark.sql(f"VACUUM {targets.silver} RETAIN 0 HOURS")
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    assert sorted(spark.read.table(targets.silver).collect()) == before
    assert spark.sql(f"DESCRIBE DETAIL {targets.silver}").first().numFiles == 1


def test_tables_of_the_former_gold_rule_gain_their_columns_and_gold_is_recomputed_once(spark, targets):
    """Gold and watermarks written before the time-weighted columns and ``step`` existed: the next
    micro-batch adds the columns and recomputes gold from silver by PI's rule."""
    batches = value_reads()
    _apply(spark, targets, batches[:2])
    added = {c for _, c, _ in curation.ADDED_COLUMNS}
    former = [c for c in spark.read.table(targets.gold).columns if c not in added]
    for table, keep in ((targets.gold, former), (targets.watermarks, None)):
        columns = keep or [c for c in spark.read.table(table).columns if c != "step"]
        spark.sql(f"CREATE OR REPLACE TABLE {table}_former AS SELECT {', '.join(columns)} FROM {table}")
        spark.sql(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table}_former")
        spark.sql(f"DROP TABLE {table}_former")
    assert "last_event_at" not in spark.read.table(targets.gold).columns
    curation.apply_batch(bronze(spark, batches[2]), 2, targets)
    assert "step" in spark.read.table(targets.watermarks).columns
    everything = bronze(spark, [r for b in batches[:3] for r in b])
    assert_approx_df_equality(
        spark.read.table(targets.gold).select(*transforms.GOLD_COLUMNS),
        transforms.hourly_gold(transforms.silver_values(everything), transforms.watermarks(everything)),
        1e-9,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_held_frame_keeps_its_instants_under_any_session_zone(any_zone_spark):
    """The merges hold small frames (the changed spans, the watermark state) as local relations: a
    session zone half an hour off UTC must not move their timestamps."""
    spark = any_zone_spark
    frame = bronze(spark, [window("A", 0, 90, "ok", 91), window("B", 30.5, 61, "ok", 62)]).select(
        "web_id", "window_start", "window_end"
    )
    held = curation.local(frame)
    assert collect_utc(held) == collect_utc(frame)
    assert sorted(collect_utc(held), key=lambda r: r["web_id"])[1]["window_start"] == at(30.5)
