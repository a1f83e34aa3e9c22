"""A stream that adds at most one micro-batch per pipeline update: one Spark partition per configured AF
database, read by a subclass (AF snapshots, event frame reads).

Declarative Pipelines run streaming tables with an available-now trigger, which asks for the latest
offset until it stops moving: the offset moves once, when the subclass says a read is due, to a new
round stamped with the planned time, which the partitions carry to the executors.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterator

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.datasource import DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow

from ..af import Database, databases
from ..client import PIWebAPIClient
from ..config import PIConfig
from ..timeutil import UTC, from_epoch_micros


class DatabasePartition(InputPartition):
    def __init__(self, database: str, planned_at: str, round_: int):
        # round 1: the first micro-batch of the stream (first run or full refresh: its table is empty)
        super().__init__(json.dumps({"database": database, "at": planned_at, "round": round_}))


class OncePerUpdateReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, config: PIConfig):
        self.config = config
        self._planned: dict | None = None

    def due(self, start: dict) -> bool:
        """Whether this update reads; ``start['round']`` is 0 on the first run or after a full refresh."""
        raise NotImplementedError

    def prepareForTriggerAvailableNow(self) -> None:
        pass

    def initialOffset(self) -> dict:
        return {"round": 0, "at": None}

    def latestOffset(self, start: dict | None = None, limit=None) -> dict:
        start = start or self.initialOffset()
        if self._planned is None and self.config.af_databases and self.due(start):
            self._planned = {"round": int(start.get("round", 0)) + 1, "at": dt.datetime.now(UTC).isoformat()}
        return self._planned or start

    def partitions(self, start: dict, end: dict):
        return [DatabasePartition(name, end["at"], int(end["round"])) for name in self.config.af_databases]

    def read(self, partition) -> Iterator[tuple]:
        """The rows of the partition's database, read by :meth:`read_database` with one client."""
        spec = json.loads(partition.value)
        client = PIWebAPIClient(self.config)
        try:
            for db in databases(client, self.config):
                if db.name.lower() == spec["database"].lower():
                    yield from self.read_database(client, db, dt.datetime.fromisoformat(spec["at"]),
                                                  first=spec["round"] == 1)
        finally:
            client.session.close()

    def read_database(self, client: PIWebAPIClient, db: Database, planned_at: dt.datetime,
                      first: bool) -> Iterator[tuple]:
        """``first``: the stream's first micro-batch (first run or full refresh: its table is empty)."""
        raise NotImplementedError

    def commit(self, end: dict) -> None:
        pass


def latest_times(spark: SparkSession, table: str, kind: str, column: str) -> dict[str, str]:
    """Per database, the latest ``column`` of the ok ``kind`` records of ``table`` (ISO strings); empty
    when the table does not exist. Read as epoch microseconds: collected timestamps depend on the session
    time zone."""
    if not spark.catalog.tableExists(table):
        return {}
    rows = (spark.read.table(table).where((F.col("record_kind") == kind) & (F.col("status") == "ok"))
            .groupBy("database").agg(F.max(F.unix_micros(column)).alias("m")).collect())
    return {r.database: from_epoch_micros(r.m).isoformat() for r in rows if r.m is not None}
