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
import logging
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

log = logging.getLogger(__name__)

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
    is_window = F.col("record_kind") == "window"
    # regular windows read to completion move a tag's horizon, and with it its gold (changed_spans)
    moves = is_window & transforms.reread_id().isNull() & (F.col("status") == "ok")
    (bounds,) = batch.agg(
        F.count(F.when(is_value, 1)).alias("values"),
        F.count(F.when(is_window, 1)).alias("windows"),
        F.min(F.when(is_value, F.unix_micros("timestamp"))).alias("lo"),
        F.max(F.when(is_value, F.unix_micros("timestamp"))).alias("hi"),
        F.min(F.when(moves, F.unix_micros("window_start"))).alias("window_lo"),
        F.max(F.when(moves, F.unix_micros("window_end"))).alias("window_hi"),
    ).collect()
    lo = from_epoch_micros(bounds.lo) if bounds.values else None
    hi = from_epoch_micros(bounds.hi) if bounds.values else None
    reach = [from_epoch_micros(m) for m in (bounds.lo, bounds.hi, bounds.window_lo, bounds.window_hi) if m is not None]
    if batch_id == 0:
        rebuild_tables(spark, targets)
        load_first_batch(batch, targets, bounds.values, lo, hi, gold_check, max(reach, default=None))
        return
    former_gold = migrate_columns(spark, targets)
    if lo is not None and hi is not None:
        merge_silver(spark, transforms.silver_values(batch), targets.silver, lo, hi)
    if bounds.windows:
        merge_watermarks(spark, batch, targets.watermarks)
    if former_gold:
        recompute_gold(spark, targets, gold_check)
        return
    if reach:
        merge_gold(spark, batch, targets, min(reach), max(reach), gold_check)


def load_first_batch(
    batch: DataFrame,
    targets: Targets,
    values: int,
    lo: dt.datetime | None,
    hi: dt.datetime | None,
    gold_check=None,
    horizon: dt.datetime | None = None,
) -> None:
    """Micro-batch 0 into the three tables just emptied. Silver and the watermarks are appended from
    their folds, not merged (a backfill's first micro-batch holds its whole history; a merge would join it
    against nothing); gold, an hourly summary far smaller, goes through the same merge as later batches,
    so a fail rule stops it with its own message rather than as a failed write task. ``values``: how many
    value rows the batch holds; ``lo``/``hi``: its first and last value time (None: no values);
    ``horizon``: the latest end of the regular windows it read, which no watermark passes (gold's hours
    run up to the watermarks).

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
        spark = batch.sparkSession
        hourly = transforms.hourly_gold(spark.read.table(targets.silver), spark.read.table(targets.watermarks))
        end = max(hi, horizon or hi)
        upsert_gold(spark, hourly, targets.gold, hour_floor(lo), hour_floor(end) + HOUR, gold_check)


def batch_handler(targets: Targets, gold_check=None, assets=None):
    """The function Databricks' ForEachBatch sink calls with each micro-batch (``assets``: the
    ``assets_gold.AssetsGold`` view to make sure of, with AF)."""

    def handle(batch: DataFrame, batch_id: int) -> None:
        apply_batch(batch, batch_id, targets, gold_check)
        if assets is not None:
            assets.ensure(batch.sparkSession, replace=batch_id == 0)  # micro-batch 0 created gold anew

    return handle


def hourly_gold_schema(spark: SparkSession):
    empty = spark.createDataFrame([], SPARK_SCHEMA)
    return transforms.hourly_gold(transforms.silver_values(empty), transforms.watermarks(empty)).schema


#: columns added to a table after its layout was first created: (table role, column, type). A table
#: created before them gets them at the next micro-batch (:func:`migrate_columns`).
ADDED_COLUMNS = (
    ("watermarks", "step", "boolean"),
    ("watermarks", "marker", "string"),
    ("gold", "time_weighted_good_share", "double"),
    ("gold", "last_event_at", "timestamp"),
    ("gold", "last_event_value", "double"),
    ("gold", "last_event_good", "boolean"),
)


def migrate_columns(spark: SparkSession, targets: Targets) -> bool:
    """Add the columns of :data:`ADDED_COLUMNS` a table lacks; True when gold lacked ``last_event_at``: it
    was computed by the former rule (every point stepped, no boundary values) and must be recomputed."""
    former_gold = False
    for role, table in (("watermarks", targets.watermarks), ("gold", targets.gold)):
        present = {c.lower() for c in spark.read.table(table).columns}
        missing = [(c, t) for r, c, t in ADDED_COLUMNS if r == role and c not in present]
        if missing:
            spark.sql(f"ALTER TABLE {table} ADD COLUMNS ({', '.join(f'`{c}` {t}' for c, t in missing)})")
            former_gold = former_gold or (role == "gold" and "last_event_at" not in present)
    return former_gold


def recompute_gold(spark: SparkSession, targets: Targets, gold_check=None) -> None:
    """Gold recomputed from all of silver, once, after an upgrade from the former rule: the one update that
    reads all of silver, after this micro-batch's watermarks (and the tags' ``step``) are merged."""
    log.warning("%s: recomputing hourly gold from silver once, by PI's time-weighted rule", targets.gold)
    hourly = transforms.hourly_gold(spark.read.table(targets.silver), spark.read.table(targets.watermarks))
    if gold_check is not None:
        hourly = gold_check(hourly)
    spark.sql(f"DELETE FROM {targets.gold}")
    hourly.select(*transforms.GOLD_COLUMNS).writeTo(targets.gold).append()


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


def local(rows: DataFrame) -> DataFrame:
    """``rows`` computed once and held as a local relation (through Arrow, whose timestamps are instants):
    a few rows derived through joins of several tables, which a plan referring to them several times,
    or a MERGE in each of its passes over its source, would otherwise compute again, each time with its
    own scans."""
    return rows.sparkSession.createDataFrame(rows.toArrow(), rows.schema)


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


def merge_gold(
    spark: SparkSession, batch: DataFrame, targets: Targets, lo: dt.datetime, hi: dt.datetime, gold_check=None
) -> None:
    """Recompute gold for the hours the micro-batch may have changed and merge them. ``lo``/``hi``: the
    batch's earliest and latest value time or window bound.

    A tag's changed hours run from the hour of its last event before the batch's first time for it (the
    piece from that event on may now end elsewhere) to the hour after its latest time. Recomputing the
    first of them needs the line into it: the last event before it, which the gold row of the hour before
    carries (``last_event_*``), so silver is read from the first changed hour on only. For the rare tag
    whose last event lies further back than the hour before (it stayed silent), its own stretch is read
    separately, so one silent tag does not widen every tag's read of silver."""
    spans = local(changed_spans(spark, batch, targets.gold, lo, hi))  # read below five times: computed once
    (row,) = spans.agg(F.min(F.unix_micros("start_hour")).alias("first")).collect()
    if row.first is None:
        return
    first = from_epoch_micros(row.first)
    usual = hour_floor(lo) - HOUR
    end = hour_floor(hi) + 2 * HOUR
    silver = spark.read.table(targets.silver)
    read = silver.where((F.col("timestamp") >= F.lit(max(first, usual))) & (F.col("timestamp") < F.lit(end)))
    if first < usual:
        silent = spans.where(F.col("start_hour") < F.lit(usual)).select("web_id")
        earlier = silver.where((F.col("timestamp") >= F.lit(first)) & (F.col("timestamp") < F.lit(usual)))
        read = read.unionByName(earlier.join(silent, "web_id", "left_semi"))
    events = read.join(spans.select("web_id", "start_hour"), "web_id").where(F.col("timestamp") >= F.col("start_hour"))
    carried = (
        spark.read.table(targets.gold)
        .where(F.col("hour").between(F.lit(first - HOUR), F.lit(hour_floor(hi))))
        .join(
            spans.select("web_id", (F.col("start_hour") - F.expr("INTERVAL 1 HOUR")).alias("hour")), ["web_id", "hour"]
        )
        .where(F.col("last_event_at").isNotNull())
        .select(
            "web_id",
            F.col("last_event_at").alias("timestamp"),
            F.lit(0).alias("sequence"),
            F.col("last_event_value").alias("number"),
            F.col("last_event_good").alias("good"),
        )
    )
    marks = spark.read.table(targets.watermarks).join(spans.select("web_id"), "web_id", "left_semi")
    hourly = (
        transforms.hourly_gold(events.drop("start_hour"), marks, carried)
        .join(spans, "web_id")
        .where(F.col("hour").between(F.col("start_hour"), F.col("end_hour")))
        .select(*transforms.GOLD_COLUMNS)
    )
    upsert_gold(spark, hourly, targets.gold, first, end, gold_check)


def changed_spans(spark: SparkSession, batch: DataFrame, gold: str, lo: dt.datetime, hi: dt.datetime) -> DataFrame:
    """Per tag the micro-batch touched (a value, or a regular window that moved its horizon): the first and
    last hour whose gold it may change (``start_hour``: the hour of the tag's last event before the batch's
    first time for it, as the gold row of the hour before that time carries it; ``end_hour``)."""
    values = batch.where(F.col("record_kind") == "value").select(
        "web_id", F.col("timestamp").alias("lo"), F.col("timestamp").alias("hi")
    )
    windows = transforms.regular_windows(batch).where(F.col("status") == "ok")
    reach = values.unionByName(
        windows.select("web_id", F.col("window_start").alias("lo"), F.col("window_end").alias("hi"))
    )
    spans = reach.groupBy("web_id").agg(
        hour_start(F.min("lo")).alias("from_hour"),
        (hour_start(F.max("hi")) + F.expr("INTERVAL 1 HOUR")).alias("end_hour"),
    )
    before = (
        spark.read.table(gold)
        .where(F.col("hour").between(F.lit(hour_floor(lo) - HOUR), F.lit(hour_floor(hi))))
        .select("web_id", (F.col("hour") + F.expr("INTERVAL 1 HOUR")).alias("from_hour"), "last_event_at")
    )
    return spans.join(before, ["web_id", "from_hour"], "left").select(
        "web_id",
        F.coalesce(hour_start("last_event_at"), F.col("from_hour")).alias("start_hour"),
        "end_hour",
    )


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
    # read three times by the fold: computed once
    state = local(spark.read.table(table).join(windows.select("web_id").distinct(), "web_id", "left_semi"))
    merge_view(
        spark,
        transforms.extend_watermarks(state, windows),
        f"""
        MERGE INTO {table} t USING {{source}} s ON t.web_id = s.web_id
        WHEN MATCHED THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *""",
    )
