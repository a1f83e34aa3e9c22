"""Event frame silver and gold: the current state of each frame, its attribute values, alarms, and the
KPIs (downtime per element and day, batches per product and day). Pure functions of DataFrames, tested
with chispa.

Bronze holds every read of a frame; the current state is the latest read of each (database, AF Id)
(``current_frames``, ``newest``), which ``ef_curation`` merges one micro-batch at a time. Frames
reference elements by WebID; ``with_elements`` maps them to the element's AF Id through every version of
``pi_af_elements`` (a WebID read before a rename still resolves) and then to the element's current path,
name and template.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ..eventframes import EF_COLUMN_NAMES
from .utc import day_start, utc_date

KEYS = ("database", "id")
FRAME_COLUMNS = (
    "database",
    "id",
    "web_id",
    "name",
    "path",
    "template",
    "categories",
    "description",
    "start_time",
    "end_time",
    "in_progress",
    "duration_s",
    "severity",
    "can_be_acknowledged",
    "is_acknowledged",
    "acknowledged_by",
    "acknowledged_at",
    "values_captured",
    "element_web_id",
    "element_web_ids",
    "attributes",
    "read_id",
    "last_read_at",
)


def _seconds(later: Column, earlier: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)) / 1e6


def frame_changes(ef_bronze: DataFrame) -> DataFrame:
    """Every read of every frame, in silver's columns (works on a stream: no aggregation)."""
    return (
        ef_bronze.where(F.col("record_kind") == "event_frame")
        .withColumn("duration_s", F.when(~F.col("in_progress"), _seconds(F.col("end_time"), F.col("start_time"))))
        .withColumn("element_web_id", F.col("element_web_ids")[0])
        .withColumnRenamed("extracted_at", "last_read_at")
        .select(*FRAME_COLUMNS)
    )


def current_frames(ef_bronze: DataFrame) -> DataFrame:
    """One row per frame: its latest read."""
    return newest(frame_changes(ef_bronze))


def newest(frames: DataFrame) -> DataFrame:
    """The latest read of each frame among ``frames`` (silver's columns)."""
    latest = Window.partitionBy(*KEYS).orderBy(F.col("last_read_at").desc(), F.col("read_id").desc())
    # an explicit select, not .drop("_n"): in a pipeline query function Spark Connect's drop analyses the
    # plan eagerly, before the graph's views exist (TABLE_OR_VIEW_NOT_FOUND at registration)
    return frames.withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1).select(*FRAME_COLUMNS)


def after_snapshot(ef_bronze: DataFrame, af_recent: DataFrame) -> DataFrame:
    """``ef_bronze`` unchanged, in a plan that reads ``af_recent`` (this update's AF bronze rows): a flow
    reading it waits for this update's AF snapshot, which the event frame merge resolves elements with.
    A left join with no rows on its right side adds nothing and drops nothing."""
    nothing = af_recent.select(F.col("database").alias("_af_database")).where(F.lit(False))
    return ef_bronze.join(nothing, F.col("database") == F.col("_af_database"), "left").select(*EF_COLUMN_NAMES)


def attribute_values(frames: DataFrame) -> DataFrame:
    """One row per attribute of each current frame: the value as text (a string, a number, or a digital
    or system state's name), as a double when numeric, its units and quality."""
    exploded = frames.select(
        "database",
        F.col("id").alias("frame_id"),
        F.col("name").alias("frame_name"),
        "template",
        F.explode("attributes").alias("attribute", "json"),
    )
    value = F.get_json_object("json", "$.Value")
    state = F.get_json_object("json", "$.Value.Name")
    return exploded.select(
        "database",
        "frame_id",
        "frame_name",
        "template",
        "attribute",
        _value_text(F.col("json")).alias("value"),
        F.when(state.isNull(), value.try_cast("double")).alias("value_double"),
        state.isNotNull().alias("is_state"),
        F.nullif(F.get_json_object("json", "$.UnitsAbbreviation"), F.lit("")).alias("units"),
        F.get_json_object("json", "$.Good").cast("boolean").alias("good"),
    )


def _value_text(value_json: Column) -> Column:
    """A PI value object's value as text: a digital or system state's name, else the value itself."""
    return F.coalesce(F.get_json_object(value_json, "$.Value.Name"), F.get_json_object(value_json, "$.Value"))


def attribute(name: str) -> Column:
    """The value of one frame attribute (as text) from the ``attributes`` map."""
    return _value_text(F.col("attributes")[name])


def with_elements(frames: DataFrame, elements: DataFrame) -> DataFrame:
    """Frames with their primary element's AF Id and current path, name and template (null when the
    element is not in the AF snapshots)."""
    # groupBy, not distinct(): like drop, distinct analyses eagerly in a pipeline query function
    ids = elements.groupBy("database", F.col("web_id").alias("element_web_id")).agg(F.max("id").alias("element_id"))
    current = elements.where("is_current").select(
        "database",
        F.col("id").alias("element_id"),
        F.col("path").alias("element_path"),
        F.col("name").alias("element_name"),
        F.col("template").alias("element_template"),
    )
    return frames.join(ids, ["database", "element_web_id"], "left").join(current, ["database", "element_id"], "left")


def alarms(frames: DataFrame) -> DataFrame:
    """Frames that can be acknowledged, with how long they lasted and took to be acknowledged."""
    return frames.where("can_be_acknowledged").select(
        "database",
        "id",
        "name",
        "template",
        "severity",
        "start_time",
        "end_time",
        "in_progress",
        "duration_s",
        "is_acknowledged",
        "acknowledged_by",
        "acknowledged_at",
        _seconds(F.col("acknowledged_at"), F.col("start_time")).alias("seconds_to_acknowledge"),
        "element_id",
        "element_path",
        "element_name",
        "last_read_at",
    )


def closed(frames: DataFrame, template: str) -> DataFrame:
    """The frames of ``template`` (any case) that have closed: what the KPIs count."""
    return frames.where((F.lower("template") == template.lower()) & ~F.col("in_progress"))


def downtime_daily(frames: DataFrame, template: str) -> DataFrame:
    """Minutes of closed downtime per element and UTC day (a frame across midnight counts in both days);
    frames still in progress count once they close."""
    days = closed(frames, template).withColumn(
        "day", F.explode(F.sequence(utc_date("start_time"), utc_date("end_time")))
    )
    starts, ends = day_start("day"), day_start(F.date_add("day", 1))  # INTERVAL 1 DAY follows the session zone
    overlap = _seconds(F.least("end_time", ends), F.greatest("start_time", starts))
    return (
        days.where(overlap > 0)
        .groupBy("database", "element_id", "element_path", "element_name", "day")
        .agg(F.round(F.sum(overlap) / 60, 3).alias("downtime_minutes"), F.count(F.lit(1)).alias("frames"))
    )


def batches_by_product(frames: DataFrame, template: str, product_attribute: str) -> DataFrame:
    """Closed batches per product and UTC day of their start: count and durations in minutes."""
    minutes = F.col("duration_s") / 60
    return (
        closed(frames, template)
        .withColumn("product", attribute(product_attribute))
        .withColumn("day", utc_date("start_time"))
        .groupBy("database", "product", "day")
        .agg(
            F.count(F.lit(1)).alias("batches"),
            F.round(F.sum(minutes), 3).alias("total_minutes"),
            F.round(F.avg(minutes), 3).alias("mean_minutes"),
            F.round(F.min(minutes), 3).alias("min_minutes"),
            F.round(F.max(minutes), 3).alias("max_minutes"),
        )
    )
