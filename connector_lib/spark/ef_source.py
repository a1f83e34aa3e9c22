"""The ``pi_ef`` PySpark Python Data Source: event frame reads as a stream.

Every update adds one micro-batch (one Spark partition per configured database): the frames active since
the previous ok read's end minus ``pi.ef.lookback`` (``connector_lib.eventframes``). Where the previous
read ended is read from ``pi_event_frames_bronze`` at pipeline start, so a failed read is simply read
again by the next update, and a full refresh starts from ``pi.ef.backfill_start``.
"""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource

from ..config import PIConfig
from ..eventframes import EF_COLUMNS, read_event_frames
from .once import PerDatabaseReader, start_options

EF_BRONZE = "pi_event_frames_bronze"
SCHEMA = ", ".join(f"{name} {kind}" for name, kind in EF_COLUMNS)


class PIEventFrameDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return "pi_ef"

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        config = PIConfig.from_options(self.options)
        return EventFrameStreamReader(
            config, json.loads(self.options.get("since") or "{}"), json.loads(self.options.get("state") or "{}")
        )


class EventFrameStreamReader(PerDatabaseReader):
    def __init__(self, config: PIConfig, since: dict[str, str], state: dict):
        super().__init__(config, state)
        self.since = {k.lower(): v for k, v in since.items()}  # database path -> the previous ok read's end

    def due(self, start: dict) -> bool:
        return self.config.reads_event_frames

    def read_database(self, client, db, planned_at, first):
        previous = None if first else self.since.get(db.path.lower())
        yield from read_event_frames(
            client, self.config, db, dt.datetime.fromisoformat(previous) if previous else None, planned_at
        )


def ef_stream_options(spark: SparkSession, config: PIConfig, table: str = EF_BRONZE) -> dict[str, str]:
    """Register ``pi_ef`` and read where each database's last ok read ended (at pipeline start)."""
    spark.dataSource.register(PIEventFrameDataSource)
    options, since = start_options(spark, config, table, "read", "search_end")
    return {**options, "since": json.dumps(since)}


def event_frames_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    return spark.readStream.format(PIEventFrameDataSource.name()).options(**options).load()
