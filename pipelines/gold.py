"""Gold: hourly statistics per tag, with their assets when AF is ingested; event frame KPIs."""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line
from pyspark import pipelines as dp

from connector_lib.spark import af_transforms, ef_transforms, transforms
from connector_lib.spark.pipeline import pi_config, pipeline_session
from expectations import checked_rows, expect_rules

spark = pipeline_session(globals())
config = pi_config(spark)


# Tables read the tables before them through temporary views: open-source SDP 4.2 may start a flow
# before the table it reads is rewritten and then read it truncated (docs/architecture.md).
@dp.materialized_view(name="pi_hourly_gold",
                      comment="Hourly count, min, max, mean, time-weighted mean, first, last, good share")
@expect_rules("pi_hourly_gold", view="pi_hourly_gold_v")
def pi_hourly_gold():
    return transforms.hourly_aggregates(spark.read.table("pi_timeseries_v"))


if config.af_databases:
    @dp.temporary_view(name="pi_hourly_gold_v", comment="Hourly gold as the asset table reads it")
    def pi_hourly_gold_v():
        return checked_rows(spark, "pi_hourly_gold")

    @dp.materialized_view(name="pi_hourly_assets_gold",
                          comment="Hourly statistics of the tags AF attributes reference, with element and attribute")
    def pi_hourly_assets_gold():
        return af_transforms.hourly_with_assets(spark.read.table("pi_hourly_gold_v"),
                                                spark.read.table("pi_tag_assets_v"))


if config.reads_event_frames:
    @dp.materialized_view(name="pi_downtime_daily_gold",
                          comment="Minutes of closed downtime per element and UTC day")
    def pi_downtime_daily_gold():
        frames = ef_transforms.with_elements(spark.read.table("pi_event_frames_v"),
                                             spark.read.table("pi_af_elements_v"))
        return ef_transforms.downtime_daily(frames, config.ef_downtime_template)

    @dp.materialized_view(name="pi_batches_daily_gold",
                          comment="Closed batches per product and UTC day: count and durations")
    def pi_batches_daily_gold():
        return ef_transforms.batches_by_product(spark.read.table("pi_event_frames_v"),
                                                config.ef_batch_template, config.ef_product_attribute)
