"""Where the connector's time goes inside Spark: one window read into the ``noop`` sink and into Delta,
with different partition counts and request concurrency, in one Spark session and one run.

    .venv/bin/python -m benchmarks.connector_breakdown --tags 1000 --window 6h
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import ceiling, start_simulator  # noqa: E402
from connector_lib.config import PIConfig  # noqa: E402
from connector_lib.spark.datasource import PIDataSource, reader_options  # noqa: E402
from connector_lib.timeutil import parse_duration  # noqa: E402
from devtools.local_pipeline import LocalPipeline  # noqa: E402

CASES = (("2", "4", "noop"), ("8", "4", "noop"), ("8", "4", "delta"), ("2", "8", "noop"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--window", default="6h")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    proc, url = start_simulator(args.tags, 42)
    try:
        end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
        start = end - parse_duration(args.window)
        values = ceiling(url, start, end)["values"]  # also warms the simulator's segment cache
        spark = LocalPipeline(Path(tempfile.mkdtemp()), {}, master=args.master).spark
        spark.dataSource.register(PIDataSource)
        for partitions, concurrency, sink in CASES:
            config = PIConfig.from_mapping({"pi.url": url, "pi.partitions": partitions,
                                            "pi.max_concurrent_requests": concurrency})
            df = (spark.read.format("pi").options(**reader_options(config))
                  .option("start", start.isoformat()).option("end", end.isoformat()).load())
            started = time.perf_counter()
            writer = df.write.mode("overwrite")
            if sink == "noop":
                writer.format("noop").save()
            else:
                writer.format("delta").save(tempfile.mkdtemp())
            seconds = time.perf_counter() - started
            print(f"partitions={partitions} concurrency={concurrency} sink={sink}: {seconds:.1f}s, "
                  f"{values / seconds:,.0f} values/s ({values} values)", flush=True)
        spark.stop()
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
