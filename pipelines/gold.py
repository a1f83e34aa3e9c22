"""Gold: hourly statistics with their assets when AF is ingested. Hourly gold itself is merged with
silver, from each micro-batch (connector_lib/spark/curation.py), and so are the event frame KPIs
(``pi_downtime_daily_gold``, ``pi_batches_daily_gold``; connector_lib/spark/ef_curation.py)."""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line
from pyspark import pipelines as dp

from connector_lib.spark import af_transforms
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

