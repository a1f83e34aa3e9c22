"""Gold: hourly statistics per tag."""

from pyspark import pipelines as dp

from connector_lib.spark import transforms
from expectations import expect_rules


# Reads the silver view, not the silver table: open-source SDP 4.2 may start this flow before the silver
# materialized view is rewritten on a second update and then reads it truncated (docs/architecture.md).
@dp.materialized_view(name="pi_hourly_gold",
                      comment="Hourly count, min, max, mean, time-weighted mean, first, last, good share")
@expect_rules("pi_hourly_gold")
def pi_hourly_gold():
    return transforms.hourly_aggregates(spark.read.table("pi_timeseries_v"))  # noqa: F821
