"""Throughput of the connector against the ceiling, measured side by side in one run.

    .venv/bin/python -m benchmarks.throughput --tags 1000,10000 --windows 15m,1h,1d

For each number of tags one simulator process serves the points (no added latency); for each window:
  ceiling    a minimal client, no Spark: thread pool of batch-controller calls (100 tags each), orjson
             decode, values counted; the best this server and JSON decoding allow from one process;
  connector  ``spark.read.format("pi")`` into a Delta table with bronze's table properties, one Spark
             session per master (local[1], local[2]), timed around the write only (JVM start and a
             warm-up read excluded); also the peak resident memory of its Python workers.
Then the Python workers' peak memory at a short window and a 10x longer one (local[1], one worker), and
with 50 ms added per request the connector against a naive reader that asks one tag per request.
Prints tables and writes JSON (cores, versions, figures) under benchmarks/results/.
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


def start_simulator(tags: int, seed: int, latency_ms: float = 0.0, hours: float = 2.0) -> tuple[subprocess.Popen, str]:
    """A simulator process whose segment cache holds ``hours`` of every tag (so a warm-up pass makes
    both contenders read what the server has cached, like a real archive's recent data)."""
    port = _free_port()
    cache = max(8192, int(tags * (hours + 1)))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pi_simulator",
            "serve",
            "--port",
            str(port),
            "--tags",
            str(tags),
            "--seed",
            str(seed),
            "--latency-ms",
            str(latency_ms),
            "--segment-cache",
            str(cache),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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
    groups = [tags[i : i + per_call] for i in range(0, len(tags), per_call)]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=threads))

    def call(group) -> int:
        body = {
            str(i): {
                "Method": "GET",
                "Resource": f"{url}/streams/{t.web_id}/recorded?startTime={to_pi(start)}"
                f"&endTime={to_pi(end)}&maxCount=150000",
            }
            for i, t in enumerate(group)
        }
        resp = session.post(f"{url}/batch", data=orjson.dumps(body), headers={"X-Requested-With": "bench"})
        answers = orjson.loads(resp.content)
        counts = [len(a["Content"]["Items"]) for a in answers.values()]
        assert max(counts) < 150000, "a window reached the server's item cap: the ceiling would undercount"
        return sum(counts)

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
            resp = session.get(
                f"{url}/streams/{tag.web_id}/recorded",
                params={"startTime": since, "endTime": to_pi(end), "maxCount": 1000},
            )
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


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_party(simulator_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the JVM, the Python workers, this driver process and the simulator."""
    out = {"jvm": 0.0, "python_workers": 0.0, "driver": cpu_seconds(os.getpid()), "simulator": 0.0}
    for pid in _descendants(os.getpid()):
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv0 and argv0[0].endswith(b"java"):
            out["jvm"] += cpu_seconds(pid)
        elif b"pyspark" in b" ".join(argv0):
            out["python_workers"] += cpu_seconds(pid)
    if simulator_pid:
        out["simulator"] = cpu_seconds(simulator_pid)
    return out


def python_worker_peak_mb() -> float:
    """The highest peak resident set (VmHWM) of this process's PySpark Python workers (Linux /proc)."""
    peak = 0.0
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"pyspark" in cmdline and b"java" not in cmdline.split(b"\0")[0]:
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def connector_run(url: str, start: str, end: str, master: str) -> dict:
    """Runs in its own process: one Spark session per master."""
    import warnings

    warnings.filterwarnings("ignore")
    from connector_lib.bronze import SPARK_SCHEMA, TABLE_PROPERTIES
    from connector_lib.config import PIConfig
    from connector_lib.spark.datasource import PIDataSource, reader_options
    from devtools.local_pipeline import LocalPipeline

    work = Path(tempfile.mkdtemp(prefix="osipi-bench-"))
    spark = LocalPipeline(work, {}, master=master).spark
    spark.dataSource.register(PIDataSource)
    options = reader_options(PIConfig.from_mapping({"pi.url": url, "pi.partitions": "8"}))

    def read(a: str, b: str):
        return spark.read.format("pi").options(**options).option("start", a).option("end", b).load()

    def bronze_table(name: str) -> str:
        path = str(work / name)
        properties = ", ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
        spark.sql(f"CREATE TABLE delta.`{path}` ({SPARK_SCHEMA}) USING delta TBLPROPERTIES ({properties})")
        return path

    read(start, start).write.format("delta").mode("append").save(bronze_table("warmup"))
    target = bronze_table("bronze")
    simulator_pid = int(os.environ.get("OSIPI_BENCH_SIMULATOR_PID", "0")) or None
    cpu_before = cpu_by_party(simulator_pid)
    started = time.perf_counter()
    read(start, end).write.format("delta").mode("append").save(target)
    seconds = time.perf_counter() - started
    cpu = {k: round(v - cpu_before[k], 2) for k, v in cpu_by_party(simulator_pid).items()}
    peak = python_worker_peak_mb()
    values = spark.read.format("delta").load(target).where("record_kind = 'value'").count()
    spark.stop()
    return {
        "values": values,
        "seconds": seconds,
        "values_per_s": values / seconds,
        "worker_peak_mb": peak,
        "cpu_seconds": cpu,
    }


def _connector(url: str, start: dt.datetime, end: dt.datetime, master: str, simulator: subprocess.Popen) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.throughput",
            "--connector-run",
            url,
            start.isoformat(),
            end.isoformat(),
            master,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OSIPI_BENCH_SIMULATOR_PID": str(simulator.pid)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", default="1000", help="comma-separated numbers of tags")
    parser.add_argument("--windows", default="15m,1h")
    parser.add_argument("--skip", default="", help="tags x window pairs to leave out, e.g. 30000x1d")
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--memory-tags", type=int, default=1000)
    parser.add_argument("--memory-windows", default="1h,10h", help="a short window and a 10x longer one ('' skips)")
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="added latency of the remote-server comparison (0 skips it)"
    )
    parser.add_argument("--latency-tags", type=int, default=1000)
    parser.add_argument("--latency-window", default="1h")
    parser.add_argument("--connector-run", nargs=4, metavar=("URL", "START", "END", "MASTER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.connector_run:
        print(json.dumps(connector_run(*args.connector_run)))
        return 0

    from connector_lib.timeutil import parse_duration

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
    masters = args.masters.split(",")
    skip = set(filter(None, args.skip.split(",")))
    results = []
    longest_h = max(parse_duration(w).total_seconds() / 3600 for w in args.windows.split(","))
    for n_tags in (int(t) for t in args.tags.split(",")):
        proc, url = start_simulator(n_tags, args.seed, hours=longest_h)
        try:
            for window in args.windows.split(","):
                if f"{n_tags}x{window}" in skip:
                    continue
                start = end - parse_duration(window)
                ceiling(url, start, end)  # warm the segment cache for both contenders
                sim_cpu = cpu_seconds(proc.pid)
                row = {"tags": n_tags, "window": window, "ceiling": ceiling(url, start, end)}
                row["ceiling"]["cpu_seconds"] = {"simulator": round(cpu_seconds(proc.pid) - sim_cpu, 2)}
                for master in masters:
                    row[master] = _connector(url, start, end, master, proc)
                    assert row[master]["values"] == row["ceiling"]["values"], "connector and ceiling disagree"
                results.append(row)
                print(json.dumps(row), flush=True)
        finally:
            proc.kill()

    memory = []
    if args.memory_windows:
        longest_m = max(parse_duration(w).total_seconds() / 3600 for w in args.memory_windows.split(","))
        proc, url = start_simulator(args.memory_tags, args.seed, hours=longest_m)
        try:
            for window in args.memory_windows.split(","):
                run = _connector(url, end - parse_duration(window), end, "local[1]", proc)
                memory.append({"tags": args.memory_tags, "window": window, **run})
                print(json.dumps(memory[-1]), flush=True)
        finally:
            proc.kill()

    remote = None
    if args.latency_ms > 0:
        proc, url = start_simulator(args.latency_tags, args.seed, args.latency_ms)
        try:
            start = end - parse_duration(args.latency_window)
            ceiling(url, start, end)  # warm the segment cache
            remote = {
                "latency_ms": args.latency_ms,
                "tags": args.latency_tags,
                "window": args.latency_window,
                "connector local[2]": _connector(url, start, end, "local[2]", proc),
                "naive one tag per request": naive(url, start, end),
            }
        finally:
            proc.kill()

    print(
        f"\n{'tags':>6} {'window':>6} {'values':>11} {'ceiling v/s':>12} "
        + " ".join(f"{m + ' v/s':>15}" for m in masters)
        + f" {'best/ceiling':>12} {'2/1 cores':>9}"
    )
    for row in results:
        rates = [row[m]["values_per_s"] for m in masters]
        scaling = f"{rates[-1] / rates[0]:>9.2f}" if len(rates) > 1 else ""
        print(
            f"{row['tags']:>6} {row['window']:>6} {row['ceiling']['values']:>11,} "
            f"{row['ceiling']['values_per_s']:>12,.0f} "
            + " ".join(f"{r:>15,.0f}" for r in rates)
            + f" {max(rates) / row['ceiling']['values_per_s']:>12.2f} {scaling}"
        )
    print("\nCPU seconds during each timed read (simulator, JVM, Python workers, Spark driver):")
    for row in results:
        for m in masters:
            c = row[m]["cpu_seconds"]
            print(
                f"{row['tags']:>6} {row['window']:>6} {m:>9}: {row[m]['seconds']:6.1f}s wall, simulator "
                f"{c['simulator']:.1f} (ceiling run: {row['ceiling']['cpu_seconds']['simulator']:.1f} in "
                f"{row['ceiling']['seconds']:.1f}s), jvm {c['jvm']:.1f}, python workers {c['python_workers']:.1f}, "
                f"driver {c['driver']:.1f}"
            )
    if memory:
        print(
            "\nPython worker peak memory, local[1]: "
            + ", ".join(f"{m['window']} window ({m['values']:,} values) {m['worker_peak_mb']:.0f} MB" for m in memory)
            + f"; ratio {memory[-1]['worker_peak_mb'] / memory[0]['worker_peak_mb']:.2f}"
        )
    if remote:
        c, n = remote["connector local[2]"], remote["naive one tag per request"]
        print(
            f"\nwith {remote['latency_ms']:.0f} ms per request, {remote['tags']} tags x {remote['window']}: "
            f"connector {c['values_per_s']:,.0f} values/s ({c['seconds']:.1f}s), naive one-tag-per-request "
            f"{n['values_per_s']:,.0f} values/s ({n['seconds']:.1f}s), ratio {c['values_per_s'] / n['values_per_s']:.1f}x"
        )
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "cores": os.cpu_count(),
        "versions": versions(),
        "results": results,
        "memory": memory,
        "remote": remote,
    }
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"throughput-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {path.relative_to(REPO)}")
    return 0


def versions() -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for package in ("pyspark", "delta-spark", "pyarrow", "orjson", "requests", "numpy"):
        out[package] = version(package)
    return out


if __name__ == "__main__":
    sys.exit(main())
