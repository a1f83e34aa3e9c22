"""The stream's state at pipeline start: per-tag watermarks and value densities.

``pi_watermarks`` is refreshed at the end of an update. An update that crashed or was killed after some
micro-batches committed left completion records that view never saw; reading the view alone would send
the next update back to where the crashed one started (a long backfill would start over). So the view's
coverage is brought up to date with the completion records bronze committed since its last refresh,
by the same island rule (``transforms.watermarks``). Only recent bronze files are read: the filter on
``extracted_at`` skips the others by their Delta statistics (``bronze.TABLE_PROPERTIES``). In the normal
case (the last update completed) bronze has no commit after the view's last refresh, which the two tables'
Delta histories tell without reading either, and the view is used as it is.
"""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..timeutil import from_epoch_micros
from . import transforms
from .utc import latest

WATERMARK_TABLE = "pi_watermarks"
BRONZE_TABLE = "pi_recorded_bronze"


class StateError(RuntimeError):
    """The pipeline's state could not be read, or does not match its streams' checkpoints: the update
    stops rather than read every tag again from ``pi.backfill_start``. The message is one line."""


def current_schema(spark: SparkSession) -> str:
    """The session's current catalog and schema, quoted: at pipeline start, the pipeline's own (its
    default catalog and schema on Databricks, the spec's database locally)."""
    return ".".join(quote_part(part) for part in (spark.catalog.currentCatalog(), spark.catalog.currentDatabase()))


def qualified(schema: str, name: str) -> str:
    """``name`` in ``schema`` (:func:`current_schema`) unless it names its own: the state is read at
    pipeline start, outside the engine's name resolution for datasets, so it is never left to whatever
    schema a session happens to be in."""
    return name if "." in name else f"{schema}.{quote_part(name)}"


def quote_part(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) else "`" + part.replace("`", "``") + "`"


#: completion records this much older than the view's last one are read again (executor clocks may
#: differ a little); reading one twice changes nothing
CLOCK_MARGIN = dt.timedelta(minutes=10)


def recent_completions(spark: SparkSession, since: dt.datetime | None, bronze: str = BRONZE_TABLE) -> DataFrame | None:
    """Completion records committed to bronze after ``since`` (less the clock margin); all of them if
    ``since`` is None; ``None`` when bronze does not exist yet."""
    if not spark.catalog.tableExists(bronze):
        return None
    windows = spark.read.table(bronze).where(F.col("record_kind") == "window")
    if since is not None:
        windows = windows.where(F.col("extracted_at") > F.lit(since - CLOCK_MARGIN))
    return windows


def last_commit(spark: SparkSession, table: str) -> dt.datetime | None:
    """When ``table`` last committed, from its Delta history; ``None`` if that cannot be told (no such
    table, or a table kind whose history is not exposed, as materialized views on Databricks)."""
    try:
        row = spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").select(F.unix_micros("timestamp").alias("t")).first()
    except Exception:  # noqa: BLE001 - unknown means "read the tail", which is always correct
        return None
    return from_epoch_micros(row.t) if row is not None else None


def view_is_current(spark: SparkSession, table: str, bronze: str) -> bool:
    """True when bronze committed nothing after ``table`` last refreshed (so its completion records are
    all in the view); False when that cannot be told."""
    view_commit, bronze_commit = last_commit(spark, table), last_commit(spark, bronze)
    return view_commit is not None and bronze_commit is not None and bronze_commit < view_commit


def current_coverage(spark: SparkSession, table: str = WATERMARK_TABLE, bronze: str = BRONZE_TABLE) -> DataFrame | None:
    """``pi_watermarks`` as it would be if refreshed now (coverage_start, watermark, rows_read per web id)."""
    view = spark.read.table(table) if spark.catalog.tableExists(table) else None
    if view is not None and view_is_current(spark, table, bronze):
        return view
    tail = recent_completions(spark, latest(view, "updated_at") if view is not None else None, bronze)
    if tail is None:
        return view
    if view is None:
        return transforms.watermarks(tail)
    # the view's coverage enters as one ok window per tag, then the island rule runs over it and the tail
    carried = [F.col(c).alias(c) for c in ("step", "marker") if c in view.columns]
    covered = view.where(F.col("watermark").isNotNull()).select(
        F.lit("window").alias("record_kind"),
        (F.to_json(F.struct(*carried)) if carried else F.lit(None).cast("string")).alias("raw"),
        "web_id",
        "tag",
        F.col("coverage_start").alias("window_start"),
        F.col("watermark").alias("window_end"),
        F.lit("ok").alias("status"),
        F.col("rows_read").alias("value_count"),
        "point_type",
        F.col("updated_at").alias("extracted_at"),
    )
    return transforms.watermarks(covered.unionByName(tail, allowMissingColumns=True))


def load_state(
    spark: SparkSession, table: str = WATERMARK_TABLE, bronze: str = BRONZE_TABLE
) -> tuple[dict[str, dt.datetime], dict[str, float], dict[str, str]]:
    """Watermarks, value densities (values per second read so far) and Stream Updates markers; empty on
    the first run. Densities let the planner balance partitions by expected values; a tag with a marker
    resumes following Stream Updates from it."""
    coverage = current_coverage(spark, table, bronze)
    if coverage is None:
        return {}, {}, {}
    marker = "marker" if "marker" in coverage.columns else "CAST(NULL AS STRING) AS marker"
    rows = (
        coverage.where("watermark IS NOT NULL")
        .selectExpr(
            "web_id",
            "unix_micros(watermark) AS micros",
            "rows_read / greatest(unix_seconds(watermark) - unix_seconds(coverage_start), 1) AS density",
            marker,
        )
        .collect()
    )
    return (
        {r.web_id: from_epoch_micros(r.micros) for r in rows},
        {r.web_id: float(r.density) for r in rows if r.density is not None},
        {r.web_id: r.marker for r in rows if r.marker},
    )
