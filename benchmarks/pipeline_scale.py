"""The real pipeline (bronze, silver, gold) at scale on local Spark Declarative Pipelines with Delta.

    .venv/bin/python -m benchmarks.pipeline_scale --tags 30000 --backfill 1d --incremental 15m

One simulator process serves ``--tags`` points. Update 1 backfills ``--backfill`` for every tag; after
waiting ``--incremental`` of wall time is not practical, so update 2 is the incremental case measured
the way production runs it: a fresh pipeline whose backfill start is ``--incremental`` ago (the windows
an every-15-minutes schedule reads). Prints wall time, values and values/s per update and seconds per
flow; writes JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import start_simulator  # noqa: E402
from devtools.local_pipeline import LocalPipeline  # noqa: E402


def run_case(url: str, backfill: str, label: str, master: str) -> dict:
    pipeline = LocalPipeline(Path(tempfile.mkdtemp(prefix=f"osipi-scale-{label}-")), {
        "pi.url": url, "pi.backfill_start": f"*-{backfill}", "pi.settle_lag": "0s", "pi.lookback": "0s",
        "pi.max_window": "1d", "pi.partitions": "8"}, master=master)
    spark = pipeline.spark  # JVM start is not part of the measurement
    started = time.perf_counter()
    result = pipeline.update()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{label} update failed: {result.error}")
    values = spark.sql("SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'value'").first().n
    silver = spark.read.table("pi_timeseries_silver").count()
    failed = spark.sql("SELECT count(*) AS n FROM pi_extraction_log WHERE status <> 'ok'").first().n
    pipeline.stop()
    return {"case": label, "window": backfill, "seconds": seconds, "values": values, "silver_rows": silver,
            "failed_windows": failed, "values_per_s": values / seconds, "flows": result.flow_seconds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=30000)
    parser.add_argument("--backfill", default="1d")
    parser.add_argument("--incremental", default="15m")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--cases", default="incremental,backfill")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    proc, url = start_simulator(args.tags, 42)
    rows = []
    try:
        windows = {"incremental": args.incremental, "backfill": args.backfill}
        for case in args.cases.split(","):
            rows.append(run_case(url, windows[case], case, args.master))
            r = rows[-1]
            flows = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(r["flows"].items()))
            print(f"{case}: {args.tags} tags x {r['window']}: {r['values']} values in {r['seconds']:.1f}s "
                  f"({r['values_per_s']:,.0f} values/s), silver {r['silver_rows']}, failed windows "
                  f"{r['failed_windows']}; flows: {flows}", flush=True)
    finally:
        proc.kill()
    import pyspark

    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"pipeline_scale-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({"when": dt.datetime.now(dt.timezone.utc).isoformat(), "cores": os.cpu_count(),
                                "python": platform.python_version(), "pyspark": pyspark.__version__,
                                "tags": args.tags, "master": args.master, "results": rows}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
