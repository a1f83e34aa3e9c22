"""The ``pi_af`` PySpark Python Data Source: Asset Framework snapshots as a stream.

Each triggered update adds at most one micro-batch: a snapshot of every configured database (one Spark
partition each), when the last complete snapshot is older than ``pi.af.refresh`` (read at pipeline start
from ``pi_af_bronze``); a long-running (continuous) update takes one every ``pi.af.refresh``. The hierarchy changes rarely; snapshotting it at every update of a pipeline that
runs every few minutes would fill bronze with copies. Silver turns the snapshots into history.
"""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource

from ..af import AF_COLUMNS, snapshot
from ..config import PIConfig
from ..timeutil import UTC
from .once import PerDatabaseReader, start_options

AF_BRONZE = "pi_af_bronze"
SCHEMA = ", ".join(f"{name} {kind}" for name, kind in AF_COLUMNS)


class PIAFDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return "pi_af"

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        config = PIConfig.from_options(self.options)
        last = self.options.get("last_snapshot")
        return AFStreamReader(
            config, dt.datetime.fromisoformat(last) if last else None, json.loads(self.options.get("state") or "{}")
        )


class AFStreamReader(PerDatabaseReader):
    def __init__(self, config: PIConfig, last_snapshot: dt.datetime | None, state: dict):
        super().__init__(config, state)
        self.last_snapshot = last_snapshot

    def due(self, start: dict) -> bool:
        if not self.resumed(start) or self.last_snapshot is None:  # first run, full refresh, none complete
            return True
        return dt.datetime.now(UTC) - self.last_snapshot >= dt.timedelta(seconds=self.config.af_refresh_s)

    def again_after(self) -> float:
        return self.config.af_refresh_s

    def read_committed(self, planned_at: dt.datetime) -> None:
        super().read_committed(planned_at)
        self.last_snapshot = planned_at

    def read_database(self, client, db, planned_at, first, since):
        yield from snapshot(client, self.config, db, f"{db.path}@{planned_at.isoformat()}")


def af_stream_options(spark: SparkSession, config: PIConfig, table: str = AF_BRONZE) -> dict[str, str]:
    """Register ``pi_af`` and read when the last complete snapshot was taken (at pipeline start)."""
    spark.dataSource.register(PIAFDataSource)
    options, latest = start_options(spark, config, table, "snapshot", "extracted_at")
    if latest:
        options["last_snapshot"] = min(latest.values())  # the database that is due first
    return options


def latest_snapshots(spark: SparkSession, config: PIConfig, table: str = AF_BRONZE) -> dict[str, str]:
    """Per database, when its last complete snapshot before this update was taken (ISO, UTC)."""
    return start_options(spark, config, table, "snapshot", "extracted_at")[1]


def af_snapshots_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    return spark.readStream.format(PIAFDataSource.name()).options(**options).load()
