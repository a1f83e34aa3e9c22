"""Silver: typed PI values, each (tag, timestamp, sequence) once with the latest value reported."""

from pyspark import pipelines as dp

from connector_lib.spark import transforms
from expectations import expect_rules


@dp.temporary_view(name="pi_timeseries_v",
                   comment="Deduplicated, typed values with the silver expectations applied")
@expect_rules("pi_timeseries_silver", dataset="pi_timeseries_v")
def pi_timeseries_v():
    return transforms.silver_values(spark.read.table("pi_recorded_bronze"))  # noqa: F821


@dp.materialized_view(name="pi_timeseries_silver",
                      comment="One row per PI event (tag, timestamp, sequence); late arrivals flagged")
def pi_timeseries_silver():
    return spark.read.table("pi_timeseries_v")  # noqa: F821
