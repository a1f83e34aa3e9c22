"""Gold: hourly statistics per tag, with their assets when AF is ingested; event frame KPIs."""

from pyspark import pipelines as dp

from connector_lib.spark import af_transforms, ef_transforms, transforms
from connector_lib.spark.pipeline import pi_config
from expectations import expect_rules

config = pi_config(spark)  # noqa: F821


# Reads the silver view, not the silver table: open-source SDP 4.2 may start this flow before the silver
# materialized view is rewritten on a second update and then reads it truncated (docs/architecture.md).
@dp.materialized_view(name="pi_hourly_gold",
                      comment="Hourly count, min, max, mean, time-weighted mean, first, last, good share")
@expect_rules("pi_hourly_gold")
def pi_hourly_gold():
    return transforms.hourly_aggregates(spark.read.table("pi_timeseries_v"))  # noqa: F821


if config.af_databases:
    @dp.materialized_view(name="pi_hourly_assets_gold",
                          comment="Hourly statistics of the tags AF attributes reference, with element and attribute")
    def pi_hourly_assets_gold():
        return af_transforms.hourly_with_assets(spark.read.table("pi_hourly_gold"),  # noqa: F821
                                                spark.read.table("pi_tag_assets_v"))  # noqa: F821


if config.reads_event_frames:
    @dp.materialized_view(name="pi_downtime_daily_gold",
                          comment="Minutes of closed downtime per element and UTC day")
    def pi_downtime_daily_gold():
        frames = ef_transforms.with_elements(spark.read.table("pi_event_frames_v"),  # noqa: F821
                                             spark.read.table("pi_af_elements_v"))  # noqa: F821
        return ef_transforms.downtime_daily(frames, config.ef_downtime_template)

    @dp.materialized_view(name="pi_batches_daily_gold",
                          comment="Closed batches per product and UTC day: count and durations")
    def pi_batches_daily_gold():
        return ef_transforms.batches_by_product(spark.read.table("pi_event_frames_v"),  # noqa: F821
                                                config.ef_batch_template, config.ef_product_attribute)
