"""AF silver: history of elements and attributes (SCD type 2) from complete snapshots, and the mapping
of tags to assets. Pure functions of the AF bronze table, tested with chispa.

A version is a run of consecutive complete snapshots of a database in which an element (or attribute)
looks the same. It is valid from the first snapshot of the run until the next complete snapshot after its
last one: the snapshot that saw a rename, a move, a re-pointed reference, or the object gone. The exact
instant of a change inside that interval is not something the PI Web API reports, so versions change at
snapshot times. Failed (partial) snapshots are ignored: an element missing from one must not look deleted.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

ELEMENT_COLUMNS = ("web_id", "name", "path", "parent_path", "template", "categories", "description")
ATTRIBUTE_COLUMNS = (
    "web_id",
    "name",
    "path",
    "element_path",
    "value_type",
    "units",
    "data_reference",
    "config_string",
    "tag",
    "point_web_id",
    "value",
    "categories",
)
#: what makes a new version (the WebID is left out: it follows the path, which is compared already)
COMPARED = {"element": ELEMENT_COLUMNS[1:], "attribute": ATTRIBUTE_COLUMNS[1:]}


def complete(af_bronze: DataFrame) -> DataFrame:
    """The records that close a complete snapshot (a failed snapshot's rows never count)."""
    return af_bronze.where((F.col("record_kind") == "snapshot") & (F.col("status") == "ok"))


def complete_snapshots(af_bronze: DataFrame) -> DataFrame:
    """Complete snapshots, numbered per database in time order."""
    order = Window.partitionBy("database").orderBy("snapshot_at", "snapshot_id")
    return (
        complete(af_bronze)
        .select("database", "snapshot_id", F.col("extracted_at").alias("snapshot_at"))
        .withColumn("snapshot_no", F.row_number().over(order))
    )


def digest(kind: str) -> Column:
    """What a version is: a hash of the columns whose change makes a new one."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in COMPARED[kind]])), 256)


def history(af_bronze: DataFrame, kind: str) -> DataFrame:
    """One row per version of each element (``kind = 'element'``) or attribute, with ``valid_from``,
    ``valid_to`` (null while current) and ``is_current``."""
    columns = ELEMENT_COLUMNS if kind == "element" else ATTRIBUTE_COLUMNS
    snapshots = complete_snapshots(af_bronze)
    rows = (
        af_bronze.where(F.col("record_kind") == kind)
        .join(snapshots, ["database", "snapshot_id"])
        .withColumn("digest", digest(kind))
    )
    by_object = Window.partitionBy("database", "id").orderBy("snapshot_no")
    changed: Column = (
        (F.lag("digest").over(by_object) != F.col("digest"))
        | (F.lag("snapshot_no").over(by_object) != F.col("snapshot_no") - 1)
        | F.lag("digest").over(by_object).isNull()
    )
    versions = rows.withColumn("starts", changed.cast("int")).withColumn(
        "version", F.sum("starts").over(by_object.rowsBetween(Window.unboundedPreceding, 0))
    )
    spans = versions.groupBy("database", "id", "version").agg(
        F.min_by(F.struct(*[F.col(c) for c in columns]), "snapshot_no").alias("v"),
        F.min("snapshot_at").alias("valid_from"),
        F.max("snapshot_no").alias("last_no"),
    )
    following = snapshots.select(
        F.col("database").alias("next_database"),
        F.col("snapshot_no").alias("next_no"),
        F.col("snapshot_at").alias("valid_to"),
    )
    return spans.join(
        following, (F.col("database") == F.col("next_database")) & (F.col("next_no") == F.col("last_no") + 1), "left"
    ).select(
        "database",
        "id",
        *[F.col(f"v.{c}").alias(c) for c in columns],
        "valid_from",
        "valid_to",
        F.col("valid_to").isNull().alias("is_current"),
    )


def tag_assets(elements: DataFrame, attributes: DataFrame) -> DataFrame:
    """The current mapping of tags to assets: one row per PI Point attribute with its element, whether
    or not the point exists (``point_web_id`` null: the reference is broken)."""
    current_elements = elements.where("is_current").select(
        F.col("database"),
        F.col("id").alias("element_id"),
        F.col("name").alias("element_name"),
        F.col("path").alias("element_path"),
        F.col("template").alias("element_template"),
        F.col("categories").alias("element_categories"),
    )
    points = attributes.where(F.col("is_current") & (F.col("data_reference") == "PI Point")).select(
        "database",
        F.col("point_web_id").alias("web_id"),
        "tag",
        F.col("id").alias("attribute_id"),
        F.col("name").alias("attribute_name"),
        F.col("path").alias("attribute_path"),
        "element_path",
        "units",
    )
    return points.join(current_elements, ["database", "element_path"], "left")


def hourly_with_assets(hourly: DataFrame, tag_assets: DataFrame) -> DataFrame:
    """Hourly aggregates of the tags that AF attributes reference, with the element and attribute (a tag
    referenced by two attributes appears once for each)."""
    assets = tag_assets.where(F.col("web_id").isNotNull()).select(
        "web_id", "element_path", "element_name", "element_template", "attribute_name", "attribute_path"
    )
    return hourly.join(assets, "web_id")
