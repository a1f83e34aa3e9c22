"""Silver: typed PI values, each (tag, timestamp, sequence) once with the latest value reported."""

from pyspark import pipelines as dp

from connector_lib.spark import af_transforms, transforms
from connector_lib.spark.pipeline import pi_config
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


if pi_config(spark).af_databases:  # noqa: F821 - the Asset Framework, when databases are configured
    # The history views read bronze through this view: read straight from the streaming table, open-source
    # SDP 4.2 resolved them against the catalog once the table existed and ran them before the new snapshot
    # was written (a plain read of it was ordered correctly; the history query was not). Through a view the
    # dependency is always in the graph.
    @dp.temporary_view(name="pi_af_snapshots_v", comment="The AF bronze rows (one read the history views share)")
    def pi_af_snapshots_v():
        return spark.read.table("pi_af_bronze")  # noqa: F821

    @dp.materialized_view(name="pi_af_elements", comment="AF elements with history (SCD type 2)")
    def pi_af_elements():
        return af_transforms.history(spark.read.table("pi_af_snapshots_v"), "element")  # noqa: F821

    @dp.materialized_view(name="pi_af_attributes", comment="AF attributes with history (SCD type 2)")
    def pi_af_attributes():
        return af_transforms.history(spark.read.table("pi_af_snapshots_v"), "attribute")  # noqa: F821

    @dp.materialized_view(name="pi_tag_assets", comment="Current mapping of PI tags to AF elements and attributes")
    def pi_tag_assets():
        return af_transforms.tag_assets(spark.read.table("pi_af_elements"),  # noqa: F821
                                        spark.read.table("pi_af_attributes"))  # noqa: F821
