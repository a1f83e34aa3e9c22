"""What the per-window columns of a bronze value row cost to write: the same value rows appended to a Delta
table with bronze's schema and properties, once as the reader emitted them (``window_start``,
``window_end``, ``prior_watermark``, ``point_type``, ``digital_set`` repeated on every value) and once with
those five columns null on value rows (they stay on the window's completion record), in turns, in one
Spark session; a third variant drops only the window's bounds (which nothing after bronze reads from a
value row: silver keeps the point type, the digital set and the prior watermark of each value).

    .venv/bin/python -m benchmarks.bronze_row_width --tags 1000 --window 6h

The rows are read once from the simulator through the connector and staged as Parquet; a Python data
source then serves the staged Arrow batches unchanged, so both variants pay the same Python work and differ
only in what the JVM converts, encodes and collects statistics for.
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

from benchmarks.throughput import cpu_by_party, start_simulator, versions
from connector_lib.bronze import ARROW_SCHEMA, SPARK_SCHEMA, TABLE_PROPERTIES
from connector_lib.config import PIConfig
from connector_lib.spark.datasource import PIDataSource, reader_options
from connector_lib.timeutil import parse_duration
from devtools.local_pipeline import LocalPipeline

PER_WINDOW = ("window_start", "window_end", "prior_watermark", "point_type", "digital_set")
#: the variants written: which per-window columns are null on value rows
VARIANTS = {"wide": (), "bounds": ("window_start", "window_end"), "narrow": PER_WINDOW}


def stage(source: Path, work: Path) -> int:
    """The rows Spark wrote, in the reader's Arrow schema, once per variant: as read (``wide``), without
    the window's bounds on value rows (``bounds``), without any per-window column on them (``narrow``);
    the number of value rows."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    values = 0
    for path in sorted(source.glob("*.parquet")):
        read = pq.read_table(path).cast(ARROW_SCHEMA)
        is_value = pc.equal(read["record_kind"], "value")
        values += pc.sum(is_value).as_py() or 0
        for variant, nulled in VARIANTS.items():
            table = read
            for name in nulled:
                column = table[name]
                table = table.set_column(
                    table.schema.get_field_index(name),
                    name,
                    pc.if_else(is_value, pa.nulls(len(table), column.type), column),
                )
            (work / variant).mkdir(exist_ok=True)
            pq.write_table(table, work / variant / path.name)
    return values


def staged_source():
    """A Python data source serving the Parquet files of a directory as Arrow batches, one partition a file."""
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

    class StagedFile(InputPartition):
        def __init__(self, path: str):
            self.path = path

    class StagedReader(DataSourceReader):
        def __init__(self, options):
            self.directory = options["path"]

        def partitions(self):
            return [StagedFile(str(p)) for p in sorted(Path(self.directory).glob("*.parquet"))]

        def read(self, partition):
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(partition.path).iter_batches(batch_size=65536)

    class Staged(DataSource):
        @classmethod
        def name(cls):
            return "staged_bronze"

        def schema(self):
            return SPARK_SCHEMA

        def reader(self, schema):
            return StagedReader(self.options)

    return Staged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--window", default="6h")
    parser.add_argument("--rounds", type=int, default=3, help="writes of each variant, alternating")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="osipi-rowwidth-"))
    proc, url = start_simulator(args.tags, 42, hours=parse_duration(args.window).total_seconds() / 3600 + 1)
    try:
        spark = LocalPipeline(work, {}, master=args.master).spark
        spark.dataSource.register(PIDataSource)
        end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
        start = end - parse_duration(args.window)
        config = PIConfig.from_mapping({"pi.url": url})
        (
            spark.read.format("pi")
            .options(**reader_options(config))
            .option("start", start.isoformat())
            .option("end", end.isoformat())
            .load()
            .write.parquet(str(work / "read"))
        )
    finally:
        proc.kill()
    values = stage(work / "read", work)
    spark.dataSource.register(staged_source())
    properties = ", ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
    runs = []
    names = list(VARIANTS)
    for round_no in range(args.rounds + 1):  # round 0 warms the write path of every variant
        for variant in names[round_no % len(names) :] + names[: round_no % len(names)]:  # each goes first in turn
            table = work / f"{variant}{round_no}"
            spark.sql(f"CREATE TABLE delta.`{table}` ({SPARK_SCHEMA}) USING delta TBLPROPERTIES ({properties})")
            before = cpu_by_party(None)
            started = time.perf_counter()
            spark.read.format("staged_bronze").option("path", str(work / variant)).load().write.format("delta").mode(
                "append"
            ).save(str(table))
            seconds = time.perf_counter() - started
            cpu = {k: round(v - before[k], 2) for k, v in cpu_by_party(None).items() if k in ("jvm", "python_workers")}
            size = sum(f.stat().st_size for f in table.glob("*.parquet"))
            print(
                f"round {round_no} {variant}: {seconds:.2f}s, {values / seconds:,.0f} values/s, "
                f"CPU s {cpu}, {size / 1e6:.1f} MB",
                flush=True,
            )
            if round_no:
                runs.append({"variant": variant, "round": round_no, "seconds": seconds, "bytes": size, **cpu})
    spark.stop()
    summary = {}
    for variant in VARIANTS:
        mine = [r for r in runs if r["variant"] == variant]
        summary[variant] = {
            k: sum(r[k] for r in mine) / len(mine) for k in ("seconds", "jvm", "python_workers", "bytes")
        }
    for variant, s in summary.items():
        print(
            f"{variant}: mean {s['seconds']:.2f}s ({values / s['seconds']:,.0f} values/s), JVM {s['jvm']:.2f} CPU s "
            f"({s['jvm'] / values * 1e6:.2f} us a value), {s['bytes'] / 1e6:.1f} MB"
        )
    for variant in list(VARIANTS)[1:]:
        print(
            f"{variant} / wide: seconds {summary[variant]['seconds'] / summary['wide']['seconds']:.2f}, "
            f"JVM CPU {summary[variant]['jvm'] / summary['wide']['jvm']:.2f}"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bronze_row_width-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(),
                "cores": os.cpu_count(),
                "versions": versions(),
                "arguments": vars(args),
                "values": values,
                "runs": runs,
                "summary": summary,
            },
            indent=2,
        )
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
