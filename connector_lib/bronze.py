"""The bronze row: one layout for value rows, per-window completion records and quarantined payloads.

The data source schema, the Arrow schema the executors emit and the pipelines' bronze table all come
from :data:`BRONZE_COLUMNS`, so a column added here reaches every one of them.
"""

from __future__ import annotations

import pyarrow as pa

# (name, Spark type)
BRONZE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_kind", "string"),  # value | window | quarantine
    ("web_id", "string"),
    ("tag", "string"),
    ("sequence", "int"),
    ("timestamp", "timestamp"),
    ("timestamp_raw", "string"),
    ("value_type", "string"),
    ("value_double", "double"),
    ("value_string", "string"),
    ("state_code", "int"),
    ("state_name", "string"),
    ("is_system", "boolean"),
    ("good", "boolean"),
    ("questionable", "boolean"),
    ("substituted", "boolean"),
    ("annotated", "boolean"),
    ("units", "string"),
    ("errors", "string"),
    ("window_start", "timestamp"),
    ("window_end", "timestamp"),
    ("prior_watermark", "timestamp"),
    ("status", "string"),
    ("error", "string"),
    ("value_count", "bigint"),
    ("point_type", "string"),
    ("digital_set", "string"),
    ("raw", "string"),
    ("extracted_at", "timestamp"),
)
COLUMN_NAMES = tuple(name for name, _ in BRONZE_COLUMNS)
SPARK_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in BRONZE_COLUMNS)

_ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
ARROW_SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in BRONZE_COLUMNS])
# Delta collects min/max statistics on the first 32 columns by default: all 28 here, which measured 30-40%
# of the bronze write (docs/performance.md). Reads of bronze filter on these four only (extracted_at: the
# completion records committed since the last refresh, read at pipeline start, connector_lib.spark.state).
TABLE_PROPERTIES = {"delta.dataSkippingStatsColumns": "record_kind,web_id,timestamp,extracted_at"}


def row_builder(names: tuple[str, ...]):
    """``row(**columns)`` for a layout of ``names``: the named columns set, every other one null."""
    index = {name: i for i, name in enumerate(names)}

    def row(**cols) -> tuple:
        out = [None] * len(names)
        for name, value in cols.items():
            out[index[name]] = value
        return tuple(out)

    return row


row = row_builder(COLUMN_NAMES)  # a bronze row
