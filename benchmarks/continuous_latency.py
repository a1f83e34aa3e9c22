"""Latency of a continuous pipeline, from a value becoming visible in PI to its row in bronze and in silver,
and the server's work for it: Stream Updates against ``recorded`` polling at the same trigger interval.

    .venv/bin/python -m benchmarks.continuous_latency --tags 1000,10000 --minutes 3 --interval 5s

For each tag count and read mode, a simulator runs in its own process (``python -m pi_simulator serve``,
so its CPU time is its own) and the pipeline runs continuously (``devtools.continuous``: the pipeline files
as Structured Streaming queries with a processing-time trigger, what a continuous Databricks pipeline
runs). After a warm-up in which every tag catches up, a measured window of ``--minutes``:

* latency: the simulator makes each value visible at its own timestamp (no late data), so a value's
  latency to bronze is when the file holding its row was written (Delta's ``_metadata``) minus its
  timestamp, and the same in silver; p50, p95 and max over the values stamped in the window;
* server work: HTTP requests, batch sub-requests and simulator CPU seconds per minute over the window.

Prints one line per run and writes JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.throughput import versions
from devtools.continuous import ContinuousPipeline
from devtools.local_pipeline import REPO, LocalPipeline

TICK = os.sysconf("SC_CLK_TCK")


class Simulator:
    """``python -m pi_simulator serve`` in a child process, with its request counts on demand."""

    def __init__(self, tags: int, work: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.stats = work / "simulator-stats.json"
        self.url = f"http://127.0.0.1:{port}/piwebapi"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pi_simulator", "serve", "--tags", str(tags), "--port", str(port)]
            + ["--segment-cache", str(max(8192, 3 * tags)), "--max-concurrency", "16", "--stats", str(self.stats)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "PI Web API simulator" not in line:
            raise RuntimeError(f"simulator did not start: {line}")

    def work(self) -> dict[str, float]:
        """Requests and sub-requests answered, and CPU seconds used, so far."""
        self.stats.unlink(missing_ok=True)
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.stats.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator wrote no stats")
            time.sleep(0.05)
        counts = json.loads(self.stats.read_text())
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        counts["cpu_s"] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        return counts

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def percentiles(spark, table: str, lo: dt.datetime, hi: dt.datetime) -> dict[str, float]:
    """p50, p95 and max of (file written - value timestamp) over the value rows stamped in [lo, hi)."""
    kind = "AND record_kind = 'value'" if table == "pi_recorded_bronze" else ""
    row = spark.sql(f"""
        SELECT percentile_approx(lag, 0.5, 10000) AS p50, percentile_approx(lag, 0.95, 10000) AS p95,
               max(lag) AS max, count(*) AS n
        FROM (SELECT (unix_micros(_metadata.file_modification_time) - unix_micros(timestamp)) / 1e6 AS lag
              FROM {table}
              WHERE timestamp >= TIMESTAMP'{lo:%Y-%m-%d %H:%M:%S}' AND timestamp < TIMESTAMP'{hi:%Y-%m-%d %H:%M:%S}'
                {kind})""").first()
    return {"p50_s": row.p50, "p95_s": row.p95, "max_s": row.max, "values": row.n}


def batch_seconds(query) -> dict[str, float]:
    """Median and longest duration (s) of a query's recent micro-batches that read something."""
    took = []
    for progress in query.recentProgress:
        rows = sum(_get(source, "numInputRows") or 0 for source in _get(progress, "sources") or [])
        duration = (_get(progress, "durationMs") or {}).get("triggerExecution")
        if rows and duration:
            took.append(duration / 1000)
    took.sort()
    return {"median": took[len(took) // 2], "max": took[-1], "batches": len(took)} if took else {}


def _get(progress, name: str):
    return progress.get(name) if isinstance(progress, dict) else getattr(progress, name, None)


def caught_up(spark, tags: int, since: dt.datetime) -> bool:
    """Every tag has read past ``since`` (its backfill is behind it) and silver has merged that."""
    if not spark.catalog.tableExists("pi_watermarks"):
        return False
    row = spark.sql(f"""SELECT count(*) AS n FROM pi_watermarks
                        WHERE watermark > TIMESTAMP'{since:%Y-%m-%d %H:%M:%S}'""").first()
    return row.n >= tags


def run(tags: int, mode: str, minutes: float, interval: str, spark, work: Path) -> dict:
    sim = Simulator(tags, work)
    try:
        pipeline = ContinuousPipeline(
            work / f"{mode}-{tags}",
            {
                "pi.url": sim.url,
                "pi.read_mode": mode,
                "pi.backfill_start": "*-2m",
                "pi.settle_lag": "1s",
                "pi.lookback": "1m",
                "pi.tags_per_request": "100",
                "pi.max_concurrent_requests": "4",
            },
            database=f"latency_{mode}_{tags}",
            interval=interval,
            spark=spark,
        )
        started, since = time.monotonic(), dt.datetime.now(dt.UTC)
        pipeline.start()
        try:
            deadline = time.monotonic() + 600
            while not caught_up(spark, tags, since):
                failed = pipeline.run_for(5)
                if failed or time.monotonic() > deadline:
                    raise RuntimeError(f"warm-up did not finish: {failed or 'not caught up in 10 minutes'}")
            warm = time.monotonic() - started
            before, lo = sim.work(), dt.datetime.now(dt.UTC)
            failed = pipeline.run_for(minutes * 60)
            after, hi = sim.work(), dt.datetime.now(dt.UTC)
            if failed:
                raise RuntimeError(f"queries failed: {failed}")
            batches = {name: batch_seconds(pipeline.queries[name]) for name in ("pi_recorded_bronze", "pi_curation")}
            pipeline.run_for(45)  # rows stamped near the window's end reach silver
        finally:
            pipeline.stop()
        spark.catalog.setCurrentDatabase(f"latency_{mode}_{tags}")
        window_s = (hi - lo).total_seconds()
        measured_hi = hi - dt.timedelta(seconds=5)
        return {
            "tags": tags,
            "read_mode": mode,
            "interval": interval,
            "warm_up_s": round(warm, 1),
            "window_s": round(window_s, 1),
            "bronze": percentiles(spark, "pi_recorded_bronze", lo, measured_hi),
            "silver": percentiles(spark, "pi_timeseries_silver", lo, measured_hi),
            "micro_batch_s": batches,
            "server_per_minute": {
                k: round((after[k] - before[k]) * 60 / window_s, 2) for k in ("requests", "sub_requests", "cpu_s")
            },
        }
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.continuous_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tags", default="1000,10000", help="comma-separated tag counts (default 1000,10000)")
    parser.add_argument("--modes", default="updates,recorded", help="read modes to compare")
    parser.add_argument("--minutes", type=float, default=3.0, help="measured window per run (default 3)")
    parser.add_argument("--interval", default="5 seconds", help="trigger interval (default 5 seconds)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="osipi-latency-"))
    spark = LocalPipeline(work / "session", {}).spark
    results = []
    try:
        for tags in [int(t) for t in args.tags.split(",")]:
            for mode in args.modes.split(","):
                result = run(tags, mode, args.minutes, args.interval, spark, work)
                results.append(result)
                b, s, w = result["bronze"], result["silver"], result["server_per_minute"]
                print(
                    f"{tags} tags, {mode}, every {args.interval}: bronze p50 {b['p50_s']:.1f}s p95 {b['p95_s']:.1f}s "
                    f"max {b['max_s']:.1f}s; silver p50 {s['p50_s']:.1f}s p95 {s['p95_s']:.1f}s max {s['max_s']:.1f}s "
                    f"({s['values']} values); server per minute: {w['requests']} requests, "
                    f"{w['sub_requests']} sub-requests, {w['cpu_s']} CPU s; micro-batches {result['micro_batch_s']}",
                    flush=True,
                )
    finally:
        spark.stop()
    out = REPO / "benchmarks" / "results" / f"continuous_latency-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"versions": versions(), "cpus": os.cpu_count(), "runs": results}, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
