"""The real pipeline (bronze, silver, gold) at scale on local Spark Declarative Pipelines with Delta.

    .venv/bin/python -m benchmarks.pipeline_scale --tags 30000 --backfill 1d --incremental 15m

One simulator process serves ``--tags`` points, one pipeline runs two triggered updates:
  backfill     the first update reads ``--backfill`` of every tag, up to ``--incremental`` ago (the
               pipeline's ``pi.settle_lag`` holds the last ``--incremental`` back);
  incremental  the second update, with the lag set to 0, reads the ``--incremental`` of new data every
               tag gained since: what an every-15-minutes schedule reads, on top of a day of history.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=30000)
    parser.add_argument("--backfill", default="1d")
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
        first = "backfill" if "backfill" in cases else "incremental"
        pipeline = LocalPipeline(Path(tempfile.mkdtemp(prefix="osipi-scale-")), {
            "pi.url": url, "pi.backfill_start": f"*-{args.backfill if first == 'backfill' else args.incremental}",
            "pi.settle_lag": args.incremental if first == "backfill" else "0s", "pi.lookback": "0s",
            "pi.max_window": "1d", "pi.partitions": "8"}, master=args.master,
            spark_conf={"spark.driver.memory": args.driver_memory})
        rows.append(timed_update(pipeline, first, args.backfill if first == "backfill" else args.incremental))
        if first == "backfill" and "incremental" in cases:
            pipeline.configuration["pi.settle_lag"] = "0s"
            rows.append(timed_update(pipeline, "incremental", args.incremental))
        pipeline.stop()
        for r in rows:
            flows = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(r["flows"].items()))
            print(f"{r['case']}: {args.tags} tags x {r['window']}: {r['values']:,} values in {r['seconds']:.1f}s "
                  f"({r['values_per_s']:,.0f} values/s), silver {r['silver_rows']:,} rows, failed windows "
                  f"{r['failed_windows']}; flows: {flows}", flush=True)
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
