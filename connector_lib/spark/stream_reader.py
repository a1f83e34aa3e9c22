"""The base of the connector's stream readers: one reader for every Spark runtime the pipeline runs on.

Spark's Python stream reader API changed between the runtimes we support, and a reader that relies on the
newer form does not even load on the older one:

* Spark 4.0 (Databricks Runtime 17.3 LTS) and open-source Spark 4.1 call ``latestOffset()`` without
  arguments and know nothing of ``pyspark.sql.streaming.datasource``. An available-now query (a triggered
  pipeline update) then takes one latest offset when it starts and reads up to it in one micro-batch; the
  reader learns where the batch starts only in ``partitions(start, end)``.
* Spark 4.2 and Databricks Runtime 18 (its pyspark has this protocol although open-source 4.1 has not)
  pass the start offset and a read limit (admission control) and, for a reader that implements
  ``SupportsTriggerAvailableNow``, call ``prepareForTriggerAvailableNow`` first and then ask for latest
  offsets until they stop moving, so one update can run several bounded micro-batches. The reader runs in
  the runtime's own Python workers, so that pyspark decides, whatever client the pipeline's Python uses.

So the optional interface is detected instead of imported, the readers accept ``latestOffset`` with or
without its arguments, and they plan a micro-batch in ``latestOffset`` when its start is given and in
``partitions`` when it is not. Spark 4.0 and 4.1 also ask for the partitions of the last committed batch
when a query restarts (``partitions(end, end)``); that call must not plan anything.
"""

from __future__ import annotations

import json

from pyspark.sql.datasource import DataSourceStreamReader

from .state import StateError

try:  # Spark 4.2 and Databricks Runtime 18 only
    from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow
except ImportError:  # Spark 4.0 and 4.1: available-now queries read up to one latest offset
    SupportsTriggerAvailableNow = None  # type: ignore[misc,assignment]

#: whether this Spark lets a Python stream reader plan an available-now query in several micro-batches
MULTI_BATCH_AVAILABLE_NOW = SupportsTriggerAvailableNow is not None

_BASES: tuple[type, ...] = (DataSourceStreamReader,) + (
    (SupportsTriggerAvailableNow,) if SupportsTriggerAvailableNow is not None else ()
)


def state_option(table: str, found: bool) -> dict[str, str]:
    """The data source option that tells a stream reader whether its table existed when the update
    started (its state was read from it)."""
    return {"state": json.dumps({"table": table, "found": found}, separators=(",", ":"))}


class PlannedStreamReader(*_BASES):  # type: ignore[misc]
    """A stream reader whose offsets say how far it planned, not how far a server has data: the PI Web
    API has no offsets of its own, so the reader decides each micro-batch's end when it plans it.

    Offsets are JSON objects. The initial offset is the only one without a time, which is how a
    micro-batch tells the stream's first batch (first run or full refresh, when the table is empty) from
    one that resumes a checkpoint.

    ``state`` (the ``state`` option) says which table the reader's starting state was read from at
    pipeline start and whether it existed: a stream that resumes while its table was not found would
    start every position again from its backfill start, so :meth:`check_state` stops it instead."""

    def __init__(self, state: dict | None = None):
        self.state = state or {}
        self._state_checked = False

    def check_state(self, start: dict) -> None:
        """Checked for the first micro-batch this reader plans only: later ones continue batches of this
        same update (a long-running update's own first batch created the table)."""
        if self._state_checked:
            return
        if self.resumed(start) and self.state.get("found") is False:
            raise StateError(
                f"{self.state.get('table')}: not found when the update started, but its stream continues from "
                "a checkpoint, so its state (how far each read got) could not be read; the update stops rather "
                "than read everything again from the backfill start (check the pipeline's catalog and schema, "
                "or run a full refresh to start over)"
            )
        self._state_checked = True

    def initialOffset(self) -> dict:
        raise NotImplementedError

    def prepareForTriggerAvailableNow(self) -> None:
        """Called by Spark 4.2 and Databricks Runtime 18 when an available-now query starts."""

    def resumed(self, start: dict) -> bool:
        """Whether a micro-batch starting at ``start`` continues the stream (its table holds earlier
        batches), as opposed to the stream's first batch."""
        return start != self.initialOffset()

    @staticmethod
    def is_restart_probe(start: dict, end: dict) -> bool:
        """Spark 4.0 and 4.1 ask for the partitions of the last committed batch when a query restarts;
        those partitions are never read, and planning them would move the reader's positions."""
        return start == end

    def commit(self, end: dict) -> None:
        pass
