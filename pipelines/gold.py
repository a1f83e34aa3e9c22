"""Gold: hourly statistics with their assets when AF is ingested; event frame KPIs. Hourly gold itself is
merged with silver, from each micro-batch (connector_lib/spark/curation.py)."""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line
from pyspark import pipelines as dp

from connector_lib.spark import af_transforms, ef_transforms
from connector_lib.spark.curation import hourly_gold_schema
from connector_lib.spark.pipeline import curation_targets, merged_table, pi_config, pipeline_session

spark = pipeline_session(globals())
config = pi_config(spark)


if config.af_databases:
    # hourly gold, merged with silver by each micro-batch: as of the update's start
    hourly = merged_table(spark, curation_targets(spark).gold, hourly_gold_schema(spark))

    @dp.materialized_view(name="pi_hourly_assets_gold",
                          comment="Hourly statistics of the tags AF attributes reference, with element and attribute")
    def pi_hourly_assets_gold():
        return af_transforms.hourly_with_assets(hourly, spark.read.table("pi_tag_assets_v"))


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
