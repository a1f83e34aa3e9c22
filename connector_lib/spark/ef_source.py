"""The ``pi_ef`` PySpark Python Data Source: event frame reads as a stream.

Every update adds one micro-batch (one Spark partition per configured database): the frames active since
the previous ok read's end minus ``pi.ef.lookback`` (``connector_lib.eventframes``); a long-running
(continuous) update adds one every ``pi.ef.interval``, each from the previous one's planned end. Where the previous
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
from ..timeutil import UTC
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
        last = self._read_at
        return self.config.reads_event_frames and (
            last is None or dt.datetime.now(UTC) - last >= dt.timedelta(seconds=self.config.ef_interval_s)
        )

    def again_after(self) -> float:
        return self.config.ef_interval_s

    def read_database(self, client, db, planned_at, first, since):
        """From the previous read of this long-running update (``since``), else from where the last ok read
        before the update ended."""
        previous = None if first else self.since.get(db.path.lower())
        if since is None and previous:
            since = dt.datetime.fromisoformat(previous)
        yield from read_event_frames(client, self.config, db, since, planned_at)


def ef_stream_options(spark: SparkSession, config: PIConfig, table: str = EF_BRONZE) -> dict[str, str]:
    """Register ``pi_ef`` and read where each database's last ok read ended (at pipeline start)."""
    spark.dataSource.register(PIEventFrameDataSource)
    options, since = start_options(spark, config, table, "read", "search_end")
    return {**options, "since": json.dumps(since)}


def event_frames_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    return spark.readStream.format(PIEventFrameDataSource.name()).options(**options).load()
