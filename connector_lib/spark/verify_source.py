"""The ``pi_verify`` PySpark Python Data Source: at most one micro-batch per update comparing a sample of
finished gold tag-hours with the PI server's own ``summary`` (``connector_lib.verify``).

The sample is drawn at pipeline start (:func:`gold_sample`) from gold as the previous update left it,
among tag-hours of the last two days whose neighbouring hours settle them (the hour before carries an
event, the hour after holds one: the lines across both boundaries are known), so a difference means a
disagreement, not an hour still being filled. It travels to the executor in the data source options (tag
WebIDs, hours and gold's numbers; no secret), where one partition asks the server and yields the rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.datasource import DataSource, InputPartition

from ..client import PIWebAPIClient
from ..config import PIConfig
from ..timeutil import UTC, from_epoch_micros
from ..verify import NON_NUMERIC, VERIFY_COLUMNS, TagHour, verify
from .curation import GOLD_TABLE
from .datasource import reader_options
from .once import OncePerUpdateReader
from .state import WATERMARK_TABLE, current_schema, qualified

SCHEMA = ", ".join(f"{name} {kind}" for name, kind in VERIFY_COLUMNS)
#: how far back the sample reaches
SAMPLE_DAYS = 2


class PIVerifyDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return "pi_verify"

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        return VerifyStreamReader(PIConfig.from_options(self.options), json.loads(self.options.get("sample") or "[]"))


class SamplePartition(InputPartition):
    def __init__(self, sample: list, planned_at: str):
        super().__init__(json.dumps({"sample": sample, "at": planned_at}))


class VerifyStreamReader(OncePerUpdateReader):
    """One micro-batch per update when the sample holds tag-hours, none otherwise. It keeps no state of its
    own (each update's sample is drawn afresh), so it has none to check at start."""

    def __init__(self, config: PIConfig, sample: list):
        super().__init__(config)
        self.sample = sample

    def reads(self) -> bool:
        return bool(self.sample)

    def due(self, start: dict) -> bool:
        return self.reads()

    def plan(self, planned_at: str, first: bool) -> list[InputPartition]:
        return [SamplePartition(self.sample, planned_at)]

    def read(self, partition) -> Iterator[tuple]:
        spec = json.loads(partition.value)
        items = [
            TagHour(wid, tag, from_epoch_micros(hour), mean, share, kind not in NON_NUMERIC)
            for wid, tag, hour, mean, share, kind in spec["sample"]
        ]
        client = PIWebAPIClient(self.config)
        try:
            yield from verify(client, items, dt.datetime.fromisoformat(spec["at"]))
        finally:
            client.session.close()


def gold_sample(spark: SparkSession, config: PIConfig, now: dt.datetime | None = None) -> list:
    """At pipeline start: ``pi.verify.tag_hours`` settled tag-hours of the last :data:`SAMPLE_DAYS` days of
    gold, at random, as [web_id, tag, hour (epoch microseconds), time-weighted mean, good share, point type]."""
    schema = current_schema(spark)
    gold_table, marks_table = qualified(schema, GOLD_TABLE), qualified(schema, WATERMARK_TABLE)
    if not config.verify_tag_hours or not spark.catalog.tableExists(gold_table):
        return []
    now = now or dt.datetime.now(UTC)
    hour = F.col("hour")
    gold = spark.read.table(gold_table).where(hour >= F.lit(now - dt.timedelta(days=SAMPLE_DAYS)))
    if "last_event_at" not in gold.columns:  # the former layout, recomputed by the next micro-batch
        return []
    before = gold.where(F.col("last_event_at").isNotNull()).select(
        "web_id", (hour + F.expr("INTERVAL 1 HOUR")).alias("hour")
    )
    after = gold.where(F.col("count") > 0).select("web_id", (hour - F.expr("INTERVAL 1 HOUR")).alias("hour"))
    marks = spark.read.table(marks_table).select("web_id", "watermark", "point_type")
    settled = (
        gold.where(F.col("time_weighted_good_share").isNotNull())
        .join(before, ["web_id", "hour"], "left_semi")
        .join(after, ["web_id", "hour"], "left_semi")
        .join(marks, "web_id")
        .where(F.col("watermark") >= hour + F.expr("INTERVAL 2 HOURS"))
    )
    rows = (
        settled.orderBy(F.rand())
        .limit(config.verify_tag_hours)
        .select(
            "web_id",
            "tag",
            F.unix_micros("hour").alias("h"),
            "time_weighted_mean",
            "time_weighted_good_share",
            "point_type",
        )
        .collect()
    )
    return [[r.web_id, r.tag, r.h, r.time_weighted_mean, r.time_weighted_good_share, r.point_type] for r in rows]


def verify_stream_options(spark: SparkSession, config: PIConfig) -> dict[str, str]:
    """Register ``pi_verify`` and draw this update's sample (``pi.verify.tag_hours`` of them)."""
    spark.dataSource.register(PIVerifyDataSource)
    return {**reader_options(config), "sample": json.dumps(gold_sample(spark, config), separators=(",", ":"))}


def gold_verification_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    return spark.readStream.format(PIVerifyDataSource.name()).options(**options).load()
