"""DataFrame transformations behind the pipeline tables. Pure functions of their inputs, so they are
tested with chispa on a local Spark and called unchanged by the pipeline files."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ..values import TYPED_FIELDS
from . import time_weighted

VALUE_COLUMNS = (
    *TYPED_FIELDS,
    "errors",
    "point_type",
    "digital_set",
    "timestamp_raw",
)
KEY = ("web_id", "timestamp", "sequence")


def silver_values(bronze: DataFrame) -> DataFrame:
    """One row per (tag, timestamp, sequence) with the latest value the server reported; a value the
    server could not produce (``value_type = 'error'``) is kept only while no read returned the value
    itself, so a transient per-value error never hides a real value read before or after it.

    ``is_late`` marks values first seen in a re-read (lookback) window although their time was already
    covered by an earlier read: they arrived in PI after that read (buffered interfaces, edits).
    ``extracted_at`` is when the read that reported the kept value ran. Every column is a fold that gives
    the same answer whether the reads arrive at once or one micro-batch at a time, and again when a
    micro-batch is applied twice (``curation`` keeps silver up to date that way).
    """
    values = bronze.where(F.col("record_kind") == "value")
    latest = F.max_by(F.struct(*[F.col(c) for c in ("tag", *VALUE_COLUMNS, "extracted_at")]), preference())
    grouped = values.groupBy(*KEY).agg(
        latest.alias("v"),
        F.min("extracted_at").alias("first_seen_at"),
        F.max("extracted_at").alias("last_seen_at"),
        F.min_by("prior_watermark", "extracted_at").alias("first_prior_watermark"),
    )
    return grouped.select(
        F.col("v.tag").alias("tag"),
        "web_id",
        "timestamp",
        "sequence",
        *[F.col(f"v.{c}").alias(c) for c in VALUE_COLUMNS],
        (F.col("first_prior_watermark").isNotNull() & (F.col("timestamp") <= F.col("first_prior_watermark"))).alias(
            "is_late"
        ),
        F.col("v.extracted_at").alias("extracted_at"),
        "first_seen_at",
        "last_seen_at",
    )


def preference() -> Column:
    """Which report of a value silver keeps: a real value before a per-value error, then the latest read."""
    return F.struct((F.col("value_type") != "error").alias("real"), F.col("extracted_at").alias("at"))


def watermarks(bronze: DataFrame) -> DataFrame:
    """Per tag, how far bronze durably holds every value: the end of the contiguous run of completed
    windows that starts at the tag's first completed window. A failed window leaves a gap, so the
    watermark stops before it even if later windows succeeded; the next update re-reads from there.
    Windows of re-read requests do not count: they may lie anywhere in time (docs/state.md).
    ``failing_since``: when the tag's reads started failing, null while its last read succeeded."""
    windows = regular_windows(bronze)
    return (
        last_reads(windows)
        .join(coverage(windows.where(F.col("status") == "ok")), "web_id", "left")
        .select(*WATERMARK_COLUMNS)
    )


WATERMARK_COLUMNS = (
    "web_id",
    "tag",
    "point_type",
    "step",
    "marker",
    "coverage_start",
    "watermark",
    "last_status",
    "last_error",
    "last_window_end",
    "rows_read",
    "failing_since",
    "updated_at",
)


def regular_windows(bronze: DataFrame) -> DataFrame:
    """The completion records of the regular stream (not of re-read requests)."""
    return bronze.where((F.col("record_kind") == "window") & reread_id().isNull())


def coverage(ok: DataFrame) -> DataFrame:
    """The island rule over completed windows: per tag, the first window's start, the end of the run of
    windows contiguous with it, and the values they read."""
    order = Window.partitionBy("web_id").orderBy("window_start", "window_end")
    reach = F.max("window_end").over(order.rowsBetween(Window.unboundedPreceding, -1))
    islands = (
        ok.withColumn("reach_before", reach)
        .withColumn("gap", F.when(F.col("window_start") > F.col("reach_before"), 1).otherwise(0))
        .withColumn("island", F.sum("gap").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    )
    return (
        islands.where(F.col("island") == 0)
        .groupBy("web_id")
        .agg(
            F.min("window_start").alias("coverage_start"),
            F.max("window_end").alias("watermark"),
            F.sum("value_count").alias("rows_read"),
        )
    )


def last_reads(windows: DataFrame) -> DataFrame:
    """Per tag, its latest read (status, error, window end) and since when its reads have been failing."""
    last_ok = F.max(F.when(F.col("status") == "ok", F.col("extracted_at"))).over(Window.partitionBy("web_id"))
    failed_after_ok = F.when(
        (F.col("status") == "failed") & (F.col("last_ok").isNull() | (F.col("extracted_at") > F.col("last_ok"))),
        F.col("extracted_at"),
    )
    return (
        windows.withColumn("last_ok", last_ok)
        .withColumn("failed_after_ok", failed_after_ok)
        .groupBy("web_id")
        .agg(
            F.max_by(
                F.struct(
                    "tag",
                    "status",
                    "error",
                    "window_end",
                    "point_type",
                    step_of().alias("step"),
                    marker_of().alias("marker"),
                ),
                "extracted_at",
            ).alias("l"),
            F.max("extracted_at").alias("updated_at"),
            F.max("last_ok").alias("last_ok_at"),
            F.min("failed_after_ok").alias("failing_since"),
        )
        .select(
            "web_id",
            F.col("l.tag").alias("tag"),
            F.col("l.point_type").alias("point_type"),
            F.col("l.step").alias("step"),
            F.col("l.marker").alias("marker"),
            F.col("l.status").alias("last_status"),
            F.col("l.error").alias("last_error"),
            F.col("l.window_end").alias("last_window_end"),
            "failing_since",
            "last_ok_at",
            "updated_at",
        )
    )


def extend_watermarks(state: DataFrame, bronze: DataFrame) -> DataFrame:
    """The watermark rows of the tags ``bronze`` (a micro-batch) read, folded into their current rows
    ``state``: the coverage so far enters the island rule as one completed window, so a watermark moves
    only over windows contiguous with it. Applying the same micro-batch twice changes nothing: its
    windows are inside the coverage by then (their values are not counted again) and its reads are not
    newer than the state's."""
    windows = regular_windows(bronze)
    carried = state.where(F.col("watermark").isNotNull()).select(
        "web_id",
        F.col("coverage_start").alias("window_start"),
        F.col("watermark").alias("window_end"),
        F.col("rows_read").alias("value_count"),
    )
    reach = state.select("web_id", F.col("watermark").alias("carried_watermark"))
    fresh = (
        windows.where(F.col("status") == "ok")
        .join(reach, "web_id", "left")
        .select(
            "web_id",
            "window_start",
            "window_end",
            F.when(
                F.col("carried_watermark").isNull() | (F.col("window_end") > F.col("carried_watermark")),
                F.col("value_count"),
            )
            .otherwise(F.lit(0))
            .alias("value_count"),
        )
    )
    covered = coverage(carried.unionByName(fresh))
    batch = last_reads(windows).alias("b")
    old = state.alias("s")
    newer = F.col("s.updated_at").isNull() | (F.col("b.updated_at") >= F.col("s.updated_at"))

    def pick(name: str) -> Column:
        return F.when(newer, F.col(f"b.{name}")).otherwise(F.col(f"s.{name}")).alias(name)

    # failing since: unchanged by a replay; none after a good read; else since the failures after the
    # batch's own good read, or since the state's (still failing) or this batch's first failure
    failing = (
        F.when(~newer, F.col("s.failing_since"))
        .when(F.col("b.last_status") == "ok", F.lit(None))
        .when(F.col("b.last_ok_at").isNotNull(), F.col("b.failing_since"))
        .otherwise(F.coalesce("s.failing_since", "b.failing_since"))
    )
    merged = batch.join(old, F.col("b.web_id") == F.col("s.web_id"), "left").select(
        F.col("b.web_id").alias("web_id"),
        pick("tag"),
        pick("point_type"),
        F.coalesce(pick("step"), F.col("s.step")).alias("step"),
        pick("marker"),
        pick("last_status"),
        pick("last_error"),
        pick("last_window_end"),
        failing.alias("failing_since"),
        F.greatest("b.updated_at", "s.updated_at").alias("updated_at"),
    )
    return merged.join(covered, "web_id", "left").select(*WATERMARK_COLUMNS)


def marker_of() -> Column:
    """The Stream Updates marker that continues after the window (null: the tag is read with recorded)."""
    return F.get_json_object(F.col("raw"), "$.marker")


def step_of() -> Column:
    """The tag's ``Step`` attribute as its read found it (null when the server did not say)."""
    return F.get_json_object(F.col("raw"), "$.step").cast("boolean")


def reread_id() -> Column:
    """The re-read request a completion record served (null for the regular stream's windows)."""
    return F.get_json_object(F.col("raw"), "$.reread")


def extraction_log(bronze: DataFrame) -> DataFrame:
    """Every tag window read, with its status and error, and the re-read request it served."""
    return bronze.where(F.col("record_kind") == "window").select(
        "web_id",
        "tag",
        "window_start",
        "window_end",
        "prior_watermark",
        "status",
        "error",
        "value_count",
        reread_id().alias("reread_id"),
        "extracted_at",
    )


def quarantine(bronze: DataFrame) -> DataFrame:
    """The payloads that could not be parsed, with their context."""
    return bronze.where(F.col("record_kind") == "quarantine").select(
        "web_id", "tag", "window_start", "window_end", "timestamp", "sequence", "error", "raw", "extracted_at"
    )


#: pi_hourly_gold's columns, in table order
GOLD_COLUMNS = (
    "web_id",
    "tag",
    "hour",
    "count",
    "good_numeric_count",
    "min",
    "max",
    "mean",
    "time_weighted_mean",
    "first",
    "last",
    "good_share",
    "units",
    "time_weighted_good_share",
    "last_event_at",
    "last_event_value",
    "last_event_good",
)


def hourly_gold(silver: DataFrame, watermarks: DataFrame, carried: DataFrame | None = None) -> DataFrame:
    """Gold rows: per tag and hour, the statistics of the hour's events and PI's time-weighted mean and
    good share (:func:`.time_weighted.hourly`), for every hour from a tag's first event to its watermark,
    hours without events of their own included (their event counts are 0). Hours are UTC hours whatever
    the session's zone.

    The event statistics: ``count`` counts every event of the hour (any type or quality);
    min/max/mean/first/last use good numeric values only; ``good_share`` is the share of the hour's events
    that were good. They are aggregated over the same pieces as the time-weighted ones (each event's piece
    in its own hour), so silver and the watermarks are read once.

    ``watermarks``: the tags' rows of ``pi_watermarks`` (their ``step`` and ``watermark``, how far their
    events are known). ``carried``: per tag, the last event before ``silver``'s rows (as
    :func:`.time_weighted.events_of` gives events), when ``silver`` is a stretch of a tag's history: the
    line into the stretch starts there; the hours before the stretch come out partial, for the caller to
    drop."""
    tags = watermarks.select("web_id", "step", F.col("watermark").alias("until"), F.col("tag").alias("known_tag"))
    events = time_weighted.events_of(silver, "tag", "units", F.lit(True).alias("own"))
    if carried is not None:
        events = events.unionByName(carried.select("*", F.lit(False).alias("own")), allowMissingColumns=True)
    own = F.col("own_hour") & F.col("own")
    number = F.when(own, F.col("number"))
    at = F.when(own & F.col("number").isNotNull(), F.struct("timestamp", "sequence"))
    count = F.count(F.when(own, 1))
    good = F.sum(F.when(own, F.col("good").cast("int")))
    weighted = time_weighted.hourly(
        events,
        tags,
        count=count,
        good_numeric_count=F.count(number),
        min=F.min(number),
        max=F.max(number),
        mean=F.avg(number),
        first=F.min_by(number, at),
        last=F.max_by(number, at),
        good_share=F.when(count > 0, good / count),
        units=F.first(F.when(own, F.col("units")), ignorenulls=True),
        tag=F.coalesce(F.first(F.when(own, F.col("tag")), ignorenulls=True), F.first("known_tag", ignorenulls=True)),
    )
    return weighted.select(*GOLD_COLUMNS)
