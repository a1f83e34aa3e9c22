"""DataFrame transformations behind the pipeline tables. Pure functions of their inputs, so they are
tested with chispa on a local Spark and called unchanged by the pipeline files."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .utc import hour_start

VALUE_COLUMNS = (
    "value_type", "value_double", "value_string", "state_code", "state_name", "is_system", "good",
    "questionable", "substituted", "annotated", "units", "errors", "point_type", "digital_set",
    "timestamp_raw",
)
KEY = ("web_id", "timestamp", "sequence")


def silver_values(bronze: DataFrame) -> DataFrame:
    """One row per (tag, timestamp, sequence) with the latest value the server reported; a value the
    server could not produce (``value_type = 'error'``) is kept only while no read returned the value
    itself, so a transient per-value error never hides a real value read before or after it.

    ``is_late`` marks values first seen in a re-read (lookback) window although their time was already
    covered by an earlier read: they arrived in PI after that read (buffered interfaces, edits).
    """
    values = bronze.where(F.col("record_kind") == "value")
    preference = F.struct((F.col("value_type") != "error").alias("real"), F.col("extracted_at").alias("at"))
    latest = F.max_by(F.struct(*[F.col(c) for c in ("tag", *VALUE_COLUMNS)]), preference)
    grouped = values.groupBy(*KEY).agg(
        latest.alias("v"),
        F.min("extracted_at").alias("first_seen_at"),
        F.max("extracted_at").alias("last_seen_at"),
        F.min_by("prior_watermark", "extracted_at").alias("first_prior_watermark"),
        F.count(F.lit(1)).alias("times_read"),
    )
    return grouped.select(
        F.col("v.tag").alias("tag"), "web_id", "timestamp", "sequence",
        *[F.col(f"v.{c}").alias(c) for c in VALUE_COLUMNS],
        (F.col("first_prior_watermark").isNotNull()
         & (F.col("timestamp") <= F.col("first_prior_watermark"))).alias("is_late"),
        "first_seen_at", "last_seen_at", "times_read",
    )


def watermarks(bronze: DataFrame) -> DataFrame:
    """Per tag, how far bronze durably holds every value: the end of the contiguous run of completed
    windows that starts at the tag's first completed window. A failed window leaves a gap, so the
    watermark stops before it even if later windows succeeded; the next update re-reads from there.
    Windows of re-read requests do not count: they may lie anywhere in time (docs/state.md)."""
    windows = bronze.where((F.col("record_kind") == "window") & reread_id().isNull())
    ok = windows.where(F.col("status") == "ok")
    order = Window.partitionBy("web_id").orderBy("window_start", "window_end")
    reach = F.max("window_end").over(order.rowsBetween(Window.unboundedPreceding, -1))
    islands = (ok.withColumn("reach_before", reach)
               .withColumn("gap", F.when(F.col("window_start") > F.col("reach_before"), 1).otherwise(0))
               .withColumn("island", F.sum("gap").over(order.rowsBetween(Window.unboundedPreceding, 0))))
    covered = (islands.where(F.col("island") == 0).groupBy("web_id")
               .agg(F.min("window_start").alias("coverage_start"), F.max("window_end").alias("watermark"),
                    F.sum("value_count").alias("rows_read")))
    last = (windows.groupBy("web_id")
            .agg(F.max_by(F.struct("tag", "status", "error", "window_end", "point_type"), "extracted_at").alias("l"),
                 F.max("extracted_at").alias("updated_at"),
                 F.sum(F.when(F.col("status") == "failed", 1).otherwise(0)).alias("failed_windows")))
    return (last.join(covered, "web_id", "left")
            .select("web_id", F.col("l.tag").alias("tag"), F.col("l.point_type").alias("point_type"),
                    "coverage_start", "watermark", F.col("l.status").alias("last_status"),
                    F.col("l.error").alias("last_error"), F.col("l.window_end").alias("last_window_end"),
                    "rows_read", "failed_windows", "updated_at"))


def reread_id() -> Column:
    """The re-read request a completion record served (null for the regular stream's windows)."""
    return F.get_json_object(F.col("raw"), "$.reread")


def extraction_log(bronze: DataFrame) -> DataFrame:
    """Every tag window read, with its status and error, and the re-read request it served."""
    return (bronze.where(F.col("record_kind") == "window")
            .select("web_id", "tag", "window_start", "window_end", "prior_watermark", "status", "error",
                    "value_count", reread_id().alias("reread_id"), "extracted_at"))


def hourly_aggregates(silver: DataFrame) -> DataFrame:
    """Hourly statistics per tag over numeric values, in UTC hours whatever the session's time zone.

    ``count`` counts every event of the hour (any type or quality); min/max/mean/first/last and the
    time-weighted mean use good numeric values only. A value holds until the tag's next event (PI step
    semantics), cut at the hour's end; the stretch before the hour's first event is not included.
    """
    by_tag = Window.partitionBy("web_id").orderBy("timestamp", "sequence")
    events = (silver
              .withColumn("hour", hour_start("timestamp"))
              .withColumn("next_ts", F.lead("timestamp").over(by_tag)))
    hour_end = F.col("hour") + F.expr("INTERVAL 1 HOUR")
    until = F.least(F.coalesce(F.col("next_ts"), hour_end), hour_end)
    usable = (F.col("value_type") == "number") & F.col("good")
    seconds = F.when(usable, F.unix_micros(until) - F.unix_micros("timestamp")) / F.lit(1e6)
    num = F.when(usable, F.col("value_double"))
    return (events
            .withColumn("held_s", seconds)
            .groupBy("web_id", "tag", "hour")
            .agg(F.count(F.lit(1)).alias("count"),
                 F.count(num).alias("good_numeric_count"),
                 F.min(num).alias("min"), F.max(num).alias("max"), F.avg(num).alias("mean"),
                 (F.sum(num * F.col("held_s")) / F.sum("held_s")).alias("time_weighted_mean"),
                 F.min_by(num, F.when(usable, F.col("timestamp"))).alias("first"),
                 F.max_by(num, F.when(usable, F.col("timestamp"))).alias("last"),
                 (F.sum(F.col("good").cast("int")) / F.count(F.lit(1))).alias("good_share"),
                 F.first("units", ignorenulls=True).alias("units")))
