"""What one small triggered update costs locally, flow by flow: the fixed cost every end-to-end test and
every continuous micro-batch pays, whatever the data.

    .venv/bin/python -m benchmarks.update_overhead --tags 40 --updates 3

Runs ``--updates`` triggered updates of the real pipeline (time series only, the settings of the
end-to-end tests) against a simulator of ``--tags`` points, a few seconds apart, so every update after the
first reads a few seconds of new data. Prints per update its wall time, each flow's seconds (STARTING to
COMPLETED) and how many Spark SQL executions and jobs it ran (from Spark's event log), and writes them to
``benchmarks/results/update_overhead-<time>.json``.
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

from devtools.local_pipeline import REPO, LocalPipeline
from pi_simulator import Archive, SimulatorServer


def spark_work(event_log: Path, since_ms: int, until_ms: int) -> dict[str, int]:
    """SQL executions and jobs Spark started between the two times (epoch milliseconds)."""
    executions = jobs = 0
    for path in sorted(event_log.rglob("events_*")) or sorted(event_log.glob("*")):
        if path.is_dir():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if '"Event"' not in line:
                continue
            event = json.loads(line)
            kind = event["Event"]
            at = event.get("time") or event.get("Submission Time") or 0
            if not since_ms <= at < until_ms:
                continue
            executions += kind.endswith("SQLExecutionStart")
            jobs += kind == "SparkListenerJobStart"
    return {"sql_executions": executions, "jobs": jobs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=40)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between updates")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="osipi-overhead-"))
    event_log = work / "events"
    event_log.mkdir()
    archive = Archive(seed=5, n_points=args.tags)
    rows = []
    with SimulatorServer(archive) as server:
        pipeline = LocalPipeline(
            work / "pipeline",
            {
                "pi.url": server.url,
                "pi.backfill_start": "*-200m",
                "pi.lookback": "10m",
                "pi.settle_lag": "2s",
                "pi.tags_per_request": "15",
            },
            spark_conf={
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": str(event_log),
                "spark.eventLog.compress": "false",
                "spark.eventLog.rolling.enabled": "false",
            },
        )
        try:
            _ = pipeline.spark  # the session's start is not part of any update
            for number in range(1, args.updates + 1):
                if number > 1:
                    time.sleep(args.pause)
                since = int(time.time() * 1000)
                started = time.perf_counter()
                result = pipeline.update()
                seconds = round(time.perf_counter() - started, 1)
                if not result.ok:
                    print(f"update {number} FAILED: {result.error}")
                    return 1
                flows = {k: round(v, 1) for k, v in sorted(result.flow_seconds().items(), key=lambda kv: -kv[1])}
                time.sleep(1)  # the event log is written asynchronously
                work_done = spark_work(event_log, since, int(time.time() * 1000))
                rows.append({"update": number, "seconds": seconds, "flows": flows, **work_done})
                print(
                    f"update {number}: {seconds:6.1f} s, {work_done['sql_executions']} SQL executions, "
                    f"{work_done['jobs']} jobs; flows: " + ", ".join(f"{k} {v}s" for k, v in flows.items()),
                    flush=True,
                )
        finally:
            pipeline.stop()
    out = REPO / "benchmarks" / "results" / f"update_overhead-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"tags": args.tags, "updates": rows}, indent=2) + "\n")
    print(f"written {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
