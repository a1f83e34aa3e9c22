"""Compare the silver table with the simulator's ground truth over every window bronze covers.

For each tag, the covered range is ``[coverage_start, watermark]`` from ``pi_watermarks``. Truth comes from
``pi_simulator.truth`` (generated independently of the connector); silver rows in that range are matched
by (tag, timestamp, sequence) and compared field by field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector_lib.timeutil import epoch_micros, from_epoch_micros
from connector_lib.values import TYPED_FIELDS
from pi_simulator import truth as pi_truth
from pi_simulator.model import Archive

COMPARED = TYPED_FIELDS


@dataclass
class Reconciliation:
    silver: int = 0  # silver rows inside the covered ranges
    truth: int = 0
    missing: int = 0  # truth rows without an equal silver row
    duplicated: int = 0  # silver rows beyond the first for one key
    mismatched: int = 0  # key present, some field differs (also counted in missing)
    unexpected: int = 0  # silver rows in range with no truth row
    tags: int = 0
    behind_watermark: int = 0  # truth rows up to a watermark that bronze does not hold (watermark too far)
    #: the first few keys (tag, epoch microseconds, sequence) missing from silver, for the report of a failure
    missing_keys: list = field(default_factory=list)

    def line(self) -> str:
        return f"RECONCILE silver={self.silver} truth={self.truth} missing={self.missing} duplicated={self.duplicated}"

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected or self.mismatched or self.behind_watermark)


def reconcile(
    spark,
    archive: Archive,
    silver_table: str = "pi_timeseries_silver",
    watermark_table: str = "pi_watermarks",
    as_of: dt.datetime | None = None,
    bronze_table: str | None = None,
    exclude_tags: set[str] | frozenset[str] = frozenset(),
) -> Reconciliation:
    """``as_of``: compare with the archive as the server showed it then (late arrivals and edits, see
    ``pi_simulator.ArchiveChanges``). ``bronze_table``: also check that bronze holds every truth key up to
    each watermark (a watermark never passes data that is not in bronze)."""
    marks = (
        spark.read.table(watermark_table)
        .where("watermark IS NOT NULL")
        .selectExpr("web_id", "tag", "unix_micros(coverage_start) AS lo", "unix_micros(watermark) AS hi")
        .collect()
    )
    marks = [m for m in marks if m.tag not in exclude_tags]
    result = Reconciliation(tags=len(marks))
    if not marks:
        return result
    spark.createDataFrame(
        [(m.web_id, m.lo, m.hi) for m in marks], "web_id string, lo long, hi long"
    ).createOrReplaceTempView("_reconcile_ranges")
    rows = spark.sql(f"""
        SELECT s.tag, unix_micros(s.timestamp) AS ts, s.sequence, {", ".join("s." + c for c in COMPARED)}
        FROM {silver_table} s JOIN _reconcile_ranges r ON s.web_id = r.web_id
        WHERE unix_micros(s.timestamp) BETWEEN r.lo AND r.hi""").collect()
    silver: dict[tuple, list[tuple]] = {}
    for row in rows:
        silver.setdefault((row.tag, row.ts, row.sequence), []).append(tuple(row[c] for c in COMPARED))
    result.silver = len(rows)
    result.duplicated = sum(len(v) - 1 for v in silver.values())
    in_bronze = None
    if bronze_table is not None:
        in_bronze = {
            (r.tag, r.ts, r.sequence)
            for r in spark.sql(f"""
            SELECT DISTINCT b.tag, unix_micros(b.timestamp) AS ts, b.sequence
            FROM {bronze_table} b JOIN _reconcile_ranges r ON b.web_id = r.web_id
            WHERE b.record_kind = 'value' AND unix_micros(b.timestamp) BETWEEN r.lo AND r.hi""").collect()
        }
    seen = set()
    for mark in marks:
        for t in pi_truth.recorded(
            archive, mark.tag, from_epoch_micros(mark.lo), from_epoch_micros(mark.hi), as_of=as_of
        ):
            key = (t["tag"], epoch_micros(t["timestamp"]), t["sequence"])
            seen.add(key)
            result.truth += 1
            if in_bronze is not None and key not in in_bronze:
                result.behind_watermark += 1
            expected = tuple(t[c] for c in COMPARED)
            found = silver.get(key)
            if not found:
                result.missing += 1
                if len(result.missing_keys) < 5:
                    result.missing_keys.append(key)
            elif expected not in found:
                result.missing += 1
                result.mismatched += 1
    result.unexpected = sum(len(v) for k, v in silver.items() if k not in seen)
    return result
