"""Event frame silver and gold, kept up to date from each micro-batch of event frame bronze.

Each update reads the frames active since the previous read's end minus ``pi.ef.lookback``, so event frame
bronze holds several reads of most frames, and tables recomputed from it (the latest read of each frame, its
attribute values, the alarms, the downtime and batch KPIs) cost more with every day kept.
:func:`apply_ef_batch` touches only what one micro-batch changes:

* ``pi_event_frames``: the micro-batch's latest read of each frame, merged where it is newer than the row
  held (the same row as ``ef_transforms.current_frames`` over all of bronze);
* ``pi_event_frame_attributes`` and ``pi_alarms``: the rows of the frames it read, replaced;
* ``pi_downtime_daily_gold`` (per element and UTC day) and ``pi_batches_daily_gold`` (per product and UTC
  day): recomputed for the keys the frames it read had before and have now (a frame that closes, moves to
  another day or changes product leaves its old key too).

Frames name their element by WebID, which follows the element's path; the alarms and the downtime carry the
element's AF Id and *current* path and name. So a micro-batch also takes the frames of every element whose
versions changed since the tables were last written (recorded in ``pi_event_frames``' property
``osipi.af_seen``): a renamed element's alarms and downtime show its new path, and a frame read before its
element was in any AF snapshot finds it once it is. The elements are read through ``AFSource``: the
history folded by earlier updates with this update's newest snapshot folded in (``af_curation.folded``),
so a rename in this update's snapshot shows in this update's tables.

Every step writes what the frames *will* be once the micro-batch is merged (the held rows with its reads
laid over them), and ``pi_event_frames`` is merged last, so a micro-batch applied again after a crash
recomputes the same keys and rows. Micro-batch 0 (a new checkpoint: first update, full refresh, upgrade)
rebuilds every table from the whole of bronze it carries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ..eventframes import EF_COLUMNS
from .af_curation import AF_SCHEMA, folded, since
from .af_transforms import history
from .curation import create_merged_table, local, merge_view
from .ef_transforms import (
    KEYS,
    alarms,
    attribute,
    attribute_values,
    batches_by_product,
    closed,
    current_frames,
    downtime_daily,
    frame_changes,
    newest,
    with_elements,
)
from .state import qualified
from .utc import instant, latest, utc_date

FRAMES_TABLE, ATTRIBUTES_TABLE, ALARMS_TABLE = "pi_event_frames", "pi_event_frame_attributes", "pi_alarms"
DOWNTIME_TABLE, BATCHES_TABLE = "pi_downtime_daily_gold", "pi_batches_daily_gold"
SINK_NAME = "pi_event_frames_sink"
AF_SEEN_PROPERTY = "osipi.af_seen"
EF_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in EF_COLUMNS)
#: the key of each table's rows, and of the groups a micro-batch replaces
DOWNTIME_KEYS, BATCH_KEYS = ("database", "element_id", "day"), ("database", "product", "day")
ATTRIBUTE_KEYS = ("database", "frame_id", "attribute")


@dataclass(frozen=True)
class EFTargets:
    """Qualified names of the tables the event frame merge writes."""

    frames: str
    attributes: str
    alarms: str
    downtime: str
    batches: str

    @classmethod
    def in_schema(cls, schema: str) -> EFTargets:
        return cls(
            *(
                qualified(schema, t)
                for t in (FRAMES_TABLE, ATTRIBUTES_TABLE, ALARMS_TABLE, DOWNTIME_TABLE, BATCHES_TABLE)
            )
        )


@dataclass(frozen=True)
class KPISettings:
    """The templates and attribute the KPIs select frames by (``pi.ef.*``)."""

    downtime_template: str = "Downtime"
    batch_template: str = "Batch"
    product_attribute: str = "Product"


@dataclass(frozen=True)
class AFSource:
    """Where the element versions are read: the merged history (``pi_af_elements``), AF bronze, and per
    database the last complete snapshot before this update (ISO), after which bronze holds this update's."""

    elements: str
    bronze: str
    latest: dict[str, str] = field(default_factory=dict)

    def versions(self, spark: SparkSession) -> DataFrame:
        bronze = (
            spark.read.table(self.bronze)
            if spark.catalog.tableExists(self.bronze)
            else spark.createDataFrame([], AF_SCHEMA)
        )
        if spark.catalog.tableExists(self.elements):
            held = spark.read.table(self.elements)
            if not held.isEmpty():
                return folded(held, since(bronze, self.latest), "element")
        # no history yet, or the AF fold's micro-batch 0 is writing it again beside this merge: every
        # complete snapshot in AF bronze (what that micro-batch writes), this update's included
        return history(bronze, "element")


def apply_ef_batch(
    batch: DataFrame, batch_id: int, targets: EFTargets, af: AFSource, kpis: KPISettings = KPISettings()
) -> None:
    """Merge one micro-batch of event frame bronze rows into the event frame tables (micro-batch 0:
    rebuild them from it)."""
    spark = batch.sparkSession
    if batch_id == 0:
        rebuild(spark, current_frames(batch), local(af.versions(spark)), targets, kpis)
        return
    # what the steps below read again and again, computed once: the element versions (the hierarchy's
    # size), the micro-batch's reads and the rows held of the frames they touch (the micro-batch's size)
    elements = local(af.versions(spark))
    seen = af_seen(spark, targets.frames)
    incoming = local(latest_reads(batch))
    held = spark.read.table(targets.frames)
    renamed = changed_element_refs(elements, seen)
    touched = local(
        incoming.select(*KEYS).unionByName(held.join(renamed, "element_web_id", "left_semi").select(*KEYS)).distinct()
    )
    if touched.isEmpty():  # an update whose read found no frame, and no element changed
        record_af_seen(spark, targets.frames, elements, seen)
        return
    before = local(held.join(touched, list(KEYS), "left_semi"))
    after = local(newest(before.unionByName(incoming)))
    frames = held.join(touched, list(KEYS), "left_anti").unionByName(after)  # as they will be once merged
    old, new = with_elements(before, as_of(elements, seen)), with_elements(after, elements)
    replace_rows(
        spark,
        targets.attributes,
        attribute_values(after),
        after.select("database", F.col("id").alias("frame_id")),
        ATTRIBUTE_KEYS,
    )
    replace_rows(spark, targets.alarms, alarms(new), touched, KEYS)
    downtime = downtime_keys(old, kpis.downtime_template).unionByName(downtime_keys(new, kpis.downtime_template))
    replace_groups(
        spark,
        targets.downtime,
        downtime,
        DOWNTIME_KEYS,
        lambda lo, hi: downtime_daily(with_elements(overlapping(frames, lo, hi), elements), kpis.downtime_template),
    )
    products = batch_keys(before, kpis.batch_template, kpis.product_attribute).unionByName(
        batch_keys(after, kpis.batch_template, kpis.product_attribute)
    )
    replace_groups(
        spark,
        targets.batches,
        products,
        BATCH_KEYS,
        lambda lo, hi: batches_by_product(starting(frames, lo, hi), kpis.batch_template, kpis.product_attribute),
    )
    merge_frames(spark, incoming, targets.frames)
    record_af_seen(spark, targets.frames, elements, seen)


def rebuild(spark: SparkSession, frames: DataFrame, elements: DataFrame, targets: EFTargets, kpis: KPISettings) -> None:
    """Every table dropped and written again from ``frames`` (one current row each)."""
    enriched = with_elements(frames, elements)
    tables = {
        targets.frames: frames,
        targets.attributes: attribute_values(frames),
        targets.alarms: alarms(enriched),
        targets.downtime: downtime_daily(enriched, kpis.downtime_template),
        targets.batches: batches_by_product(frames, kpis.batch_template, kpis.product_attribute),
    }
    for table, rows in tables.items():
        create_merged_table(spark, table, rows.schema)
        rows.writeTo(table).append()
    record_af_seen(spark, targets.frames, elements, None)


def ef_batch_handler(targets: EFTargets, af: AFSource, kpis: KPISettings):
    """The function Databricks' ForEachBatch sink calls with each micro-batch of event frame bronze."""

    def handle(batch: DataFrame, batch_id: int) -> None:
        apply_ef_batch(batch, batch_id, targets, af, kpis)

    return handle


def latest_reads(batch: DataFrame) -> DataFrame:
    """One row per frame the micro-batch read: its latest read."""
    return newest(frame_changes(batch))


def changed_element_refs(elements: DataFrame, seen: dt.datetime | None) -> DataFrame:
    """Every WebID (``element_web_id``) of the elements with a version opened or closed after ``seen``
    (None: the tables were written without any element, so every element is new to them): their frames'
    element path, name or Id may have changed."""
    if seen is None:
        return elements.select(F.col("web_id").alias("element_web_id")).distinct()
    after = instant(seen)
    ids = elements.where((F.col("valid_from") > after) | (F.col("valid_to") > after)).select("database", "id")
    return (
        elements.join(ids, ["database", "id"], "left_semi").select(F.col("web_id").alias("element_web_id")).distinct()
    )


def as_of(elements: DataFrame, seen: dt.datetime | None) -> DataFrame:
    """The element versions as they stood at ``seen`` (None: before any), which the tables were written
    with: the keys a frame held there are the ones to recompute when it moves."""
    if seen is None:
        return elements.where(F.lit(False))
    at = instant(seen)
    return elements.where(F.col("valid_from") <= at).withColumn(
        "is_current", F.col("valid_to").isNull() | (F.col("valid_to") > at)
    )


def downtime_keys(frames: DataFrame, template: str) -> DataFrame:
    """(database, element Id, UTC day) of every day a closed downtime frame among ``frames`` (with their
    elements) overlaps."""
    return closed(frames, template).select(
        "database", "element_id", F.explode(F.sequence(utc_date("start_time"), utc_date("end_time"))).alias("day")
    )


def batch_keys(frames: DataFrame, template: str, product_attribute: str) -> DataFrame:
    """(database, product, UTC day of the start) of the closed batches among ``frames``."""
    return closed(frames, template).select(
        "database", attribute(product_attribute).alias("product"), utc_date("start_time").alias("day")
    )


def overlapping(frames: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """Closed frames that overlap the UTC days ``first`` to ``last``."""
    return frames.where(
        ~F.col("in_progress") & (F.col("start_time") < _day_end(last)) & (F.col("end_time") >= _day_start(first))
    )


def starting(frames: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """Frames that start on the UTC days ``first`` to ``last``."""
    return frames.where((F.col("start_time") >= _day_start(first)) & (F.col("start_time") < _day_end(last)))


def _day_start(day: dt.date) -> Column:
    return instant(dt.datetime.combine(day, dt.time(), dt.UTC))


def _day_end(day: dt.date) -> Column:
    return _day_start(day + dt.timedelta(days=1))


def replace_groups(spark: SparkSession, table: str, keys: DataFrame, key_columns: tuple[str, ...], compute) -> None:
    """Recompute the rows of ``table`` whose keys are among ``keys`` and put them in place of the rows
    held: ``compute(first_day, last_day)`` gives the table's rows over the days the keys span."""
    keys = local(keys.distinct())
    (span,) = keys.agg(F.min("day").alias("first"), F.max("day").alias("last")).collect()
    if span["first"] is None:
        return
    rows = _semi(compute(span["first"], span["last"]), keys, key_columns)
    replace_rows(spark, table, rows, keys, key_columns)


def replace_rows(
    spark: SparkSession, table: str, rows: DataFrame, groups: DataFrame, row_keys: tuple[str, ...]
) -> None:
    """Make the rows of ``table`` in ``groups`` (a DataFrame of some leading columns of ``row_keys``)
    exactly ``rows``, in one MERGE: rows held in those groups and not among ``rows`` are deleted.
    Keys compare null-safe (a frame without an element, a batch without a product)."""
    rows, groups = local(rows), local(groups)
    columns = list(rows.columns)
    group_keys = list(groups.columns)
    held = _semi(spark.read.table(table), groups, group_keys)
    stale = local(_anti(held, rows, row_keys).select(*row_keys).withColumn("_drop", F.lit(True)))
    if rows.isEmpty() and stale.isEmpty():  # e.g. the frames read are no alarms and were none
        return
    source = rows.withColumn("_drop", F.lit(False)).unionByName(stale, allowMissingColumns=True)
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in row_keys)
    merge_view(
        spark,
        source,
        f"""
        MERGE INTO {table} t USING {{source}} s ON {on}
        WHEN MATCHED AND s._drop THEN DELETE
        WHEN MATCHED THEN UPDATE SET {", ".join(f"t.`{c}` = s.`{c}`" for c in columns)}
        WHEN NOT MATCHED AND NOT s._drop THEN INSERT ({_listed(columns)}) VALUES ({_listed(columns, "s.")})""",
    )


def _semi(rows: DataFrame, keys: DataFrame, columns) -> DataFrame:
    return _null_safe_join(rows, keys, columns, "left_semi")


def _anti(rows: DataFrame, keys: DataFrame, columns) -> DataFrame:
    return _null_safe_join(rows, keys, columns, "left_anti")


def _null_safe_join(rows: DataFrame, keys: DataFrame, columns, how: str) -> DataFrame:
    r, k = rows.alias("_r"), keys.select(*columns).alias("_k")
    return r.join(k, [F.col(f"_r.{c}").eqNullSafe(F.col(f"_k.{c}")) for c in columns], how).select("_r.*")


def _listed(columns, prefix: str = "") -> str:
    return ", ".join(f"{prefix}`{c}`" for c in columns)


def merge_frames(spark: SparkSession, incoming: DataFrame, table: str) -> None:
    """The micro-batch's latest read of each frame, where it is newer than the row held."""
    newer = "struct(s.last_read_at, s.read_id) > struct(t.last_read_at, t.read_id)"
    merge_view(
        spark,
        incoming,
        f"""
        MERGE INTO {table} t USING {{source}} s ON t.database = s.database AND t.id = s.id
        WHEN MATCHED AND {newer} THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *""",
    )


def af_seen(spark: SparkSession, table: str) -> dt.datetime | None:
    """The latest element version change the event frame tables were written with."""
    properties = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}
    seen = properties.get(AF_SEEN_PROPERTY)
    return dt.datetime.fromisoformat(seen) if seen else None


def record_af_seen(spark: SparkSession, table: str, elements: DataFrame, before: dt.datetime | None) -> None:
    """Record the latest version change among ``elements`` when it differs from ``before``, the one
    recorded."""
    seen = latest(elements.select(F.greatest("valid_from", F.coalesce("valid_to", "valid_from")).alias("t")), "t")
    if seen is not None and seen != before:
        spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ('{AF_SEEN_PROPERTY}' = '{seen.isoformat()}')")
