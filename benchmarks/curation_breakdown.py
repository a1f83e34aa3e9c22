"""Where the time of one continuous micro-batch of silver goes: the merges of silver, the watermarks and
hourly gold, timed one by one on the same micro-batch.

    .venv/bin/python -m benchmarks.curation_breakdown --tags 1000 --seconds 60

Runs the pipeline continuously (``devtools.continuous``, a 5-second processing-time trigger, Stream Updates)
against a simulator of ``--tags`` points for ``--seconds``, drains it, then takes bronze's last micro-batch
(the rows of its last commit) and applies it ``--rounds`` times the way the micro-batch handler does
(``connector_lib.spark.curation.apply_batch``: bounds, silver, watermarks, gold), timing each merge. A
micro-batch applied again changes nothing, so every round does the same work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import functions as F

from benchmarks.throughput import versions
from connector_lib.spark import curation
from connector_lib.spark.transforms import silver_values
from connector_lib.timeutil import from_epoch_micros
from devtools.continuous import ContinuousPipeline
from devtools.local_pipeline import REPO
from pi_simulator import Archive, SimulatorServer


def timed(seconds: dict, name: str, work, *args) -> None:
    started = time.perf_counter()
    work(*args)
    seconds.setdefault(name, []).append(round(time.perf_counter() - started, 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.curation_breakdown", description=__doc__)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    with SimulatorServer(Archive(n_points=args.tags), max_concurrency=16) as server:
        pipeline = ContinuousPipeline(
            Path(tempfile.mkdtemp(prefix="osipi-breakdown-")),
            {"pi.url": server.url, "pi.read_mode": "updates", "pi.backfill_start": "*-2m", "pi.settle_lag": "1s"},
            interval="5 seconds",
        )
        pipeline.start()
        try:
            pipeline.run_for(args.seconds)
            pipeline.drain()
        finally:
            pipeline.stop()
        spark = pipeline.spark
        targets = curation.Targets.in_schema("spark_catalog.osipi")
        last = spark.sql("SELECT max(extracted_at) AS m FROM pi_recorded_bronze").first().m
        batch = spark.read.table("pi_recorded_bronze").where(
            F.col("extracted_at") >= F.lit(last) - F.expr("INTERVAL 3 SECONDS")
        )
        rows = batch.count()
        seconds: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            window = F.col("record_kind") == "window"
            value = F.col("record_kind") == "value"
            bounds = batch.agg(
                F.min(F.when(value, F.unix_micros("timestamp"))).alias("lo"),
                F.max(F.when(value, F.unix_micros("timestamp"))).alias("hi"),
                F.min(F.when(window, F.unix_micros("window_start"))).alias("window_lo"),
                F.max(F.when(window, F.unix_micros("window_end"))).alias("window_hi"),
            ).first()
            lo, hi = from_epoch_micros(bounds.lo), from_epoch_micros(bounds.hi)
            reach = [from_epoch_micros(m) for m in bounds if m is not None]
            first, last_reach = min(reach), max(reach)
            timed(seconds, "silver", curation.merge_silver, spark, silver_values(batch), targets.silver, lo, hi)
            timed(seconds, "watermarks", curation.merge_watermarks, spark, batch, targets.watermarks)
            timed(seconds, "gold", curation.merge_gold, spark, batch, targets, first, last_reach)
        pipeline.local.stop()
    print(
        f"{args.tags} tags, one micro-batch of {rows} bronze rows: "
        + ", ".join(f"{k} {v} s" for k, v in seconds.items())
    )
    out = REPO / "benchmarks" / "results" / f"curation_breakdown-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"versions": versions(), "tags": args.tags, "rows": rows, "seconds": seconds}, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
