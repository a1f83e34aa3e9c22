"""The ``pi`` data source and the micro-batch merge on plain Structured Streaming with Delta tables, under
whichever pyspark runs the suite: ``make compat`` runs this directory under pyspark 4.0 (the Spark of
Databricks Runtime 17.3 LTS) and open-source 4.1, each in its own virtualenv with the Delta build for that
Spark, and ``make test`` under 4.2 (the local default).

Spark 4.0 and open-source 4.1 read an available-now query in one micro-batch, Spark 4.2 (and Databricks
Runtime 18, whose pyspark has the same reader protocol) in as many as the backfill chunks need (``connector_lib.spark.stream_reader``): either way every update ends with silver equal to the
simulator's ground truth (silver merged by the handler Databricks' ForEachBatch sink calls), and an update that restarts from the checkpoint reads only from each tag's
watermark minus the lookback. The state is read by the pipeline's own start-of-update code
(``prepare_stream_options``), from tables in the session's current schema."""

import datetime as dt
import time

import pytest
from pyspark.sql import functions as F

from connector_lib.config import PIConfig
from connector_lib.spark import curation
from connector_lib.spark.datasource import PIDataSource, reader_options
from connector_lib.spark.pipeline import prepare_stream_options
from connector_lib.spark.state import current_schema
from connector_lib.spark.stream_reader import MULTI_BATCH_AVAILABLE_NOW
from devtools.reconcile import reconcile
from pi_simulator import Archive, SimulatorServer
from tests.conftest import past_window, truth_keys

UTC = dt.UTC
TAGS = 8


@pytest.fixture(scope="module")
def simulator():
    archive = Archive(seed=21, n_points=TAGS)
    with SimulatorServer(archive) as server:
        yield archive, server


def use_schema(spark, name: str) -> None:
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
    spark.sql(f"CREATE DATABASE {name}")
    spark.catalog.setCurrentDatabase(name)


def config(server, **settings) -> PIConfig:
    return PIConfig.from_mapping(
        {"pi.url": server.url, "pi.settle_lag": "2s", "pi.lookback": "10m", "pi.tags_per_request": "3", **settings}
    )


def merge_tables(spark, checkpoint: str) -> None:
    """What the pipeline's flow ``pi_curation`` does after bronze on Databricks: each micro-batch of bronze
    handed to the ForEachBatch sink's handler, which merges it into silver, the watermarks and gold."""
    targets = curation.Targets.in_schema(current_schema(spark))
    query = (
        spark.readStream.table("pi_recorded_bronze")
        .writeStream.foreachBatch(curation.batch_handler(targets))
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    assert query.exception() is None


def update(spark, cfg: PIConfig, checkpoint: str, **trigger) -> list[int]:
    """One pipeline update of bronze: the state read at its start, one streaming query; returns the rows
    each micro-batch read."""
    options = prepare_stream_options(spark, cfg)
    query = (
        spark.readStream.format("pi")
        .options(**options)
        .load()
        .writeStream.format("delta")
        .option("checkpointLocation", checkpoint)
        .trigger(**(trigger or {"availableNow": True}))
        .toTable("pi_recorded_bronze")
    )
    if trigger:  # processing time: let it run three micro-batches that read something, then stop it
        deadline = time.monotonic() + 120
        while len([p for p in query.recentProgress if p.numInputRows]) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        query.stop()
    else:
        query.awaitTermination()
    assert query.exception() is None
    merge_tables(spark, checkpoint + "-curation")
    return [p.numInputRows for p in query.recentProgress if p.numInputRows]


def assert_silver_is_the_truth(spark, archive) -> int:
    rec = reconcile(spark, archive, bronze_table="pi_recorded_bronze")
    assert rec.tags == TAGS and rec.truth > 0
    assert (rec.missing, rec.duplicated, rec.unexpected, rec.mismatched, rec.behind_watermark) == (0, 0, 0, 0, 0)
    return rec.truth


def test_batch_read_returns_the_window_of_every_tag(spark, simulator):
    archive, server = simulator
    spark.dataSource.register(PIDataSource)
    start, end = past_window(20)
    rows = (
        spark.read.format("pi")
        .options(**reader_options(config(server)))
        .option("start", start.isoformat())
        .option("end", end.isoformat())
        .load()
        .where(F.col("record_kind") == "value")
        .select("tag", F.unix_micros("timestamp").alias("us"), "sequence")
        .collect()
    )
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    got = {(r.tag, epoch + dt.timedelta(microseconds=r.us), r.sequence) for r in rows}
    assert len(rows) == len(got) and got == truth_keys(archive, start, end)


def test_a_backfill_in_chunks_then_a_restart_that_reads_only_new_data(spark, simulator, tmp_path):
    archive, server = simulator
    use_schema(spark, "compat_backfill")
    cfg = config(server, **{"pi.backfill_start": "*-1h", "pi.max_window": "15m"})
    checkpoint = str(tmp_path / "checkpoint")
    per_update = []
    started = dt.datetime.now(UTC)
    while len(per_update) < 8:  # four 15-minute chunks per tag
        per_update.append(update(spark, cfg, checkpoint))
        low = spark.sql("SELECT min(watermark) AS m FROM pi_watermarks").first().m
        if low is not None and low.replace(tzinfo=UTC) >= started - dt.timedelta(seconds=10):
            break
    if MULTI_BATCH_AVAILABLE_NOW:  # Spark 4.2, Databricks Runtime 18: one update, one micro-batch per chunk
        assert len(per_update) == 1 and len(per_update[0]) >= 4
    else:  # Spark 4.0 and 4.1: one micro-batch per update, one chunk per tag
        assert len(per_update) >= 4 and all(len(batches) == 1 for batches in per_update)
    assert_silver_is_the_truth(spark, archive)

    marks = {r.web_id: r.watermark for r in spark.read.table("pi_watermarks").collect()}
    before = spark.sql("SELECT max(extracted_at) AS m FROM pi_recorded_bronze").first().m
    time.sleep(3)
    update(spark, cfg, checkpoint)  # restarts from the checkpoint
    windows = spark.sql(f"""SELECT web_id, window_start, prior_watermark FROM pi_recorded_bronze
                            WHERE record_kind = 'window' AND extracted_at > TIMESTAMP '{before}'""").collect()
    assert {w.web_id for w in windows} == set(marks)
    for w in windows:
        assert w.prior_watermark == marks[w.web_id]
        assert w.window_start >= marks[w.web_id] - dt.timedelta(minutes=10)
    stale = (
        spark.sql(f"""SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'value'
                          AND extracted_at > TIMESTAMP '{before}'
                          AND timestamp < prior_watermark - INTERVAL 10 MINUTES""")
        .first()
        .n
    )
    assert stale == 0
    assert_silver_is_the_truth(spark, archive)


def test_a_processing_time_trigger_runs_micro_batch_after_micro_batch(spark, simulator, tmp_path):
    """What a continuous pipeline runs: each trigger plans from where the previous micro-batch ended."""
    archive, server = simulator
    use_schema(spark, "compat_continuous")
    cfg = config(server, **{"pi.backfill_start": "*-5m"})
    batches = update(spark, cfg, str(tmp_path / "checkpoint"), processingTime="2 seconds")
    assert len(batches) >= 3
    assert_silver_is_the_truth(spark, archive)


def test_stream_updates_across_triggered_updates_and_a_processing_time_trigger(spark, simulator, tmp_path):
    """``pi.read_mode: updates`` on each runtime: the first update registers every tag as it catches up,
    the next ones resume from the markers bronze committed (no new registration), under an available-now
    trigger and under a processing-time one, and silver stays equal to the truth."""
    archive, server = simulator
    use_schema(spark, "compat_updates")
    cfg = config(server, **{"pi.backfill_start": "*-5m", "pi.read_mode": "updates"})
    checkpoint = str(tmp_path / "checkpoint")
    registered = server.api.updates.registrations
    update(spark, cfg, checkpoint)
    assert server.api.updates.registrations == registered + TAGS
    time.sleep(3)
    update(spark, cfg, checkpoint)
    update(spark, cfg, checkpoint, processingTime="2 seconds")
    assert server.api.updates.registrations == registered + TAGS  # resumed from the committed markers
    markers = spark.sql("SELECT count(*) AS n FROM pi_watermarks WHERE marker IS NOT NULL").first().n
    assert markers == TAGS
    assert_silver_is_the_truth(spark, archive)
