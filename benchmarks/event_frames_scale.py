"""The event frame tables on top of growing event frame history, on local Spark Declarative Pipelines.

    .venv/bin/python -m benchmarks.event_frames_scale --points 2000 --history 1d,8d

One simulator (``--points`` PI points; the AF model's equipment, and so its event frames, grow with them)
and, for each ``--history``, one pipeline in a directory of its own that reads the AF hierarchy and the
event frames of the last ``--history`` (``pi.ef.backfill_start``), with a few tags of time series
(``pi.max_tags``). Then, side by side, each pipeline in a fresh Spark session runs two scheduled updates:
  incremental  the frames active since the previous read minus ``pi.ef.lookback`` (4 hours by default):
               the same frames whatever the history; no AF snapshot is due;
  snapshot     the same with an AF snapshot taken (``pi.af.refresh`` 0s), which the event frame merge
               resolves elements with.
Prints seconds per update and per flow, the frames held and the event frame reads in bronze; writes JSON
under benchmarks/results/.
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

from benchmarks.throughput import versions
from devtools.local_pipeline import LocalPipeline
from pi_simulator import Archive, SimulatorServer
from pi_simulator.af import AssetModel

#: the flows that write the event frame tables after bronze: the merge, or the former materialized views
EF_FLOWS = (
    "pi_event_frame_curation",
    "pi_event_frames",
    "pi_event_frame_attributes",
    "pi_alarms",
    "pi_downtime_daily_gold",
    "pi_batches_daily_gold",
)


def configuration(url: str, history: str, tags: int, refresh: str) -> dict[str, str]:
    return {
        "pi.url": url,
        "pi.backfill_start": "*-10m",
        "pi.max_tags": str(tags),
        "pi.settle_lag": "1s",
        "pi.af.databases": "Operations",
        "pi.af.refresh": refresh,
        "pi.ef.backfill_start": f"*-{history}",
    }


def open_pipeline(args, work: Path, config: dict[str, str]) -> LocalPipeline:
    return LocalPipeline(
        work,
        config,
        master=args.master,
        spark_conf={
            "spark.driver.memory": args.driver_memory,
            "spark.sql.shuffle.partitions": str(args.shuffle_partitions),
        },
    )


def timed_update(pipeline: LocalPipeline, label: str, history: str) -> dict:
    spark = pipeline.spark  # JVM start is not part of the measurement
    started = time.perf_counter()
    result = pipeline.update()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{label} update on {history} of event frames failed: {result.error}")
    db = pipeline.database
    frames = spark.sql(f"SELECT count(*) AS n FROM {db}.pi_event_frames").first().n
    reads = (
        spark.sql(f"SELECT count(*) AS n FROM {db}.pi_event_frames_bronze WHERE record_kind = 'event_frame'").first().n
    )
    flows = result.flow_seconds()
    return {
        "case": label,
        "history": history,
        "seconds": seconds,
        "frames": frames,
        "frame_reads": reads,
        "flows": flows,
        "event_frame_flows_s": sum(v for k, v in flows.items() if k in EF_FLOWS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=2000, help="PI points of the simulator (sizes the AF model)")
    parser.add_argument("--history", default="1d,8d", help="event frame histories, comma-separated: one pipeline each")
    parser.add_argument("--tags", type=int, default=20, help="tags of time series each pipeline reads (pi.max_tags)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    archive = Archive(seed=42, n_points=args.points)
    histories = [h.strip() for h in args.history.split(",") if h.strip()]
    rows = []
    with SimulatorServer(archive, assets=AssetModel(archive)) as server:
        works = {}
        for history in histories:
            works[history] = Path(tempfile.mkdtemp(prefix="osipi-ef-scale-"))
            pipeline = open_pipeline(args, works[history], configuration(server.url, history, args.tags, "1h"))
            try:
                rows.append(timed_update(pipeline, "backfill", history))
            finally:
                pipeline.stop()
            print(json.dumps(rows[-1]), flush=True)
        for history in histories:
            pipeline = open_pipeline(args, works[history], configuration(server.url, history, args.tags, "1h"))
            try:
                rows.append(timed_update(pipeline, "incremental", history))
                print(json.dumps(rows[-1]), flush=True)
                pipeline.configuration["pi.af.refresh"] = "0s"
                rows.append(timed_update(pipeline, "snapshot", history))
                print(json.dumps(rows[-1]), flush=True)
            finally:
                pipeline.stop()
    print(f"\n{'case':<12} {'history':>8} {'frames':>8} {'reads':>8} {'update s':>9} {'event frame flows s':>20}")
    for r in rows:
        print(
            f"{r['case']:<12} {r['history']:>8} {r['frames']:>8} {r['frame_reads']:>8} {r['seconds']:>9.1f} "
            f"{r['event_frame_flows_s']:>20.1f}"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"event_frames_scale-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(),
                "cores": os.cpu_count(),
                "versions": versions(),
                "arguments": vars(args),
                "results": rows,
            },
            indent=1,
        )
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
