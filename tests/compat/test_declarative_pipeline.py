"""The real pipeline files on the open-source Spark Declarative Pipelines engine of the running pyspark,
with Delta tables, against the simulator: two updates, silver equal to the ground truth, the second
reading only from each tag's watermark minus the lookback; the Asset Framework snapshot taken at the first
update only (pi.af.refresh) and the event frames read at both, equal to the simulator's model.

``make compat`` runs it under pyspark 4.1, the oldest Spark with Declarative Pipelines (4.0 has none);
under 4.2 the end-to-end tests of ``make test`` run the same pipeline and more."""

import time

import pytest

from devtools.reconcile import reconcile
from devtools.reconcile_af import reconcile_af, reconcile_event_frames
from pi_simulator import Archive, SimulatorServer

pytestmark = pytest.mark.pipelines


def test_two_updates_of_the_pipeline_keep_silver_equal_to_the_truth(local_pipeline_factory):
    archive = Archive(seed=23, n_points=8)
    with SimulatorServer(archive) as server:
        pipeline = local_pipeline_factory(
            {
                "pi.url": server.url,
                "pi.backfill_start": "*-40m",
                "pi.max_window": "15m",
                "pi.lookback": "10m",
                "pi.settle_lag": "2s",
                "pi.tags_per_request": "3",
                "pi.af.databases": "Operations",
                "pi.af.refresh": "1h",
                "pi.ef.backfill_start": "*-6h",
            },
            "compat_pipeline",
        )
        spark = pipeline.spark
        first = pipeline.update()
        assert first.ok, first.error
        marks = {r.web_id: r.watermark for r in spark.read.table("pi_watermarks").collect()}
        time.sleep(3)
        second = pipeline.update()
        assert second.ok, second.error
        rec = reconcile(spark, archive, bronze_table="pi_recorded_bronze")
        assert rec.tags == 8 and rec.truth > 0
        assert (rec.missing, rec.duplicated, rec.unexpected, rec.behind_watermark) == (0, 0, 0, 0)
        again = spark.sql("""SELECT web_id, window_start, prior_watermark FROM pi_extraction_log
                             WHERE prior_watermark IS NOT NULL""").collect()
        assert {w.web_id for w in again} == set(marks)
        assert all(
            w.prior_watermark == marks[w.web_id] and (w.prior_watermark - w.window_start).total_seconds() == 600
            for w in again
        )
        assert spark.read.table("pi_hourly_gold").count() > 0
        model = server.api.assets.model
        for comparison in [*reconcile_af(spark, model, server.api.clock()), reconcile_event_frames(spark, model)]:
            assert comparison.exact and comparison.truth > 0, comparison.line()
        records = {
            (r.record_kind, r.n)
            for r in spark.sql(
                """SELECT 'snapshot' AS record_kind, count(*) AS n FROM pi_af_bronze WHERE record_kind = 'snapshot'
               UNION ALL SELECT 'read', count(*) FROM pi_event_frames_bronze WHERE record_kind = 'read'"""
            ).collect()
        }
        assert records == {("snapshot", 1), ("read", 2)}  # one database: a snapshot once, frames every update
