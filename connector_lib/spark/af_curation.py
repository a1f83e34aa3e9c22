"""The Asset Framework's history (SCD type 2), kept up to date from each micro-batch of AF bronze.

Every AF snapshot writes every element and attribute of a database to bronze again (``pi.af.refresh``,
hourly by default), so bronze grows by the whole hierarchy at each snapshot, and a history recomputed from
it (``af_transforms.history``) costs more with every day kept. :func:`apply_af_batch` folds each new
complete snapshot into the versions instead: it compares the snapshot with the *current* versions of its
database and closes the versions that changed or disappeared and opens the new ones. Its work follows the
size of the hierarchy, not the number of snapshots held.

The versions are exactly those of ``af_transforms.history``: a version is valid from the first complete
snapshot of its run until the next complete snapshot after its last one (the snapshot that saw the
change, or the object gone); failed snapshots are ignored. Micro-batch 0 (a new checkpoint: first
update, full refresh) rebuilds the tables from the whole of bronze it carries, through ``history``.

Replaying a micro-batch (a crash after the merge, before the stream's checkpoint) changes nothing: a
snapshot no later than the last change recorded for its database is skipped, and a snapshot later than
every change has nothing left to change once applied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..af import AF_COLUMNS
from .af_transforms import ATTRIBUTE_COLUMNS, ELEMENT_COLUMNS, complete, digest, history, tag_assets
from .curation import create_merged_table, merge_view
from .state import qualified
from .utc import collect_utc, instant

ELEMENTS_TABLE, ATTRIBUTES_TABLE, TAG_ASSETS_TABLE = "pi_af_elements", "pi_af_attributes", "pi_tag_assets"
SINK_NAME = "pi_af_history_sink"
KINDS = {"element": ELEMENT_COLUMNS, "attribute": ATTRIBUTE_COLUMNS}
AF_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in AF_COLUMNS)


@dataclass(frozen=True)
class AFTargets:
    """Qualified names of the two history tables and of the current tag-to-asset mapping."""

    elements: str
    attributes: str
    tag_assets: str

    @classmethod
    def in_schema(cls, schema: str) -> AFTargets:
        return cls(
            qualified(schema, ELEMENTS_TABLE), qualified(schema, ATTRIBUTES_TABLE), qualified(schema, TAG_ASSETS_TABLE)
        )

    def of(self, kind: str) -> str:
        return self.elements if kind == "element" else self.attributes


def apply_af_batch(batch: DataFrame, batch_id: int, targets: AFTargets) -> None:
    """Fold one micro-batch of AF bronze rows into the element and attribute history (micro-batch 0:
    rebuild both from it), then, when a snapshot was folded, write the current tag-to-asset mapping again
    (it is as large as the current hierarchy, not its history)."""
    spark = batch.sparkSession
    if batch_id == 0:
        for kind in KINDS:
            create_merged_table(spark, targets.of(kind), history_schema(spark, kind))  # a close marks a row
            history(batch, kind).writeTo(targets.of(kind)).append()
        create_merged_table(spark, targets.tag_assets, tag_assets_schema(spark))
        write_tag_assets(spark, targets)
        return
    snapshots = (
        complete(batch)
        .select("database", "snapshot_id", "extracted_at")
        .orderBy("extracted_at", "snapshot_id")
        .collect()
    )
    if not snapshots:  # an update that took no snapshot (pi.af.refresh not due)
        return
    took_snapshot = False
    for kind in KINDS:
        last = last_changes(spark, targets.of(kind))
        for snap in snapshots:
            known = last.get(snap["database"])
            if known is not None and snap["extracted_at"] <= known:
                continue  # applied before this micro-batch was replayed
            rows = batch.where((F.col("snapshot_id") == snap["snapshot_id"]) & (F.col("record_kind") == kind))
            fold_snapshot(spark, targets.of(kind), kind, snap["database"], rows, snap["extracted_at"])
            took_snapshot = True
    if took_snapshot:
        write_tag_assets(spark, targets)


def fold_snapshot(spark: SparkSession, table: str, kind: str, database: str, rows: DataFrame, at: dt.datetime) -> None:
    """Merge what one complete snapshot changes into the history of ``kind`` (usually nothing: the
    hierarchy as it was)."""
    current = spark.read.table(table).where(F.col("is_current") & (F.col("database") == database))
    taken = spark.range(1).select(F.lit(database).alias("database"), F.lit(at).cast("timestamp").alias("at"))
    columns = history_columns(kind)
    merge_view(
        spark,
        snapshot_changes(current, rows, kind, taken),
        f"""
        MERGE INTO {table} t USING {{source}} s
        ON t.database = s.database AND t.id = s.id AND t.valid_from = s.valid_from
        WHEN MATCHED AND s.action = 'close' AND t.is_current
          THEN UPDATE SET t.valid_to = s.valid_to, t.is_current = false
        WHEN NOT MATCHED AND s.action = 'open' THEN INSERT ({_listed(columns)}) VALUES ({_listed(columns, "s.")})""",
    )


def af_batch_handler(targets: AFTargets, assets=None):
    """The function Databricks' ForEachBatch sink calls with each micro-batch of AF bronze (``assets``:
    the ``assets_gold.AssetsGold`` view to make sure of)."""

    def handle(batch: DataFrame, batch_id: int) -> None:
        apply_af_batch(batch, batch_id, targets)
        if assets is not None:
            assets.ensure(batch.sparkSession)

    return handle


def write_tag_assets(spark: SparkSession, targets: AFTargets) -> None:
    """The current tag-to-asset mapping, from the current versions, in place of the previous one."""
    mapping = tag_assets(spark.read.table(targets.elements), spark.read.table(targets.attributes))
    mapping.writeTo(targets.tag_assets).overwrite(F.lit(True))


def history_schema(spark: SparkSession, kind: str):
    return history(spark.createDataFrame([], AF_SCHEMA), kind).schema


def tag_assets_schema(spark: SparkSession):
    empty = spark.createDataFrame([], AF_SCHEMA)
    return tag_assets(history(empty, "element"), history(empty, "attribute")).schema


def history_columns(kind: str) -> tuple[str, ...]:
    return ("database", "id", *KINDS[kind], "valid_from", "valid_to", "is_current")


def _listed(columns, prefix: str = "") -> str:
    return ", ".join(f"{prefix}`{c}`" for c in columns)


def snapshot_changes(current: DataFrame, rows: DataFrame, kind: str, taken: DataFrame) -> DataFrame:
    """What complete snapshots change in the history: ``action = 'close'`` for each current version that
    changed or is no longer there (``valid_to`` = the snapshot's time), ``'open'`` for each new version
    (``valid_from`` = the snapshot's time). ``taken``: (``database``, ``at``) of the snapshots, at most one
    per database; ``current``: current versions (of those databases or more); ``rows``: the snapshots'
    rows of ``kind``."""
    columns = KINDS[kind]
    seen = rows.join(taken, "database").select("database", "id", *columns, digest(kind).alias("digest"), "at")
    held = current.join(taken, "database").select(
        "database",
        "id",
        F.col("valid_from").alias("held_from"),
        digest(kind).alias("held"),
        F.col("at").alias("held_at"),
    )
    paired = seen.join(held, ["database", "id"], "full_outer")
    changed = F.col("held").isNotNull() & (F.col("digest").isNull() | (F.col("digest") != F.col("held")))
    opened = F.col("digest").isNotNull() & (F.col("held").isNull() | (F.col("digest") != F.col("held")))
    stamp = F.coalesce(F.col("at"), F.col("held_at"))
    # a close carries only its key and end: its other columns are whatever the snapshot says, if anything
    closes = paired.where(changed).select(
        F.lit("close").alias("action"),
        "database",
        "id",
        *columns,
        F.col("held_from").alias("valid_from"),
        stamp.alias("valid_to"),
        F.lit(False).alias("is_current"),
    )
    opens = paired.where(opened).select(
        F.lit("open").alias("action"),
        "database",
        "id",
        *columns,
        stamp.alias("valid_from"),
        F.lit(None).cast("timestamp").alias("valid_to"),
        F.lit(True).alias("is_current"),
    )
    return closes.unionByName(opens)


def since(af_bronze: DataFrame, latest: dict[str, str]) -> DataFrame:
    """The AF bronze rows taken after each database's ``latest`` complete snapshot (ISO times; a database
    without one: all of its rows). Delta skips the older snapshots' files by their ``extracted_at``."""
    newer = ~F.col("database").isin(list(latest)) if latest else F.lit(True)
    for database, at in latest.items():
        newer = newer | (
            (F.col("database") == database) & (F.col("extracted_at") > instant(dt.datetime.fromisoformat(at)))
        )
    return af_bronze.where(newer)


def folded(versions: DataFrame, recent: DataFrame, kind: str) -> DataFrame:
    """The history of ``kind`` as it stands once the newest complete snapshot of each database among
    ``recent`` AF bronze rows is folded in, whether or not the fold has run yet: what the tables after AF
    read within the update that took the snapshot. A snapshot the history holds already changes nothing.
    A long-running update takes a snapshot every ``pi.af.refresh``; the ones before the newest are either
    folded already or replaced by it, so each object keeps one current version. Asks for the newest
    snapshots' times first (the snapshot records alone), then reads only their rows."""
    newest = taken_at(recent, newest_snapshots(recent))
    taken = complete(newest).select("database", "snapshot_id", F.col("extracted_at").alias("at"))
    rows = newest.where(F.col("record_kind") == kind).join(
        taken.select("database", "snapshot_id"), ["database", "snapshot_id"], "left_semi"
    )
    changes = snapshot_changes(versions.where("is_current"), rows, kind, taken.select("database", "at"))
    closed = changes.where(F.col("action") == "close").select(
        "database", "id", "valid_from", F.col("valid_to").alias("closed_at")
    )
    kept = versions.join(closed, ["database", "id", "valid_from"], "left").select(
        "database",
        "id",
        *KINDS[kind],
        "valid_from",
        F.coalesce("closed_at", "valid_to").alias("valid_to"),
        (F.col("is_current") & F.col("closed_at").isNull()).alias("is_current"),
    )
    return kept.unionByName(changes.where(F.col("action") == "open").select(*history_columns(kind)))


def newest_snapshots(af_bronze: DataFrame) -> dict[str, dt.datetime]:
    """Per database, when the newest complete snapshot among ``af_bronze`` rows was taken."""
    rows = collect_utc(complete(af_bronze).groupBy("database").agg(F.max("extracted_at").alias("at")))
    return {row["database"]: row["at"] for row in rows}


def taken_at(af_bronze: DataFrame, snapshots: dict[str, dt.datetime]) -> DataFrame:
    """The AF bronze rows of the snapshots taken at ``snapshots``' times (per database; every row of a
    snapshot carries its time): literal bounds, so Delta reads only those snapshots' files."""
    chosen = F.lit(False)
    for database, at in snapshots.items():
        chosen = chosen | ((F.col("database") == database) & (F.col("extracted_at") == instant(at)))
    return af_bronze.where(chosen)


def last_changes(spark: SparkSession, table: str) -> dict[str, dt.datetime]:
    """Per database, the latest snapshot time at which a version opened or closed."""
    rows = (
        spark.read.table(table)
        .groupBy("database")
        .agg(F.greatest(F.max("valid_from"), F.max("valid_to")).alias("last"))
        .collect()
    )
    return {r["database"]: r["last"] for r in rows}
