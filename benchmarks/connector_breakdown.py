"""Where the connector's time goes inside Spark: one window read into the ``noop`` sink (no write at all),
into Parquet and into a Delta table with bronze's table properties, in one Spark session and one run, with
the CPU seconds each party (JVM, Python workers, simulator) spent on each.

    .venv/bin/python -m benchmarks.connector_breakdown --tags 1000 --window 6h

The difference between the ``noop`` line and the others is the cost of writing; the JVM's share of it is
what a bigger cluster spreads over more cores, and what a narrower bronze row would shrink.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import ceiling, cpu_by_party, start_simulator
from connector_lib.bronze import SPARK_SCHEMA, TABLE_PROPERTIES
from connector_lib.config import PIConfig
from connector_lib.spark.datasource import PIDataSource, reader_options
from connector_lib.timeutil import parse_duration
from devtools.local_pipeline import LocalPipeline

SINKS = ("noop", "parquet", "delta", "noop")  # noop twice: the first pays the JIT warm-up of the read path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--window", default="6h")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", default="8")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    proc, url = start_simulator(args.tags, 42, hours=parse_duration(args.window).total_seconds() / 3600 + 1)
    try:
        end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
        start = end - parse_duration(args.window)
        ceiling(url, start, end)  # warms the simulator's segment cache, as in benchmarks.throughput
        best = ceiling(url, start, end)
        values = best["values"]
        print(f"ceiling (no Spark): {best['seconds']:.1f}s, {best['values_per_s']:,.0f} values/s ({values} values)")
        work = Path(tempfile.mkdtemp(prefix="osipi-breakdown-"))
        spark = LocalPipeline(work, {}, master=args.master).spark
        spark.dataSource.register(PIDataSource)
        config = PIConfig.from_mapping({"pi.url": url, "pi.partitions": args.partitions})
        df = (
            spark.read.format("pi")
            .options(**reader_options(config))
            .option("start", start.isoformat())
            .option("end", end.isoformat())
            .load()
        )
        properties = ", ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
        for i, sink in enumerate(SINKS):
            path = str(work / f"{sink}{i}")
            if sink == "delta":
                spark.sql(f"CREATE TABLE delta.`{path}` ({SPARK_SCHEMA}) USING delta TBLPROPERTIES ({properties})")
            before = cpu_by_party(proc.pid)
            started = time.perf_counter()
            writer = df.write.mode("append")
            if sink == "noop":
                writer.format("noop").mode("overwrite").save()
            else:
                writer.format(sink).save(path)
            seconds = time.perf_counter() - started
            cpu = {k: round(v - before[k], 1) for k, v in cpu_by_party(proc.pid).items() if k != "driver"}
            print(
                f"{args.master} partitions={args.partitions} sink={sink}: {seconds:.1f}s, "
                f"{values / seconds:,.0f} values/s; CPU seconds {cpu}",
                flush=True,
            )
        spark.stop()
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
