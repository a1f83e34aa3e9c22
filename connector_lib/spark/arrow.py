"""Bronze rows as Arrow record batches: Spark takes them column by column instead of converting every
Python tuple, which is most of a Python data source's per-row cost."""

from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa

from ..extract import BRONZE_COLUMNS

_ARROW_TYPES = {
    "string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(),
    "boolean": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"),
}
SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in BRONZE_COLUMNS])
BATCH_ROWS = 8192


def record_batches(rows: Iterable[tuple], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Group rows into batches of at most ``batch_rows``; memory stays bounded by one batch."""
    buffer: list[tuple] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= batch_rows:
            yield _batch(buffer)
            buffer = []
    if buffer:
        yield _batch(buffer)


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    columns = list(zip(*rows))
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, SCHEMA)], schema=SCHEMA)
