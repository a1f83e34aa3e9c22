"""Our connector next to pyspark-pi (PyPI), a peer Python data source for the PI Web API, on the same tags,
window and simulator, side by side in one run.

    .venv/bin/python -m benchmarks.peers --tags 200 --window 1h --rounds 3

One simulator process serves ``--tags`` points; both readers read the recorded values of its Float32 and
Float64 points (pyspark-pi reads points of one type per load, so the comparison keeps to numbers) over the
same window, in one local Spark session (``--master``), each warmed up once on a short window, then in
alternating rounds. Each round is timed around one pass that reads every value and counts it; values/s is
the median over rounds. pyspark-pi keeps system states as rows with a null value (``rowLevelErrorHandling``
``nullify``; its default stops the read at the first one), so both count every recorded event. pyspark-pi resolves its points with ``points/multiple`` and reads through the batch
controller, both of which the simulator serves. Installs ``pyspark-pi`` (without its pinned
dependencies, which the project's own cover) when it is missing. Prints a table and writes JSON under
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PEER = "pyspark-pi==0.3.0"


def ensure_peer() -> None:
    if importlib.util.find_spec("pyspark_pi") is None:
        print(f"installing {PEER} (without dependencies) for the comparison", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", PEER], check=True)


def numeric_tags(tags: int, seed: int) -> list[str]:
    from pi_simulator import Archive

    return [p.name for p in Archive(seed=seed, n_points=tags).points if p.point_type in ("Float32", "Float64")]


def truth_count(tags: list[str], total: int, seed: int, start: dt.datetime, end: dt.datetime) -> int:
    """How many recorded events the simulator holds for ``tags`` in ``[start, end]`` (its ground truth)."""
    from pi_simulator import Archive, truth

    archive = Archive(seed=seed, n_points=total)
    return sum(len(truth.recorded(archive, tag, start, end)) for tag in tags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=200, help="points the simulator serves")
    parser.add_argument("--window", default="1h")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    ensure_peer()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    import warnings

    warnings.filterwarnings("ignore")
    from pyspark.sql import functions as F
    from pyspark_pi import PiDataSource

    from benchmarks.throughput import start_simulator
    from connector_lib.config import PIConfig
    from connector_lib.spark.datasource import PIDataSource, reader_options
    from connector_lib.timeutil import parse_duration
    from devtools.local_pipeline import LocalPipeline

    class PeerSource(PiDataSource):  # the same short name as ours: registered under another
        @classmethod
        def name(cls) -> str:
            return "pyspark_pi"

    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    start = end - parse_duration(args.window)
    warm = (start, start + dt.timedelta(minutes=5))
    tags = numeric_tags(args.tags, args.seed)
    simulator, url = start_simulator(args.tags, args.seed, hours=parse_duration(args.window).total_seconds() / 3600)
    work = Path(tempfile.mkdtemp(prefix="osipi-peers-"))
    spark = LocalPipeline(work, {}, master=args.master).spark
    try:
        spark.dataSource.register(PIDataSource)
        spark.dataSource.register(PeerSource)
        ours_options = reader_options(PIConfig.from_mapping({"pi.url": url, "pi.tags": ",".join(tags)}))
        host = url.removesuffix("/piwebapi")

        def ours(a: dt.datetime, b: dt.datetime) -> int:
            frame = (
                spark.read.format("pi")
                .options(**ours_options)
                .option("start", a.isoformat())
                .option("end", b.isoformat())
            ).load()
            return frame.agg(F.count(F.when(F.col("record_kind") == "value", 1)).alias("n")).collect()[0].n

        def theirs(a: dt.datetime, b: dt.datetime) -> int:
            frame = (
                spark.read.format("pyspark_pi")
                .option("host", host)
                .option("server", "PISIM")
                .option("paths", json.dumps(tags))
                .option("requestType", "recorded")
                .option("rowLevelErrorHandling", "nullify")  # keep system states as rows, as we do
                .option("startTime", a.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .option("endTime", b.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .load()
            )
            return frame.agg(F.count(F.lit(1)).alias("n")).collect()[0].n

        readers = {"osipi-lakeflow": ours, "pyspark-pi 0.3.0": theirs}
        for read in readers.values():
            read(*warm)
        figures: dict[str, list[dict]] = {name: [] for name in readers}
        for _ in range(args.rounds):
            for name, read in readers.items():
                began = time.perf_counter()
                values = read(start, end)
                seconds = time.perf_counter() - began
                figures[name].append({"values": values, "seconds": seconds, "values_per_s": values / seconds})
    finally:
        spark.stop()
        simulator.terminate()
    expected = truth_count(tags, args.tags, args.seed, start, end)
    print(f"\n{len(tags)} numeric tags of {args.tags}, window {args.window}, {args.master}, {args.rounds} rounds")
    print(f"the simulator's truth: {expected} recorded values in the window")
    print(f"{'reader':<18} {'values':>9} {'median s':>9} {'values/s':>10}")
    summary = {}
    for name, runs in figures.items():
        values = runs[-1]["values"]
        seconds = statistics.median(r["seconds"] for r in runs)
        rate = statistics.median(r["values_per_s"] for r in runs)
        summary[name] = {"values": values, "median_seconds": seconds, "median_values_per_s": rate, "rounds": runs}
        print(f"{name:<18} {values:>9} {seconds:>9.2f} {rate:>10.0f}")
    ours_rate, theirs_rate = (summary[n]["median_values_per_s"] for n in readers)
    print(f"ratio osipi-lakeflow / pyspark-pi: {ours_rate / theirs_rate:.2f}")
    out = REPO / "benchmarks" / "results" / f"peers-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "tags": args.tags,
                "numeric_tags": len(tags),
                "window": args.window,
                "truth_values": expected,
                "master": args.master,
                "readers": summary,
            },
            indent=1,
        )
    )
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
