"""Bronze records as Arrow record batches: Spark takes them column by column instead of converting every
Python tuple, which is most of a Python data source's per-row cost."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from ..bronze import ARROW_SCHEMA

SCHEMA = ARROW_SCHEMA
BATCH_ROWS = 8192


def record_batches(records: Iterable[tuple | pa.RecordBatch], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches pass through (already columnar, one per batch-controller answer); tuples are
    grouped into batches of at most ``batch_rows``. Memory stays bounded by one answer."""
    buffer: list[tuple] = []
    for record in records:
        if isinstance(record, pa.RecordBatch):
            if record.num_rows:
                yield record
            continue
        buffer.append(record)
        if len(buffer) >= batch_rows:
            yield _batch(buffer)
            buffer = []
    if buffer:
        yield _batch(buffer)


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    columns = list(zip(*rows))
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, SCHEMA)], schema=SCHEMA
    )
