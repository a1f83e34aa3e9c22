"""Throughput of the connector against the ceiling, measured side by side in one run.

    .venv/bin/python -m benchmarks.throughput --tags 1000 --windows 15m,1h --masters "local[1],local[2]"

For each window, against one simulator process (warm segment cache, no added latency):
  ceiling    a minimal client, no Spark: thread pool of batch-controller calls (100 tags each), orjson
             decode, values counted; the best this server and JSON decoding allow from one process;
  connector  ``spark.read.format("pi")`` into a Delta table, one Spark session per master, timed around
             the write only (JVM start and a warm-up read excluded).
Prints a table and writes JSON (cores, versions, figures) under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(tags: int, seed: int, latency_ms: float = 0.0) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pi_simulator", "serve", "--port", str(port), "--tags", str(tags),
                             "--seed", str(seed), "--latency-ms", str(latency_ms)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/piwebapi"
    import requests

    for _ in range(200):
        try:
            requests.get(url, timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("simulator did not start")


def ceiling(url: str, start: dt.datetime, end: dt.datetime, threads: int = 8, per_call: int = 100) -> dict:
    import orjson
    import requests

    from connector_lib.client import PIWebAPIClient
    from connector_lib.config import PIConfig
    from connector_lib.discovery import discover_tags
    from connector_lib.timeutil import to_pi

    config = PIConfig.from_mapping({"pi.url": url})
    tags = discover_tags(PIWebAPIClient(config), config)
    groups = [tags[i:i + per_call] for i in range(0, len(tags), per_call)]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=threads))

    def call(group) -> int:
        body = {str(i): {"Method": "GET", "Resource": f"{url}/streams/{t.web_id}/recorded?startTime={to_pi(start)}"
                         f"&endTime={to_pi(end)}&maxCount=10000"} for i, t in enumerate(group)}
        resp = session.post(f"{url}/batch", data=orjson.dumps(body), headers={"X-Requested-With": "bench"})
        answers = orjson.loads(resp.content)
        return sum(len(a["Content"]["Items"]) for a in answers.values())

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        values = sum(pool.map(call, groups))
    seconds = time.perf_counter() - started
    return {"values": values, "seconds": seconds, "values_per_s": values / seconds}


def naive(url: str, start: dt.datetime, end: dt.datetime) -> dict:
    """What the peers do: one tag per request, one request at a time, pages of the default 1000."""
    import orjson
    import requests

    from connector_lib.client import PIWebAPIClient
    from connector_lib.config import PIConfig
    from connector_lib.discovery import discover_tags
    from connector_lib.timeutil import to_pi

    config = PIConfig.from_mapping({"pi.url": url})
    tags = discover_tags(PIWebAPIClient(config), config)
    session = requests.Session()
    values = 0
    started = time.perf_counter()
    for tag in tags:
        since = to_pi(start)
        while True:
            resp = session.get(f"{url}/streams/{tag.web_id}/recorded",
                               params={"startTime": since, "endTime": to_pi(end), "maxCount": 1000})
            items = orjson.loads(resp.content)["Items"]
            if len(items) < 1000:
                values += len(items)
                break
            last = items[-1]["Timestamp"]
            keep = [i for i in items if i["Timestamp"] != last]
            values += len(keep)
            since = last
    seconds = time.perf_counter() - started
    return {"values": values, "seconds": seconds, "values_per_s": values / seconds}


def connector_run(url: str, start: str, end: str, master: str) -> dict:
    """Runs in its own process: one Spark session per master."""
    import warnings

    warnings.filterwarnings("ignore")
    from connector_lib.config import PIConfig
    from connector_lib.spark.datasource import PIDataSource, reader_options
    from devtools.local_pipeline import LocalPipeline

    work = Path(tempfile.mkdtemp(prefix="osipi-bench-"))
    spark = LocalPipeline(work, {}, master=master).spark
    spark.dataSource.register(PIDataSource)
    options = reader_options(PIConfig.from_mapping({"pi.url": url, "pi.partitions": "8"}))

    def read(a: str, b: str):
        return spark.read.format("pi").options(**options).option("start", a).option("end", b).load()

    read(start, start).write.format("delta").mode("overwrite").save(str(work / "warmup"))
    target = str(work / "bronze")
    started = time.perf_counter()
    read(start, end).write.format("delta").mode("overwrite").save(target)
    seconds = time.perf_counter() - started
    values = spark.read.format("delta").load(target).where("record_kind = 'value'").count()
    spark.stop()
    return {"values": values, "seconds": seconds, "values_per_s": values / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--windows", default="15m,1h")
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="added latency of the remote-server comparison (0 skips it)")
    parser.add_argument("--latency-tags", type=int, default=1000)
    parser.add_argument("--latency-window", default="1h")
    parser.add_argument("--connector-run", nargs=4, metavar=("URL", "START", "END", "MASTER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.connector_run:
        print(json.dumps(connector_run(*args.connector_run)))
        return 0

    from connector_lib.timeutil import parse_duration

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    proc, url = start_simulator(args.tags, args.seed)
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
    results = []
    try:
        for window in args.windows.split(","):
            start = end - parse_duration(window)
            ceiling(url, start, end)  # warm the simulator's segment cache for both contenders
            row = {"tags": args.tags, "window": window, "ceiling": ceiling(url, start, end)}
            for master in args.masters.split(","):
                out = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--connector-run", url,
                                      start.isoformat(), end.isoformat(), master],
                                     cwd=REPO, capture_output=True, text=True, check=True)
                row[master] = json.loads(out.stdout.strip().splitlines()[-1])
                assert row[master]["values"] == row["ceiling"]["values"], "connector and ceiling disagree"
            results.append(row)
    finally:
        proc.kill()

    remote = None
    if args.latency_ms > 0:
        proc, url = start_simulator(args.latency_tags, args.seed, args.latency_ms)
        try:
            start = end - parse_duration(args.latency_window)
            ceiling(url, start, end)  # warm the segment cache
            out = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--connector-run", url,
                                  start.isoformat(), end.isoformat(), "local[2]"],
                                 cwd=REPO, capture_output=True, text=True, check=True)
            remote = {"latency_ms": args.latency_ms, "tags": args.latency_tags, "window": args.latency_window,
                      "connector local[2]": json.loads(out.stdout.strip().splitlines()[-1]),
                      "naive one tag per request": naive(url, start, end)}
        finally:
            proc.kill()

    masters = args.masters.split(",")
    print(f"\n{'tags':>6} {'window':>6} {'values':>9} {'ceiling v/s':>12} "
          + " ".join(f"{m + ' v/s':>15}" for m in masters) + f" {'ratio':>7}")
    for row in results:
        best = max(row[m]["values_per_s"] for m in masters)
        print(f"{row['tags']:>6} {row['window']:>6} {row['ceiling']['values']:>9} "
              f"{row['ceiling']['values_per_s']:>12.0f} "
              + " ".join(f"{row[m]['values_per_s']:>15.0f}" for m in masters)
              + f" {best / row['ceiling']['values_per_s']:>7.2f}")
    if remote:
        c, n = remote["connector local[2]"], remote["naive one tag per request"]
        print(f"\nwith {remote['latency_ms']:.0f} ms per request, {remote['tags']} tags x {remote['window']}: "
              f"connector {c['values_per_s']:.0f} values/s ({c['seconds']:.1f}s), naive one-tag-per-request "
              f"{n['values_per_s']:.0f} values/s ({n['seconds']:.1f}s), ratio {c['values_per_s'] / n['values_per_s']:.1f}x")
    import pyspark

    report = {"when": dt.datetime.now(dt.timezone.utc).isoformat(), "cores": os.cpu_count(),
              "python": platform.python_version(), "pyspark": pyspark.__version__, "results": results,
              "remote": remote}
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"throughput-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
