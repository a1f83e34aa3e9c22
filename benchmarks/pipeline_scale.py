"""The real pipeline (bronze, silver, gold) at scale on local Spark Declarative Pipelines with Delta.

    .venv/bin/python -m benchmarks.pipeline_scale --tags 30000 --backfill 1d --incremental 15m
    .venv/bin/python -m benchmarks.pipeline_scale --tags 10000 --backfill 1d,4d,16d --incremental 15m

One simulator process serves ``--tags`` points; for each ``--backfill`` (several, comma-separated, give the
same incremental update on top of histories of different lengths, side by side in one run) one pipeline
runs two triggered updates:
  backfill     the first update reads ``--backfill`` of every tag, up to ``--incremental`` ago (the
               pipeline's ``pi.settle_lag`` holds the last ``--incremental`` back);
  incremental  the second update reads the ``--incremental`` that follows the backfill's end (its settle
               lag covers the time the backfill took): what an every-15-minutes schedule reads, on top
               of the history.
``--cases incremental`` alone runs a fresh pipeline over the last ``--incremental`` instead (quick).
Prints wall time, values and values/s per update and seconds per flow; writes JSON under
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import start_simulator, versions  # noqa: E402
from connector_lib.spark.utc import latest  # noqa: E402
from connector_lib.timeutil import parse_duration  # noqa: E402
from devtools.local_pipeline import LocalPipeline  # noqa: E402


def timed_update(pipeline: LocalPipeline, label: str, window: str) -> dict:
    spark = pipeline.spark  # JVM start is not part of the measurement
    before = spark.sql("SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'value'").first().n \
        if spark.catalog.tableExists("pi_recorded_bronze") else 0
    started = time.perf_counter()
    result = pipeline.update()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{label} update failed: {result.error}")
    values = spark.sql("SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'value'").first().n - before
    silver = spark.read.table("pi_timeseries_silver").count()
    failed = spark.sql("SELECT count(*) AS n FROM pi_extraction_log WHERE status <> 'ok'").first().n
    return {"case": label, "window": window, "seconds": seconds, "values": values, "silver_rows": silver,
            "failed_windows": failed, "values_per_s": values / seconds, "flows": result.flow_seconds()}


def run_pipeline(args, cases: list[str], url: str, backfill: str) -> list[dict]:
    """One pipeline in a directory of its own: the backfill, then the incremental update on top of it."""
    rows = []
    first = "backfill" if "backfill" in cases else "incremental"
    pipeline = LocalPipeline(Path(tempfile.mkdtemp(prefix="osipi-scale-")), {
        "pi.url": url, "pi.backfill_start": f"*-{backfill if first == 'backfill' else args.incremental}",
        "pi.settle_lag": args.incremental if first == "backfill" else "0s", "pi.lookback": "0s",
        "pi.max_window": "1d", "pi.partitions": "8"}, master=args.master,
        spark_conf={"spark.driver.memory": args.driver_memory})
    try:
        rows.append(timed_update(pipeline, first, backfill if first == "backfill" else args.incremental))
        if first == "backfill" and "incremental" in cases:
            # the incremental update ends --incremental after the backfill's end, however long the backfill
            # took, so every history gets the same amount of new data
            backfill_end = latest(pipeline.spark.read.table("pi_watermarks"), "watermark")
            lag = dt.datetime.now(dt.timezone.utc) - (backfill_end + parse_duration(args.incremental))
            pipeline.configuration["pi.settle_lag"] = f"{max(int(lag.total_seconds()), 0)}s"
            rows.append(timed_update(pipeline, "incremental", args.incremental))
    finally:
        pipeline.stop()
    for row in rows:
        row["history"] = backfill if first == "backfill" else "none"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=30000)
    parser.add_argument("--backfill", default="1d", help="history before the incremental update; a comma list "
                                                          "runs one pipeline per history")
    parser.add_argument("--incremental", default="15m")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--cases", default="backfill,incremental", help="backfill,incremental or incremental")
    parser.add_argument("--driver-memory", default="6g", help="heap of the local Spark JVM (default 6g)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    cases = args.cases.split(",")
    proc, url = start_simulator(args.tags, 42)
    rows = []
    try:
        for backfill in args.backfill.split(","):
            rows += run_pipeline(args, cases, url, backfill)
        for r in rows:
            flows = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(r["flows"].items()))
            print(f"{r['case']} on {r['history']}: {args.tags} tags x {r['window']}: {r['values']:,} values in "
                  f"{r['seconds']:.1f}s ({r['values_per_s']:,.0f} values/s), silver {r['silver_rows']:,} rows, "
                  f"failed windows {r['failed_windows']}; flows: {flows}", flush=True)
    finally:
        proc.kill()
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"pipeline_scale-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({"when": dt.datetime.now(dt.timezone.utc).isoformat(), "cores": os.cpu_count(),
                                "versions": versions(), "tags": args.tags, "master": args.master,
                                "driver_memory": args.driver_memory, "results": rows}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
