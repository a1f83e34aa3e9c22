"""The re-read control table in Spark: read at pipeline start (with what earlier updates already
re-read, from ``pi_extraction_log``), and a helper that files a request.

The table belongs to the user, not to the pipeline: a pipeline-defined table could not take inserts.
``request_reread`` creates it on first use; SQL works as well (docs/state.md).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..config import ConfigError
from ..reread import COLUMNS, DDL, RereadRequest, requests_from_rows
from ..timeutil import UTC

EXTRACTION_LOG = "pi_extraction_log"


def load_rereads(spark: SparkSession, table: str, log_table: str = EXTRACTION_LOG) -> list[RereadRequest]:
    """The requests of the control table, each with how far its tags were re-read; none if the table
    does not exist. A table without the required columns, or a bad row, fails with a clear message."""
    if not spark.catalog.tableExists(table):
        return []
    frame = spark.read.table(table)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"pi.reread_table: {table} lacks the column(s) {', '.join(missing)} "
                          f"(expected: {DDL})")
    rows = [r.asDict() for r in frame.select(*COLUMNS).collect()]
    done = []
    if rows and spark.catalog.tableExists(log_table) and "reread_id" in spark.read.table(log_table).columns:
        ids = sorted({r["request_id"] for r in rows if isinstance(r["request_id"], str)})
        done = [r.asDict() for r in spark.read.table(log_table)
                .where((F.col("status") == "ok") & F.col("reread_id").isin(ids))
                .selectExpr("reread_id AS request_id", "web_id", "window_start", "window_end").collect()]
    return requests_from_rows(table, rows, done)


def request_reread(spark: SparkSession, request_id: str, start: dt.datetime, end: dt.datetime,
                   tags: str | None = None, note: str | None = None,
                   table: str = "pi_reread_requests") -> None:
    """File a re-read request (created with the table if needed); the next update reads it. ``tags``:
    comma-separated names or PI name filters; ``None`` re-reads every tag of the pipeline."""
    requests_from_rows(table, [{"request_id": request_id, "tags": tags, "start_time": start, "end_time": end}])  # checks
    spark.sql(f"CREATE TABLE IF NOT EXISTS {table} ({DDL}) USING delta")
    schema = "request_id string, tags string, start_time timestamp, end_time timestamp, requested_at timestamp, note string"
    start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))  # naive means UTC
    row = (request_id, tags, start, end, dt.datetime.now(UTC), note)
    spark.createDataFrame([row], schema).write.mode("append").saveAsTable(table)
