"""What a query for one tag over one day reads, on the tables a pipeline left behind.

    python -m benchmarks.tag_query --work /tmp/osipi-scale-XXXX [--optimize]

``--work`` is a local pipeline's directory (``benchmarks.pipeline_scale`` prints and keeps them). For
silver and bronze it picks tags spread over the table and a day inside their coverage, and prints per
table: its files and rows, the files whose statistics (web_id, timestamp) can hold the tag's day (the
files Delta's data skipping leaves to read), the rows the scan returned, and the query's seconds (median
of three). ``--optimize`` runs ``OPTIMIZE`` on both tables first (on a clustered table it clusters the
files by its keys) and measures again, so the two layouts are compared in one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq

from devtools.local_pipeline import LocalPipeline

TABLES = {"silver": "pi_timeseries_silver", "bronze": "pi_recorded_bronze"}
PREFIX = 32  # delta.dataSkippingStringPrefixLength: string statistics keep this many characters


def active_files(location: Path) -> list[dict]:
    """The snapshot's files with their statistics, from the Delta log (checkpoint, then later commits)."""
    log = location / "_delta_log"
    files: dict[str, dict] = {}
    start = 0
    pointer = log / "_last_checkpoint"
    if pointer.exists():
        version = json.loads(pointer.read_text())["version"]
        for part in sorted(log.glob(f"{version:020d}.checkpoint*.parquet")):
            for add in pq.read_table(part, columns=["add"]).column("add").to_pylist():
                if add:
                    files[add["path"]] = add
        start = version + 1
    for commit in sorted(log.glob("*.json")):
        if int(commit.name.split(".")[0]) < start:
            continue
        actions = [json.loads(line) for line in commit.read_text().splitlines()]
        for action in actions:  # a merge removes a file and adds it back with its deletion vector
            if "remove" in action:
                files.pop(action["remove"]["path"], None)
        for action in actions:
            if "add" in action:
                files[action["add"]["path"]] = action["add"]
    return list(files.values())


def may_hold(add: dict, web_id: str, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether the file's statistics allow a row of ``web_id`` in [start, end) (no statistics: yes)."""
    stats = json.loads(add.get("stats") or "{}")
    low, high = stats.get("minValues") or {}, stats.get("maxValues") or {}
    if "web_id" in low and "web_id" in high:
        key = web_id[:PREFIX]
        if key < low["web_id"][:PREFIX] or key > high["web_id"][:PREFIX]:
            return False
    if "timestamp" in low and "timestamp" in high:
        first = dt.datetime.fromisoformat(low["timestamp"].replace("Z", "+00:00"))
        last = dt.datetime.fromisoformat(high["timestamp"].replace("Z", "+00:00"))
        if last < start or first >= end:
            return False
    return True


def scan_rows(frame) -> int:
    """Rows the query's table scans returned (after file skipping and Parquet row-group filters)."""
    info = frame.executionInfo
    return sum(
        m.value
        for plan in (info.metrics._metrics if info and info.metrics else [])
        if plan.name.startswith("Scan")
        for m in plan.metrics
        if m.name == "numOutputRows"
    )


def measure(spark, database: str, samples: list[tuple[str, dt.datetime]]) -> list[dict]:
    out = []
    for label, table in TABLES.items():
        name = f"{database}.{table}"
        detail = spark.sql(f"DESCRIBE DETAIL {name}").first()
        files = active_files(Path(detail.location.removeprefix("file:")))
        rows = spark.read.table(name).count()
        for web_id, day in samples:
            end = day + dt.timedelta(days=1)
            query = (
                f"SELECT count(*) AS n, avg(value_double) AS mean FROM {name} WHERE web_id = '{web_id}' "
                f"AND timestamp >= TIMESTAMP'{day.isoformat()}' AND timestamp < TIMESTAMP'{end.isoformat()}'"
                + (" AND record_kind = 'value'" if label == "bronze" else "")
            )
            seconds, scanned, found = [], 0, 0
            for _ in range(3):
                frame = spark.sql(query)
                began = time.perf_counter()
                found = frame.collect()[0].n
                seconds.append(time.perf_counter() - began)
                scanned = scan_rows(frame)
            out.append(
                {
                    "table": label,
                    "files": len(files),
                    "rows": rows,
                    "tag_rows": found,
                    "files_to_read": sum(may_hold(f, web_id, day, end) for f in files),
                    "rows_scanned": scanned,
                    "seconds": statistics.median(seconds),
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="the pipeline's local directory")
    parser.add_argument("--database", default="osipi")
    parser.add_argument("--tags", type=int, default=3, help="tags sampled (spread over the table)")
    parser.add_argument("--optimize", action="store_true", help="also measure after OPTIMIZE of both tables")
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    pipeline = LocalPipeline(
        args.work, {}, database=args.database, spark_conf={"spark.driver.memory": args.driver_memory}
    )
    spark = pipeline.spark
    try:
        marks = spark.sql(
            f"SELECT web_id, coverage_start, watermark FROM {args.database}.pi_watermarks "
            "WHERE watermark IS NOT NULL ORDER BY web_id"
        ).collect()
        step = max(1, len(marks) // args.tags)
        samples = []
        for mark in marks[::step][: args.tags]:
            middle = mark.coverage_start + (mark.watermark - mark.coverage_start) / 2
            day = middle.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=dt.UTC)
            samples.append((mark.web_id, day))
        layouts = [("as written", measure(spark, args.database, samples))]
        if args.optimize:
            for table in TABLES.values():
                spark.sql(f"OPTIMIZE {args.database}.{table}")
            layouts.append(("after OPTIMIZE", measure(spark, args.database, samples)))
    finally:
        pipeline.stop()
    for layout, rows in layouts:
        for label in TABLES:
            mine = [r for r in rows if r["table"] == label]
            first = mine[0]
            print(
                f"{label} {layout}: {first['rows']:,} rows in {first['files']:,} files; one tag x one day "
                f"({statistics.mean(r['tag_rows'] for r in mine):,.0f} rows): files to read "
                f"{statistics.mean(r['files_to_read'] for r in mine):,.1f}, rows scanned "
                f"{statistics.mean(r['rows_scanned'] for r in mine):,.0f}, "
                f"{statistics.mean(r['seconds'] for r in mine):.2f}s",
                flush=True,
            )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"tag_query-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(),
                "work": str(args.work),
                "samples": [(w, d.isoformat()) for w, d in samples],
                "layouts": dict(layouts),
            },
            indent=2,
        )
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
