"""Silver: typed PI values, each (tag, timestamp, sequence) once with the latest value reported; with the
watermarks and hourly gold, merged from each micro-batch of bronze (connector_lib/spark/curation.py)."""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line
from pyspark import pipelines as dp

import expectations
from connector_lib.spark import af_transforms, curation, ef_transforms, transforms
from connector_lib.spark.pipeline import (curation_targets, declare_curation_sink, event_frames_by_auto_cdc,
                                          pi_config, pipeline_session)
from expectations import expect_rules

spark = pipeline_session(globals())
config = pi_config(spark)
targets = curation_targets(spark)  # pi_timeseries_silver, pi_watermarks, pi_hourly_gold in this schema


@dp.temporary_view(name="pi_recorded_changes_v", comment="Bronze's new rows; values checked by silver's rules")
@expect_rules("pi_timeseries_silver", applies_to="record_kind = 'value'",
              report_from=lambda: transforms.silver_values(spark.read.table("pi_recorded_bronze")))
def pi_recorded_changes_v():
    return spark.readStream.table("pi_recorded_bronze")


declare_curation_sink(spark, targets, gold_check=expectations.enforce(curation.GOLD_TABLE))
expectations.reported(curation.GOLD_TABLE, lambda: spark.read.table(targets.gold))


@dp.append_flow(target=curation.SINK_NAME, name="pi_curation")
def pi_curation():
    return spark.readStream.table("pi_recorded_changes_v")


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
