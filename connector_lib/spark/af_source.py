"""The ``pi_af`` PySpark Python Data Source: Asset Framework snapshots as a stream.

Each triggered update adds at most one micro-batch: a snapshot of every configured database (one Spark
partition each), when the last complete snapshot is older than ``pi.af.refresh`` (read at pipeline start
from ``pi_af_bronze``). The hierarchy changes rarely; snapshotting it at every update of a pipeline that
runs every few minutes would fill bronze with copies. Silver turns the snapshots into history.
"""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow

from ..af import AF_COLUMNS, databases, snapshot
from ..client import PIWebAPIClient
from ..config import PIConfig
from ..timeutil import UTC, from_epoch_micros
from .datasource import PASSWORD_OPTION, reader_options

AF_BRONZE = "pi_af_bronze"
SCHEMA = ", ".join(f"{name} {kind}" for name, kind in AF_COLUMNS)


class AFPartition(InputPartition):
    def __init__(self, database: str, snapshot_at: str):
        super().__init__(json.dumps({"database": database, "at": snapshot_at}))


class PIAFDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return "pi_af"

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        config = PIConfig.from_options(self.options, self.options.get(PASSWORD_OPTION, ""))
        last = self.options.get("last_snapshot")
        return AFStreamReader(config, dt.datetime.fromisoformat(last) if last else None)


class AFStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, config: PIConfig, last_snapshot: dt.datetime | None):
        self.config = config
        self.last_snapshot = last_snapshot
        self._planned: dict | None = None

    def prepareForTriggerAvailableNow(self) -> None:
        pass

    def initialOffset(self) -> dict:
        return {"round": 0, "at": None}

    def _due(self, start: dict) -> bool:
        if not self.config.af_databases or self._planned is not None:
            return False
        if start.get("round", 0) == 0:  # first run or full refresh: bronze is empty
            return True
        if self.last_snapshot is None:
            return True
        return dt.datetime.now(UTC) - self.last_snapshot >= dt.timedelta(seconds=self.config.af_refresh_s)

    def latestOffset(self, start: dict | None = None, limit=None) -> dict:
        start = start or self.initialOffset()
        if self._planned is None and self._due(start):
            self._planned = {"round": int(start.get("round", 0)) + 1,
                             "at": dt.datetime.now(UTC).isoformat()}
        return self._planned or start

    def partitions(self, start: dict, end: dict):
        return [AFPartition(name, end["at"]) for name in self.config.af_databases]

    def read(self, partition):
        spec = json.loads(partition.value)
        client = PIWebAPIClient(self.config)
        try:
            found = [d for d in databases(client, self.config) if d.name.lower() == spec["database"].lower()]
            for db in found:
                yield from snapshot(client, self.config, db, f"{db.path}@{spec['at']}")
        finally:
            client.session.close()

    def commit(self, end: dict) -> None:
        pass


def af_stream_options(spark: SparkSession, config: PIConfig, table: str = AF_BRONZE) -> dict[str, str]:
    """Register ``pi_af`` and read when the last complete snapshot was taken (at pipeline start)."""
    spark.dataSource.register(PIAFDataSource)
    options = reader_options(config)
    if spark.catalog.tableExists(table):
        micros = (spark.read.table(table).where((F.col("record_kind") == "snapshot") & (F.col("status") == "ok"))
                  .agg(F.max(F.unix_micros("extracted_at")).alias("m")).first().m)
        if micros is not None:  # as epoch microseconds: collected timestamps depend on the session time zone
            options["last_snapshot"] = from_epoch_micros(micros).isoformat()
    return options


def af_snapshots_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    return spark.readStream.format(PIAFDataSource.name()).options(**options).load()
