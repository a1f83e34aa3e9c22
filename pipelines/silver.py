"""Silver: typed PI values, each (tag, timestamp, sequence) once with the latest value reported."""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line
from pyspark import pipelines as dp

from connector_lib.spark import af_transforms, ef_transforms, transforms
from connector_lib.spark.pipeline import event_frames_by_auto_cdc, pi_config, pipeline_session
from expectations import checked_rows, expect_rules

spark = pipeline_session(globals())
config = pi_config(spark)


@dp.materialized_view(name="pi_timeseries_silver",
                      comment="One row per PI event (tag, timestamp, sequence); late arrivals flagged")
@expect_rules("pi_timeseries_silver", view="pi_timeseries_v")
def pi_timeseries_silver():
    return transforms.silver_values(spark.read.table("pi_recorded_bronze"))


# Gold reads silver through temporary views (``*_v``), never through silver's tables: open-source SDP 4.2
# resolves a read of a table defined in another file against the catalog once the table exists, and may
# then run the reading flow while the table is being rewritten (it reads it truncated). A temporary view
# lives only in the graph, so the dependency is always kept. Databricks orders either way.
@dp.temporary_view(name="pi_timeseries_v", comment="Silver as the gold tables read it")
def pi_timeseries_v():
    return checked_rows(spark, "pi_timeseries_silver")


if config.af_databases:  # the Asset Framework, when databases are configured
    # (the same quirk hit the history views reading the streaming table directly, within this file)
    @dp.temporary_view(name="pi_af_snapshots_v", comment="The AF bronze rows (one read the history views share)")
    def pi_af_snapshots_v():
        return spark.read.table("pi_af_bronze")

    @dp.temporary_view(name="pi_af_elements_v", comment="AF elements with history")
    def pi_af_elements_v():
        return af_transforms.history(spark.read.table("pi_af_snapshots_v"), "element")

    @dp.temporary_view(name="pi_af_attributes_v", comment="AF attributes with history")
    def pi_af_attributes_v():
        return af_transforms.history(spark.read.table("pi_af_snapshots_v"), "attribute")

    @dp.temporary_view(name="pi_tag_assets_v", comment="Current mapping of PI tags to AF elements and attributes")
    def pi_tag_assets_v():
        return af_transforms.tag_assets(spark.read.table("pi_af_elements_v"),
                                        spark.read.table("pi_af_attributes_v"))

    @dp.materialized_view(name="pi_af_elements", comment="AF elements with history (SCD type 2)")
    def pi_af_elements():
        return spark.read.table("pi_af_elements_v")

    @dp.materialized_view(name="pi_af_attributes", comment="AF attributes with history (SCD type 2)")
    def pi_af_attributes():
        return spark.read.table("pi_af_attributes_v")

    @dp.materialized_view(name="pi_tag_assets", comment="Current mapping of PI tags to AF elements and attributes")
    def pi_tag_assets():
        return spark.read.table("pi_tag_assets_v")


if config.reads_event_frames:
    if event_frames_by_auto_cdc(config):  # Databricks: each read of a frame is applied to its row
        dp.create_streaming_table(name="pi_event_frames", comment="Event frames, one current row each (AUTO CDC)")

        @dp.temporary_view(name="pi_event_frame_changes_v", comment="Every read of every event frame")
        def pi_event_frame_changes_v():
            return ef_transforms.frame_changes(spark.readStream.table("pi_event_frames_bronze"))

        dp.create_auto_cdc_flow(target="pi_event_frames", source="pi_event_frame_changes_v",
                                keys=list(ef_transforms.KEYS), sequence_by=ef_transforms.sequence_column(),
                                stored_as_scd_type=1)

        @dp.temporary_view(name="pi_event_frames_v", comment="Event frames, one current row each")
        def pi_event_frames_v():
            return spark.read.table("pi_event_frames")
    else:  # locally (open-source SDP cannot AUTO CDC into Delta): the latest read of each frame
        @dp.temporary_view(name="pi_event_frames_bronze_v", comment="The event frame bronze rows")
        def pi_event_frames_bronze_v():
            return spark.read.table("pi_event_frames_bronze")

        @dp.temporary_view(name="pi_event_frames_v", comment="Event frames, one current row each")
        def pi_event_frames_v():
            return ef_transforms.current_frames(spark.read.table("pi_event_frames_bronze_v"))

        @dp.materialized_view(name="pi_event_frames", comment="Event frames, one current row each (latest read)")
        def pi_event_frames():
            return spark.read.table("pi_event_frames_v")

    @dp.materialized_view(name="pi_event_frame_attributes",
                          comment="Attribute values of the current event frames, typed")
    def pi_event_frame_attributes():
        return ef_transforms.attribute_values(spark.read.table("pi_event_frames_v"))

    @dp.materialized_view(name="pi_alarms",
                          comment="Alarms: severity, duration, acknowledged by and at, with their element")
    def pi_alarms():
        return ef_transforms.alarms(ef_transforms.with_elements(
            spark.read.table("pi_event_frames_v"), spark.read.table("pi_af_elements_v")))
