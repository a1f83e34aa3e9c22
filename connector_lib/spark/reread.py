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
from ..timeutil import UTC, as_utc
from . import transforms
from .state import BRONZE_TABLE, recent_completions
from .utc import collect_utc, latest

EXTRACTION_LOG = "pi_extraction_log"


def load_rereads(
    spark: SparkSession, table: str, log_table: str = EXTRACTION_LOG, bronze: str = BRONZE_TABLE
) -> list[RereadRequest]:
    """The requests of the control table, each with how far its tags were re-read; none if the table
    does not exist. A table without the required columns, or a bad row, fails with a clear message."""
    if not spark.catalog.tableExists(table):
        return []
    frame = spark.read.table(table)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"pi.reread_table: {table} lacks the column(s) {', '.join(missing)} (expected: {DDL})")
    kinds = dict(frame.select(*COLUMNS).dtypes)
    wrong = [c for c in ("start_time", "end_time") if kinds[c] != "timestamp"]
    if wrong:
        raise ConfigError(
            f"pi.reread_table: {table}.{wrong[0]} must be a TIMESTAMP, not {kinds[wrong[0]]} (expected: {DDL})"
        )
    rows = collect_utc(frame.select(*COLUMNS))
    if not rows:
        return []
    ids = sorted({r["request_id"] for r in rows if isinstance(r["request_id"], str)})
    return requests_from_rows(table, rows, _done_windows(spark, ids, log_table, bronze) if ids else [])


def _done_windows(spark: SparkSession, ids: list[str], log_table: str, bronze: str) -> list[dict]:
    """``ok`` re-read windows of these requests: from the extraction log, and from bronze for what was
    committed after the log's last refresh (an update that crashed)."""
    log = spark.read.table(log_table) if spark.catalog.tableExists(log_table) else None
    if log is not None and "reread_id" not in log.columns:  # a log from before re-reads existed
        log = None
    since = latest(log, "extracted_at") if log is not None else None
    tail = recent_completions(spark, since, bronze)
    if tail is not None:
        tail = tail.select("web_id", "window_start", "window_end", "status", transforms.reread_id().alias("reread_id"))
    parts = [p for p in (log, tail) if p is not None]
    if not parts:
        return []
    windows = parts[0].select("reread_id", "web_id", "window_start", "window_end", "status")
    if len(parts) == 2:
        windows = windows.unionByName(parts[1].select(*windows.columns))
    return collect_utc(
        windows.where((F.col("status") == "ok") & F.col("reread_id").isin(ids))
        .selectExpr("reread_id AS request_id", "web_id", "window_start", "window_end")
        .distinct()
    )


def request_reread(
    spark: SparkSession,
    request_id: str,
    start: dt.datetime,
    end: dt.datetime,
    tags: str | None = None,
    note: str | None = None,
    table: str = "pi_reread_requests",
) -> None:
    """File a re-read request (created with the table if needed); the next update reads it. ``tags``:
    comma-separated names or PI name filters; ``None`` re-reads every tag of the pipeline."""
    requests_from_rows(
        table, [{"request_id": request_id, "tags": tags, "start_time": start, "end_time": end}]
    )  # checks
    spark.sql(f"CREATE TABLE IF NOT EXISTS {table} ({DDL}) USING delta")
    schema = (
        "request_id string, tags string, start_time timestamp, end_time timestamp, requested_at timestamp, note string"
    )
    row = (request_id, tags, as_utc(start), as_utc(end), dt.datetime.now(UTC), note)
    spark.createDataFrame([row], schema).write.mode("append").saveAsTable(table)
