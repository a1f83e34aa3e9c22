"""What the pipeline files call: configuration from ``spark.conf``, the data source registration, and
the watermark state and re-read requests read once at pipeline start (outside any table function, so
they are not graph dependencies)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession

from ..config import PIConfig
from ..timeutil import from_epoch_micros
from .datasource import PIDataSource, reader_options
from .reread import load_rereads

WATERMARK_TABLE = "pi_watermarks"


def pi_config(spark: SparkSession) -> PIConfig:
    return PIConfig.from_spark_conf(spark.conf.get)


def load_state(spark: SparkSession, table: str = WATERMARK_TABLE) -> tuple[dict[str, dt.datetime], dict[str, float]]:
    """Watermarks and value densities (values per second read so far) as of the previous update; empty
    on the first run. Densities let the planner balance partitions by expected values."""
    if not spark.catalog.tableExists(table):
        return {}, {}
    rows = (spark.read.table(table).where("watermark IS NOT NULL")
            .selectExpr("web_id", "unix_micros(watermark) AS micros",
                        "rows_read / greatest(unix_seconds(watermark) - unix_seconds(coverage_start), 1) AS density")
            .collect())
    return ({r.web_id: from_epoch_micros(r.micros) for r in rows},
            {r.web_id: float(r.density) for r in rows if r.density is not None})


def prepare_stream_options(spark: SparkSession, config: PIConfig) -> dict[str, str]:
    """Register the ``pi`` source and read the watermarks and the re-read requests: all must happen at
    pipeline start, outside any query function (SDP forbids analysis inside one, and the state must not
    become a graph edge)."""
    spark.dataSource.register(PIDataSource)
    watermarks, densities = load_state(spark)
    return reader_options(config, watermarks, densities, load_rereads(spark, config.reread_table))


def recorded_values_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    """The streaming read behind the bronze table."""
    return spark.readStream.format(PIDataSource.name()).options(**options).load()
