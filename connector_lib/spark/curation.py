"""Silver, the watermarks and hourly gold, kept up to date from each micro-batch of bronze.

An update's work follows the rows it read, not the history held: :func:`apply_batch` merges one
micro-batch of bronze into ``pi_timeseries_silver`` (the keys it carries), ``pi_watermarks`` (the tags it
read, from their completion records) and ``pi_hourly_gold`` (the hours whose values it touched, with the
hour on either side). It runs as the pipeline's ForEachBatch sink on Databricks and through the local sink
(``curation_sink``) on open-source Spark Declarative Pipelines, which has no ForEachBatch sink: one function,
so both engines produce the same tables.

Why not AUTO CDC: SCD type 1 keeps, per key, the columns of the event with the highest sequence, but silver
also keeps what the *first* read of a value said (``is_late``: whether the value was there when its time
was first read; ``first_seen_at``), which no single event carries; ``ignore_null_updates`` could keep those
only if every other column were never null, and value columns are null by design (``value_double`` of a
digital state). Why not materialized views: open-source SDP recomputes them from all of their input, and
the island rule of the watermarks and gold's per-tag event order need window functions that Databricks
refreshes incrementally only per whole partition (a whole tag's history).

Every merge is idempotent, so a micro-batch applied twice (a crash after the merge, before the stream's
checkpoint) changes nothing: silver folds with least/greatest and "keep the newer report", the watermark
fold counts a window's values only when it extends the coverage, gold recomputes whole hours. Micro-batch 0
starts a new checkpoint (first update, full refresh, or the upgrade from the materialized-view layout), so
the three tables are dropped and rebuilt from the stream, which then starts at bronze's first row: silver
and the watermarks are written from it, not merged (it may hold years of history, and the tables are
empty), gold is merged like any other batch's.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..bronze import SPARK_SCHEMA
from ..timeutil import as_utc, from_epoch_micros
from . import transforms
from .state import WATERMARK_TABLE, qualified
from .utc import hour_start

#: the layout these tables follow; recorded in their properties so a later layout can migrate them
LAYOUT_VERSION = "2"
LAYOUT_PROPERTY = "osipi.layout"
SILVER_TABLE, GOLD_TABLE = "pi_timeseries_silver", "pi_hourly_gold"
#: rows of one silver file written by micro-batch 0 (a time slice of every tag)
SILVER_ROWS_PER_FILE = 2_000_000
SINK_NAME = "pi_curation_sink"
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Targets:
    """Qualified names of the tables a micro-batch is merged into."""

    silver: str
    watermarks: str
    gold: str

    @classmethod
    def in_schema(cls, schema: str) -> Targets:
        return cls(qualified(schema, SILVER_TABLE), qualified(schema, WATERMARK_TABLE), qualified(schema, GOLD_TABLE))

    def all(self) -> tuple[str, str, str]:
        return (self.silver, self.watermarks, self.gold)


def apply_batch(batch: DataFrame, batch_id: int, targets: Targets, gold_check=None) -> None:
    """Merge one micro-batch of bronze rows into silver, the watermarks and gold (micro-batch 0: rebuild
    them from it). ``gold_check``: applied to the recomputed gold rows before they are merged (the table's
    fail rules)."""
    spark = batch.sparkSession
    is_value = F.col("record_kind") == "value"
    (bounds,) = batch.agg(
        F.count(F.when(is_value, 1)).alias("values"),
        F.count(F.when(F.col("record_kind") == "window", 1)).alias("windows"),
        F.min(F.when(is_value, F.unix_micros("timestamp"))).alias("lo"),
        F.max(F.when(is_value, F.unix_micros("timestamp"))).alias("hi"),
    ).collect()
    lo = from_epoch_micros(bounds.lo) if bounds.values else None
    hi = from_epoch_micros(bounds.hi) if bounds.values else None
    if batch_id == 0:
        rebuild_tables(spark, targets)
        load_first_batch(batch, targets, bounds.values, lo, hi, gold_check)
        return
    if lo is not None and hi is not None:
        merge_silver(spark, transforms.silver_values(batch), targets.silver, lo, hi)
        merge_gold(spark, batch.where(is_value), targets, lo, hi, gold_check)
    if bounds.windows:
        merge_watermarks(spark, batch, targets.watermarks)


def load_first_batch(
    batch: DataFrame, targets: Targets, values: int, lo: dt.datetime | None, hi: dt.datetime | None, gold_check=None
) -> None:
    """Micro-batch 0 into the three tables just emptied. Silver and the watermarks are appended from
    their folds, not merged (a backfill's first micro-batch holds its whole history; a merge would join it
    against nothing); gold, an hourly summary far smaller, goes through the same merge as later batches,
    so a fail rule stops it with its own message rather than as a failed write task. ``values``: how many
    value rows the batch holds; ``lo``/``hi``: its first and last value time (None: no values).

    Silver is written in time slices of about :data:`SILVER_ROWS_PER_FILE` rows, each sorted by tag:
    a later merge joins on its own time range, and a file spanning the whole history would overlap
    every range, so every update with a lookback would read all of it; within a slice a tag's rows sit
    together, so a query for one tag skips most of each file's row groups."""
    slices = max(1, math.ceil(values / SILVER_ROWS_PER_FILE))
    (
        transforms.silver_values(batch.repartitionByRange(slices, "timestamp"))
        .sortWithinPartitions("web_id", "timestamp")
        .writeTo(targets.silver)
        .append()
    )
    transforms.watermarks(batch).writeTo(targets.watermarks).append()
    if lo is not None and hi is not None:
        hourly = transforms.hourly_aggregates(batch.sparkSession.read.table(targets.silver))
        upsert_gold(batch.sparkSession, hourly, targets.gold, hour_floor(lo), hour_floor(hi) + HOUR, gold_check)


def batch_handler(targets: Targets, gold_check=None, assets=None):
    """The function Databricks' ForEachBatch sink calls with each micro-batch (``assets``: the
    ``assets_gold.AssetsGold`` view to make sure of, with AF)."""

    def handle(batch: DataFrame, batch_id: int) -> None:
        apply_batch(batch, batch_id, targets, gold_check)
        if assets is not None:
            assets.ensure(batch.sparkSession, replace=batch_id == 0)  # micro-batch 0 created gold anew

    return handle


def hourly_gold_schema(spark: SparkSession):
    return transforms.hourly_aggregates(transforms.silver_values(spark.createDataFrame([], SPARK_SCHEMA))).schema


def rebuild_tables(spark: SparkSession, targets: Targets) -> None:
    """The three tables, dropped and created empty, at the start of a stream: clustered by tag and time (a
    tag's range reads few files, and so do the merges), with deletion vectors (a merge marks replaced rows
    instead of rewriting their files) and the layout version."""
    empty = spark.createDataFrame([], SPARK_SCHEMA)
    row_tracking = {"delta.enableRowTracking": "true"}  # Databricks refreshes the views over gold incrementally
    schemas = {
        targets.silver: (transforms.silver_values(empty).schema, ("web_id", "timestamp"), {}),
        targets.watermarks: (transforms.watermarks(empty).schema, (), {}),
        targets.gold: (hourly_gold_schema(spark), ("web_id", "hour"), row_tracking),
    }
    for table, (schema, cluster, extra) in schemas.items():
        create_merged_table(spark, table, schema, cluster, extra)


def create_merged_table(
    spark: SparkSession, table: str, schema, cluster: tuple[str, ...] = (), properties: dict[str, str] | None = None
) -> None:
    """A table the pipeline merges into, dropped and created empty: deletion vectors (a merge marks replaced
    rows instead of rewriting their files), the layout version, optional clustering and properties."""
    columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)
    clustering = f" CLUSTER BY ({', '.join(f'`{c}`' for c in cluster)})" if cluster else ""
    listed = ", ".join(
        f"'{k}' = '{v}'"
        for k, v in {
            "delta.enableDeletionVectors": "true",
            LAYOUT_PROPERTY: LAYOUT_VERSION,
            **(properties or {}),
        }.items()
    )
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    spark.sql(f"CREATE TABLE {table} ({columns}) USING delta{clustering} TBLPROPERTIES ({listed})")


def _timestamp(value: dt.datetime) -> str:
    return f"TIMESTAMP '{as_utc(value).isoformat()}'"


def merge_view(spark: SparkSession, source: DataFrame, statement: str) -> None:
    """Run ``statement`` with ``{source}`` as a session view of ``source`` (SQL MERGE: Delta does not take
    the DataFrame merge API)."""
    view = f"pi_curation_{uuid.uuid4().hex}"
    source.createOrReplaceTempView(view)
    try:
        spark.sql(statement.format(source=view))
    finally:
        spark.catalog.dropTempView(view)


def merge_silver(spark: SparkSession, changes: DataFrame, table: str, lo: dt.datetime, hi: dt.datetime) -> None:
    """Fold the micro-batch's values (``transforms.silver_values`` of it: one row per key) into silver.
    The time range in the join lets Delta skip every file outside the micro-batch's values."""
    # transforms.preference: a real value before a per-value error, then the latest read
    newer = "struct(s.value_type <> 'error', s.extracted_at) > struct(t.value_type <> 'error', t.extracted_at)"
    reported = ("tag", *transforms.VALUE_COLUMNS, "extracted_at")
    updates = [f"t.`{c}` = CASE WHEN {newer} THEN s.`{c}` ELSE t.`{c}` END" for c in reported]
    updates += [
        "t.is_late = CASE WHEN s.first_seen_at < t.first_seen_at THEN s.is_late ELSE t.is_late END",
        "t.first_seen_at = least(t.first_seen_at, s.first_seen_at)",
        "t.last_seen_at = greatest(t.last_seen_at, s.last_seen_at)",
    ]
    merge_view(
        spark,
        changes,
        f"""
        MERGE INTO {table} t USING {{source}} s
        ON t.web_id = s.web_id AND t.timestamp = s.timestamp AND t.sequence = s.sequence
           AND t.timestamp BETWEEN {_timestamp(lo)} AND {_timestamp(hi)}
        WHEN MATCHED AND (({newer}) OR s.first_seen_at < t.first_seen_at OR s.last_seen_at > t.last_seen_at)
          THEN UPDATE SET {", ".join(updates)}
        WHEN NOT MATCHED THEN INSERT *""",
    )


def touched_hours(values: DataFrame) -> DataFrame:
    """The (tag, hour) pairs whose gold may change: the hours of the micro-batch's values and the hour on
    either side (a value held or interpolated across an hour boundary weighs in its neighbour)."""
    hours = values.select("web_id", hour_start("timestamp").alias("hour")).distinct()
    return (
        hours.unionByName(hours.select("web_id", (F.col("hour") - F.expr("INTERVAL 1 HOUR")).alias("hour")))
        .unionByName(hours.select("web_id", (F.col("hour") + F.expr("INTERVAL 1 HOUR")).alias("hour")))
        .distinct()
    )


def merge_gold(
    spark: SparkSession, values: DataFrame, targets: Targets, lo: dt.datetime, hi: dt.datetime, gold_check=None
) -> None:
    """Recompute gold for the touched hours from silver (as merged) and merge them: silver is read only
    over the micro-batch's time range, widened to whole hours and their neighbours."""
    first = hour_floor(lo) - HOUR
    end = hour_floor(hi) + 2 * HOUR
    touched = touched_hours(values)
    silver = (
        spark.read.table(targets.silver)
        .where((F.col("timestamp") >= F.lit(first)) & (F.col("timestamp") < F.lit(end)))
        .join(touched.select("web_id").distinct(), "web_id", "left_semi")
    )
    hourly = transforms.hourly_aggregates(silver).join(touched, ["web_id", "hour"], "left_semi")
    upsert_gold(spark, hourly, targets.gold, first, end, gold_check)


def upsert_gold(
    spark: SparkSession, hourly: DataFrame, table: str, first: dt.datetime, end: dt.datetime, gold_check=None
) -> None:
    """Merge recomputed hours (all within [first, end]) into gold, after its fail and drop rules."""
    if gold_check is not None:
        hourly = gold_check(hourly)
    merge_view(
        spark,
        hourly,
        f"""
        MERGE INTO {table} t USING {{source}} s
        ON t.web_id = s.web_id AND t.hour = s.hour AND t.hour BETWEEN {_timestamp(first)} AND {_timestamp(end)}
        WHEN MATCHED THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *""",
    )


def hour_floor(value: dt.datetime) -> dt.datetime:
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def merge_watermarks(spark: SparkSession, batch: DataFrame, table: str) -> None:
    """Fold the micro-batch's completion records into the watermarks of the tags it read (a few rows per
    tag: the state table holds one row per tag)."""
    windows = batch.where(F.col("record_kind") == "window")
    state = spark.read.table(table).join(windows.select("web_id").distinct(), "web_id", "left_semi")
    merge_view(
        spark,
        transforms.extend_watermarks(state, windows),
        f"""
        MERGE INTO {table} t USING {{source}} s ON t.web_id = s.web_id
        WHEN MATCHED THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *""",
    )
