"""The real pipeline (bronze, silver, gold) at scale on local Spark Declarative Pipelines with Delta.

    .venv/bin/python -m benchmarks.pipeline_scale --tags 10000 --backfill 1d,4d,16d --incremental 15m

One simulator (``--tags`` points; a share of them buffered, so values arrive up to ``--max-delay`` after
their time, and a share of values edited up to ``--max-edit-delay`` after they arrived) and, for each
``--backfill`` history, one pipeline in a directory of its own. The simulator's clock is set for each
update, so every read sees the archive as a pipeline running on schedule would.

First every pipeline backfills (these updates are measured but not compared):
  backfill     reads ``--backfill`` of every tag, up to twice ``--incremental`` ago (and a minute).
Then, side by side, each pipeline in a fresh Spark session runs two scheduled updates on top of its
history, each reading the ``--incremental`` that follows the last (the same amount of new data whatever
the history):
  incremental  no lookback: what an every-15-minutes schedule reads;
  late         with a ``--lookback`` re-read: the values that arrived late and the edits made since the
               earlier reads come back, and silver and gold take them (the fault campaign's kind of update).
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

from benchmarks.throughput import versions
from connector_lib.spark.utc import latest
from connector_lib.timeutil import parse_duration
from devtools.local_pipeline import LocalPipeline
from pi_simulator import Archive, ArchiveChanges, SimulatorServer

#: how long after a window's end the scheduled read runs (the simulator's clock then)
READ_DELAY = dt.timedelta(seconds=30)


def timed_update(pipeline: LocalPipeline, label: str, window: str) -> dict:
    spark = pipeline.spark  # JVM start is not part of the measurement
    bronze, silver, log = (
        f"{pipeline.database}.{t}" for t in ("pi_recorded_bronze", "pi_timeseries_silver", "pi_extraction_log")
    )
    count_values = f"SELECT count(*) AS n FROM {bronze} WHERE record_kind = 'value'"
    before = spark.sql(count_values).first().n if spark.catalog.tableExists(bronze) else 0
    started = time.perf_counter()
    result = pipeline.update()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{label} update failed: {result.error}")
    values = spark.sql(count_values).first().n - before
    kept = spark.sql(f"SELECT count(*) AS n, count_if(is_late) AS late FROM {silver}").first()
    failed = spark.sql(f"SELECT count(*) AS n FROM {log} WHERE status <> 'ok'").first().n
    end = latest(spark.read.table(f"{pipeline.database}.pi_watermarks"), "watermark")
    return {
        "case": label,
        "window": window,
        "seconds": seconds,
        "values": values,
        "silver_rows": kept.n,
        "late_rows": kept.late,
        "failed_windows": failed,
        "values_per_s": values / seconds,
        "end": end.isoformat(),
        "flows": result.flow_seconds(),
    }


class Clock:
    """The simulator's clock: real time, or real time minus a lag (the instant a scheduled read ran)."""

    def __init__(self):
        self.lag = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) - self.lag

    def read_at(self, end: dt.datetime) -> str:
        """Set the clock to just after ``end`` and return the pipeline's settle lag that reads up to it."""
        settle = dt.datetime.now(dt.UTC) - end
        self.lag = settle - READ_DELAY
        return f"{max(int(settle.total_seconds()), 0)}s"


def open_pipeline(args, work: Path, configuration: dict) -> LocalPipeline:
    return LocalPipeline(
        work,
        configuration,
        master=args.master,
        spark_conf={
            "spark.driver.memory": args.driver_memory,
            "spark.sql.shuffle.partitions": str(args.shuffle_partitions),
        },
    )


def backfill(args, url: str, history: str, clock: Clock) -> tuple[Path, dict]:
    work = Path(tempfile.mkdtemp(prefix="osipi-scale-"))
    clock.lag = dt.timedelta(0)
    # the two scheduled updates read what follows, so it must be in the past when they run
    held_back = 2 * parse_duration(args.incremental) + dt.timedelta(minutes=1)
    pipeline = open_pipeline(
        args,
        work,
        {
            "pi.url": url,
            "pi.backfill_start": f"*-{history}",
            "pi.settle_lag": f"{int(held_back.total_seconds())}s",
            "pi.lookback": "0s",
            "pi.max_window": "1d",
            "pi.partitions": "8",
        },
    )
    try:
        row = timed_update(pipeline, "backfill", history)
    finally:
        pipeline.stop()
    return work, row


def scheduled_updates(args, url: str, work: Path, history: str, backfill_end: dt.datetime, clock: Clock) -> list[dict]:
    """The incremental and the late update on top of a backfilled pipeline, in a fresh Spark session."""
    step = parse_duration(args.incremental)
    pipeline = open_pipeline(
        args,
        work,
        {
            "pi.url": url,
            "pi.backfill_start": f"*-{history}",
            "pi.lookback": "0s",
            "pi.max_window": "1d",
            "pi.partitions": "8",
        },
    )
    rows = []
    try:
        pipeline.configuration["pi.settle_lag"] = clock.read_at(backfill_end + step)
        rows.append(timed_update(pipeline, "incremental", args.incremental))
        pipeline.configuration["pi.settle_lag"] = clock.read_at(backfill_end + 2 * step)
        pipeline.configuration["pi.lookback"] = args.lookback
        rows.append(timed_update(pipeline, "late", f"{args.incremental} + {args.lookback} re-read"))
    finally:
        pipeline.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=10000)
    parser.add_argument("--backfill", default="1d,4d,16d", help="histories, comma-separated: one pipeline each")
    parser.add_argument("--incremental", default="15m", help="new data per scheduled update")
    parser.add_argument("--lookback", default="1h", help="the late update's re-read (pi.lookback)")
    parser.add_argument("--buffered-share", type=float, default=0.2, help="share of points whose values arrive late")
    parser.add_argument("--max-delay", default="10m", help="how late a buffered point's values arrive, at most")
    parser.add_argument("--edit-share", type=float, default=0.01, help="share of values edited after they arrived")
    parser.add_argument("--max-edit-delay", default="30m", help="how long after its arrival a value is edited")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g", help="heap of the local Spark JVM (default 6g)")
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        default=16,
        help="spark.sql.shuffle.partitions (adaptive execution coalesces small ones)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    clock = Clock()
    archive = Archive(
        seed=42,
        n_points=args.tags,
        segment_cache=max(8192, 3 * args.tags),
        changes=ArchiveChanges(
            seed=42,
            buffered_share=args.buffered_share,
            max_delay_s=parse_duration(args.max_delay).total_seconds(),
            edit_share=args.edit_share,
            max_edit_delay_s=parse_duration(args.max_edit_delay).total_seconds(),
        ),
    )
    server = SimulatorServer(archive, clock=clock).start()
    histories = args.backfill.split(",")
    rows = []
    try:
        built = []
        for history in histories:
            work, row = backfill(args, server.url, history, clock)
            rows.append({**row, "history": history})
            built.append((history, work, dt.datetime.fromisoformat(row["end"])))
            print(f"backfilled {history}: {row['values']:,} values in {row['seconds']:.1f}s", flush=True)
        for history, work, end in built:
            rows += [
                {**row, "history": history} for row in scheduled_updates(args, server.url, work, history, end, clock)
            ]
        for r in rows:
            flows = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(r["flows"].items()))
            print(
                f"{r['case']} on {r['history']}: {args.tags} tags x {r['window']}: {r['values']:,} values in "
                f"{r['seconds']:.1f}s ({r['values_per_s']:,.0f} values/s), silver {r['silver_rows']:,} rows "
                f"({r['late_rows']:,} late), failed windows {r['failed_windows']}, up to {r['end'][:19]}; flows: {flows}",
                flush=True,
            )
        first = {r["case"]: r["seconds"] for r in rows if r["history"] == histories[0]}
        for r in rows:
            if r["case"] != "backfill" and r["history"] != histories[0]:
                print(f"{r['case']}: {r['history']} / {histories[0]} = {r['seconds'] / first[r['case']]:.2f}")
    finally:
        server.stop()
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"pipeline_scale-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(),
                "cores": os.cpu_count(),
                "versions": versions(),
                "tags": args.tags,
                "master": args.master,
                "driver_memory": args.driver_memory,
                "arguments": vars(args),
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
