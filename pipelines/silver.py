"""Silver: typed PI values, each (tag, timestamp, sequence) once with the latest value reported; with the
watermarks and hourly gold, merged from each micro-batch of bronze (connector_lib/spark/curation.py). The
AF history and the tag-to-asset mapping are folded from each new AF snapshot the same way
(connector_lib/spark/af_curation.py), and the event frames read into the current frames, their attribute
values, the alarms and the event frame KPIs of gold (connector_lib/spark/ef_curation.py).

The merged tables are written by the flows' sinks, not declared as datasets, so two temporary views carry
what a dataset would:

* ``pi_recorded_changes_v`` is the dataset whose rows become silver: silver's expectations sit on it, so
  the event log counts them as the rows are merged.
* ``pi_af_recent_v`` reads this update's AF snapshot from bronze. The event frame flow reads it, which makes
  the engine run that flow after the snapshot is written: the frames' elements are resolved with it.
"""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line

# isort: split
from pyspark import pipelines as dp

import expectations
from connector_lib.spark import af_curation, curation, ef_curation, ef_transforms, transforms
from connector_lib.spark.af_source import latest_snapshots
from connector_lib.spark.pipeline import (
    af_targets,
    assets_gold,
    curation_targets,
    declare_af_history_sink,
    declare_curation_sink,
    declare_event_frame_sink,
    pi_config,
    pipeline_session,
)
from expectations import expect_rules

spark = pipeline_session(globals())
config = pi_config(spark)
targets = curation_targets(spark)  # pi_timeseries_silver, pi_watermarks, pi_hourly_gold in this schema
assets = assets_gold(spark, config)  # with AF: the view pi_hourly_assets_gold over gold and pi_tag_assets


@dp.temporary_view(name="pi_recorded_changes_v", comment="Bronze's new rows; values checked by silver's rules")
@expect_rules(
    "pi_timeseries_silver",
    applies_to="record_kind = 'value'",
    report_from=lambda: transforms.silver_values(spark.read.table("pi_recorded_bronze")),
)
def pi_recorded_changes_v():
    return spark.readStream.table("pi_recorded_bronze")


declare_curation_sink(spark, targets, gold_check=expectations.enforce(curation.GOLD_TABLE), assets=assets)
expectations.reported(curation.GOLD_TABLE, lambda: spark.read.table(targets.gold))


@dp.append_flow(target=curation.SINK_NAME, name="pi_curation")
def pi_curation():
    return spark.readStream.table("pi_recorded_changes_v")


if config.af_databases:  # the Asset Framework, when databases are configured
    af = af_targets(spark)  # pi_af_elements, pi_af_attributes, pi_tag_assets in this schema
    declare_af_history_sink(spark, af, assets)

    @dp.append_flow(target=af_curation.SINK_NAME, name="pi_af_history")
    def pi_af_history():
        return spark.readStream.table("pi_af_bronze")

    # this update's snapshot, read from bronze by time (see the docstring)
    latest = latest_snapshots(spark, config)

    @dp.temporary_view(name="pi_af_recent_v", comment="AF bronze rows of the snapshot this update took")
    def pi_af_recent_v():
        return af_curation.since(spark.read.table("pi_af_bronze"), latest)


if config.reads_event_frames:  # event frames: the frames read merged into the frame tables and their KPIs
    declare_event_frame_sink(spark, config, latest)

    @dp.append_flow(target=ef_curation.SINK_NAME, name="pi_event_frame_curation")
    def pi_event_frame_curation():  # after this update's AF snapshot, which resolves the frames' elements
        return ef_transforms.after_snapshot(
            spark.readStream.table("pi_event_frames_bronze"), spark.read.table("pi_af_recent_v")
        )
