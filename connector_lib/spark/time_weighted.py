"""Hourly time-weighted statistics by PI's TimeWeighted rule, the numbers PI's own ``summary`` gives.

PI weights each value by the time it applies: between two events a continuous point (``Step`` off) follows
the straight line from one to the next, a stepped point (and every digital or text point) holds the earlier
value; an hour's boundaries get values interpolated from the events on either side, so an hour without
an event of its own still has a mean when events lie on both sides; bad values (system states) and time
without any data (before the tag's first event) are left out, and the share of the hour that was good is
PI's ``PercentGood`` / 100. Where PI's reference is silent the simulator's calculation module states the
rule followed, and this module follows the same (a bad event makes the time up to the next event bad; the
good value before a bad event holds up to it; of several events on one timestamp the first ends the line
arriving there and the last starts the next one).

The computation cuts a tag's history into *pieces*, one per event, from it to the next event (or, after
the tag's last known event, to ``until``: the tag's watermark, beyond which nothing is known yet), spreads
each piece over the hours it overlaps and integrates it there. A piece that spans many hours (a tag that
stayed silent) gives each of those hours its share, so the cost follows pieces and hours, not the data
before them. Each hour also carries the last event that started before its end (``last_event_*``): the
one event a later update needs to continue the line across the hour boundary without reading older data.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: what :func:`hourly` returns per (web_id, hour)
COLUMNS = (
    "web_id",
    "hour",
    "time_weighted_mean",
    "time_weighted_good_share",
    "last_event_at",
    "last_event_value",
    "last_event_good",
)
_MICROS_PER_HOUR = 3_600_000_000


def is_good() -> Column:
    """Whether a silver value is good: its ``good`` flag, or, when the server sent none, whether it is a
    value at all (not a system state or a per-value error)."""
    return F.coalesce(F.col("good"), ~F.col("value_type").isin("system", "error")) & (F.col("value_type") != "error")


def events_of(silver: DataFrame, *keep: Column | str) -> DataFrame:
    """Silver rows as the events the pieces start from: ``number`` (a good numeric value, else null) and
    ``good`` (not a bad value: the time it applies counts as good), with the columns of ``keep``."""
    good = is_good()
    number = F.when(good & (F.col("value_type") == "number"), F.col("value_double"))
    return silver.select("web_id", "timestamp", "sequence", number.alias("number"), good.alias("good"), *keep)


def hourly(events: DataFrame, tags: DataFrame, **also: Column) -> DataFrame:
    """Per tag and hour overlapped by its pieces: the time-weighted mean of its good numeric values, the
    share of the known part of the hour that was good, and the last event started before the hour's end.

    ``events``: ``web_id, timestamp, sequence, number, good`` (:func:`events_of`), a tag's events in a
    contiguous stretch of time (the caller puts the last event before that stretch first, so the line
    into it is known), with any further columns. ``tags``: ``web_id, step, until`` (``until``: how far the
    tag's events are known; a tag without it ends at its last event), with any further columns. Hours are
    UTC hours whatever the session's zone.

    ``also``: more aggregates of each hour, by output name, over the hour's pieces; a piece carries its
    event's and its tag's columns and ``own_hour``, whether the hour is the one its event lies in (each
    event has exactly one such piece). Gold's event statistics are computed this way, in the same pass
    over the events as the time-weighted ones."""
    order = Window.partitionBy("web_id").orderBy("timestamp", "sequence")
    pieces = (
        events.join(tags, "web_id", "left")
        .withColumn("next_at", F.lead("timestamp").over(order))
        .withColumn("next_number", F.lead("number").over(order))
        .withColumn("end_at", F.coalesce("next_at", F.greatest("timestamp", F.coalesce("until", "timestamp"))))
        .withColumn("start_us", F.unix_micros("timestamp"))
        .withColumn("end_us", F.unix_micros("end_at"))
        # the line ends at the next event when both are good numbers on a continuous point; else held
        .withColumn(
            "slope",
            F.when(
                ~F.coalesce(F.col("step"), F.lit(False))
                & F.col("next_number").isNotNull()
                & F.col("number").isNotNull()
                & (F.col("end_us") > F.col("start_us")),
                (F.col("next_number") - F.col("number")) / (F.col("end_us") - F.col("start_us")),
            ).otherwise(F.lit(0.0)),
        )
    )
    first_hour = F.floor(F.col("start_us") / _MICROS_PER_HOUR)
    last_hour = F.floor(F.greatest(F.col("end_us") - 1, F.col("start_us")) / _MICROS_PER_HOUR)
    spread = pieces.withColumn("hour_index", F.explode(F.sequence(first_hour, last_hour)))
    hour_us = F.col("hour_index") * _MICROS_PER_HOUR
    lo = F.greatest(F.col("start_us"), hour_us)
    hi = F.least(F.col("end_us"), hour_us + _MICROS_PER_HOUR)
    length_s = F.greatest(hi - lo, F.lit(0)) / F.lit(1e6)

    def at(micros: Column) -> Column:
        return F.col("number") + F.col("slope") * (micros - F.col("start_us"))

    parts = spread.select(
        "*",
        (F.col("hour_index") == first_hour).alias("own_hour"),
        F.when(F.col("good"), length_s).otherwise(F.lit(0.0)).alias("good_s"),
        F.when(F.col("number").isNotNull(), length_s).alias("numeric_s"),
        F.when(F.col("number").isNotNull(), (at(lo) + at(hi)) / 2 * length_s).alias("area"),
        hi.alias("known_to"),
    )
    grouped = parts.groupBy("web_id", "hour_index").agg(
        F.sum("good_s").alias("good_s"),
        F.sum("numeric_s").alias("numeric_s"),
        F.sum("area").alias("area"),
        F.max("known_to").alias("known_to"),
        F.max_by(F.struct("timestamp", "number", "good"), F.struct("timestamp", "sequence")).alias("last_event"),
        *[aggregate.alias(name) for name, aggregate in also.items()],
    )
    # the known part of the hour: from its start (time before a tag's first event is no data, not good)
    # to its end or the tag's horizon, whichever comes first
    known_s = (F.col("known_to") - hour_us) / F.lit(1e6)
    return grouped.select(
        "web_id",
        F.timestamp_micros(hour_us).alias("hour"),
        F.when(F.col("numeric_s") > 0, F.col("area") / F.col("numeric_s")).alias("time_weighted_mean"),
        F.when(known_s > 0, F.least(F.col("good_s") / known_s, F.lit(1.0))).alias("time_weighted_good_share"),
        F.col("last_event.timestamp").alias("last_event_at"),
        F.col("last_event.number").alias("last_event_value"),
        F.col("last_event.good").alias("last_event_good"),
        *also,
    )
