"""UTC whatever the session's time zone.

Spark's ``date_trunc``, ``to_date`` and ``to_timestamp`` cut hours and days in the session time zone, and
collected timestamps arrive as naive datetimes in it. A cluster or a user may set any zone (a half-hour
offset such as Asia/Kolkata moves every hour boundary), so the tables' hours and days and the state read
at pipeline start are computed from epoch values instead, which no zone can shift.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from ..timeutil import from_epoch_micros

_HOUR_S = 3600
_DAY_S = 86400


def _column(value: Column | str) -> Column:
    return F.col(value) if isinstance(value, str) else value


def hour_start(timestamp: Column | str) -> Column:
    """The UTC hour a timestamp falls in, as the timestamp of its start."""
    return F.timestamp_seconds(F.floor(F.unix_seconds(_column(timestamp)) / _HOUR_S) * _HOUR_S)


def utc_date(timestamp: Column | str) -> Column:
    """The UTC calendar day of a timestamp."""
    return F.date_from_unix_date(F.floor(F.unix_seconds(_column(timestamp)) / _DAY_S).cast("int"))


def day_start(date: Column | str) -> Column:
    """The timestamp at which a UTC calendar day starts."""
    return F.timestamp_seconds(F.unix_date(_column(date)).cast("long") * _DAY_S)


def instant(value: dt.datetime) -> Column:
    """A timestamp literal of an aware datetime, the same instant under any session time zone and
    ``spark.sql.timestampType`` (a datetime literal may become a zone-less TIMESTAMP_NTZ)."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return F.timestamp_micros(F.lit((value - epoch) // dt.timedelta(microseconds=1)))


def collect_utc(frame: DataFrame) -> list[dict]:
    """The rows of a (small) frame as dicts, timestamps as aware UTC datetimes."""
    stamps = [f.name for f in frame.schema.fields if isinstance(f.dataType, TimestampType)]
    if stamps:
        frame = frame.select(*[F.unix_micros(F.col(c)).alias(c) if c in stamps else F.col(c) for c in frame.columns])
    rows = [r.asDict() for r in frame.collect()]
    for row in rows:
        for column in stamps:
            if row[column] is not None:
                row[column] = from_epoch_micros(row[column])
    return rows


def latest(frame: DataFrame, column: str) -> dt.datetime | None:
    """The latest value of a timestamp column, as an aware UTC datetime (``None`` when empty)."""
    (row,) = frame.agg(F.max(F.unix_micros(F.col(column))).alias("m")).collect()
    micros = row.m
    return None if micros is None else from_epoch_micros(micros)
