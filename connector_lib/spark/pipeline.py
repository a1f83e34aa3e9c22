"""What the pipeline files call: configuration from ``spark.conf``, the data source registration, and
the watermark state and re-read requests read once at pipeline start (outside any table function, so
they are not graph dependencies)."""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession

from ..config import PIConfig
from .datasource import PIDataSource, reader_options
from .reread import load_rereads
from .state import load_state


def pi_config(spark: SparkSession) -> PIConfig:
    return PIConfig.from_spark_conf(spark.conf.get)


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


def event_frames_by_auto_cdc(config: PIConfig) -> bool:
    """Whether silver keeps the current event frames with AUTO CDC (``pi.ef.current``; ``auto``: on
    Databricks, which sets ``DATABRICKS_RUNTIME_VERSION``). Open-source Declarative Pipelines cannot
    AUTO CDC into Delta, so locally a keyed-latest materialized view does the same."""
    if config.ef_current == "auto":
        return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))
    return config.ef_current == "auto_cdc"
