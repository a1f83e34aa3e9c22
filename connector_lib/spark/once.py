"""A stream that adds at most one micro-batch per pipeline update, when a subclass says a read is due: one
Spark partition per configured AF database (:class:`PerDatabaseReader`: AF snapshots, event frame reads),
or whatever partitions the subclass plans (the gold verification's sample). Inside one long-running
update (a continuous pipeline: a processing-time trigger, never ``availableNow``) a subclass that says how
often (:meth:`OncePerUpdateReader.again_after`) reads again that long after its last read was committed.

Declarative Pipelines run streaming tables with an available-now trigger, which asks for the latest
offset until it stops moving: the offset moves once, when the subclass says a read is due, to a new
round stamped with the planned time, which the partitions carry to the executors. Where Spark asks for
the latest offset without saying where the stream stands (Spark 4.0 and 4.1, see ``stream_reader``), the
offset moves at every update and ``partitions`` decides whether the read is due.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.datasource import InputPartition

from ..af import Database, databases
from ..client import PIWebAPIClient
from ..config import PIConfig
from ..timeutil import UTC, from_epoch_micros
from .datasource import reader_options
from .state import current_schema, qualified
from .stream_reader import PlannedStreamReader, state_option


class DatabasePartition(InputPartition):
    def __init__(self, database: str, planned_at: str, first: bool, since: str | None = None):
        # first: the first micro-batch of the stream (first run or full refresh: its table is empty);
        # since: in a long-running update, when the previous read of this process was planned
        super().__init__(json.dumps({"database": database, "at": planned_at, "first": first, "since": since}))


class OncePerUpdateReader(PlannedStreamReader):
    """Subclasses say whether the stream reads at all (:meth:`reads`), whether this update's read is due
    (:meth:`due`) and what partitions a due read has (:meth:`plan`)."""

    def __init__(self, config: PIConfig, state: dict | None = None):
        super().__init__(state)
        self.config = config
        self._planned: dict | None = None
        self._available_now = False
        self._read_at: dt.datetime | None = None  # the last read committed in this long-running update

    def prepareForTriggerAvailableNow(self) -> None:
        self._available_now = True

    def again_after(self) -> float | None:
        """Seconds after a committed read that a long-running update reads again (:meth:`due` still
        decides); None: once per update."""
        return None

    def read_committed(self, planned_at: dt.datetime) -> None:
        """A read planned at ``planned_at`` is in the table (long-running updates)."""
        self._read_at = planned_at

    def reads(self) -> bool:
        """Whether the stream has anything to read in any update."""
        raise NotImplementedError

    def due(self, start: dict) -> bool:
        """Whether this update reads; ``self.resumed(start)`` is false on the first run or after a full
        refresh."""
        raise NotImplementedError

    def plan(self, planned_at: str, first: bool) -> list[InputPartition]:
        """The partitions of a due read planned at ``planned_at`` (ISO); ``first``: the stream's first
        micro-batch (first run or full refresh: its table is empty)."""
        raise NotImplementedError

    def initialOffset(self) -> dict:
        return {"round": 0, "at": None}

    def latestOffset(self, start: dict | None = None, limit=None) -> dict:
        if self._planned is not None and not self._available_now and self.again_after() is not None:
            self._make_way(start)
        if self._planned is None and self.reads() and (start is None or self.due(start)):
            round_no = int(start.get("round") or 0) + 1 if start is not None else None
            self._planned = {"round": round_no, "at": dt.datetime.now(UTC).isoformat()}
        return self._planned or start or self.initialOffset()

    def partitions(self, start: dict, end: dict):
        if self.is_restart_probe(start, end):
            return []
        self.check_state(start)
        if end.get("round") is None and not self.due(start):
            return []
        return self.plan(end["at"], first=not self.resumed(start))

    def _make_way(self, start: dict | None) -> None:
        """In a long-running update, the planned read makes way for the next one once it has run: Spark 4.2
        asks for the next latest offset from it (Spark commits a batch only when it builds the next one,
        which a stream whose offset stands still never does); Spark 4.0 and 4.1, which do not say where the
        stream stands, get a new offset every :meth:`again_after`, and ``partitions`` decides whether it
        reads (:meth:`due`, with what :meth:`commit` said was read)."""
        assert self._planned is not None
        planned_at = dt.datetime.fromisoformat(self._planned["at"])
        interval = self.again_after() or 0.0
        if start is not None and start == self._planned:
            self.read_committed(planned_at)
            self._planned = None
        elif start is None and dt.datetime.now(UTC) - planned_at >= dt.timedelta(seconds=interval):
            self._planned = None

    def commit(self, end: dict) -> None:
        """In a long-running update, the committed read is where the next one starts (Spark commits a batch
        when it builds the next)."""
        if self._available_now or self.again_after() is None or not end.get("at"):
            return
        planned_at = dt.datetime.fromisoformat(end["at"])
        if self._read_at is None or planned_at > self._read_at:
            self.read_committed(planned_at)
        if self._planned is not None and end.get("at") == self._planned.get("at"):
            self._planned = None


class PerDatabaseReader(OncePerUpdateReader):
    """One partition per configured AF database, each read by :meth:`read_database` with one client."""

    def reads(self) -> bool:
        return bool(self.config.af_databases)

    def plan(self, planned_at: str, first: bool) -> list[InputPartition]:
        since = self._read_at.isoformat() if self._read_at else None
        return [DatabasePartition(name, planned_at, first, since) for name in self.config.af_databases]

    def read(self, partition) -> Iterator[tuple]:
        """The rows of the partition's database, read by :meth:`read_database` with one client."""
        spec = json.loads(partition.value)
        client = PIWebAPIClient(self.config)
        try:
            for db in databases(client, self.config):
                if db.name.lower() == spec["database"].lower():
                    since = spec.get("since")
                    yield from self.read_database(
                        client,
                        db,
                        dt.datetime.fromisoformat(spec["at"]),
                        first=spec["first"],
                        since=dt.datetime.fromisoformat(since) if since else None,
                    )
        finally:
            client.session.close()

    def read_database(
        self, client: PIWebAPIClient, db: Database, planned_at: dt.datetime, first: bool, since: dt.datetime | None
    ) -> Iterator[tuple]:
        """``first``: the stream's first micro-batch (first run or full refresh: its table is empty);
        ``since``: in a long-running update, when this process's previous read was planned (None at the
        update's first read)."""
        raise NotImplementedError


def start_options(
    spark: SparkSession, config: PIConfig, table: str, kind: str, column: str
) -> tuple[dict[str, str], dict[str, str]]:
    """At pipeline start: the reader's options (configuration, and whether ``table``, looked up in the
    pipeline's schema, exists) and, per database, the latest ``column`` of its ok ``kind`` records (ISO
    strings; read as epoch microseconds, as collected timestamps depend on the session time zone)."""
    table = qualified(current_schema(spark), table)
    found = spark.catalog.tableExists(table)
    options = {**reader_options(config), **state_option(table, found)}
    if not found:
        return options, {}
    rows = (
        spark.read.table(table)
        .where((F.col("record_kind") == kind) & (F.col("status") == "ok"))
        .groupBy("database")
        .agg(F.max(F.unix_micros(column)).alias("m"))
        .collect()
    )
    return options, {r.database: from_epoch_micros(r.m).isoformat() for r in rows if r.m is not None}
