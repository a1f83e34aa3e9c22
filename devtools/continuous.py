"""Run the pipeline continuously on this machine: the datasets and flows ``pipelines/*.py`` declare, as
Structured Streaming queries with a processing-time trigger, which is what a continuous Databricks pipeline
runs (the open-source Spark Declarative Pipelines engine runs triggered updates only).

    .venv/bin/python -m devtools.continuous                        # the simulator, 200 tags, 5 minutes
    .venv/bin/python -m devtools.continuous --interval 2s --minutes 30 --config my-pi.yml

The pipeline files are loaded as they are, with a stand-in for ``pyspark.pipelines`` that records what they
declare instead of handing it to a dataflow graph: a streaming table becomes a query appending to a Delta
table, a temporary view a temporary view of the session, a ForEachBatch sink Structured Streaming's
``foreachBatch`` with the same handler (as on Databricks), and a flow a query writing to its target. Everything the files call (the sources, the readers, the merges of each micro-batch) is the
code a triggered update runs; only the engine differs. Queries start in dependency order: the streaming
tables first (each creates its table as it starts), then the views over them, then the flows.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .local_pipeline import LAYERS, REPO, LocalPipeline


@dataclass
class Declared:
    """What the pipeline files declared, in declaration order."""

    tables: list[tuple[str, Callable, dict]] = field(default_factory=list)  # (name, function, table_properties)
    views: list[tuple[str, Callable]] = field(default_factory=list)
    sinks: dict[str, tuple[str, dict]] = field(default_factory=dict)  # name -> (format, options)
    batch_sinks: dict[str, Callable] = field(default_factory=dict)  # name -> the handler of each micro-batch
    flows: list[tuple[str, str, Callable]] = field(default_factory=list)  # (name, target, function)


def stand_in(declared: Declared) -> types.ModuleType:
    """A ``pyspark.pipelines`` that records declarations (the subset the pipeline files use)."""
    module = types.ModuleType("pyspark.pipelines")

    def table(name: str | None = None, table_properties: dict | None = None, **_ignored):
        def register(function):
            declared.tables.append((name or function.__name__, function, dict(table_properties or {})))
            return function

        return register

    def temporary_view(name: str | None = None, **_ignored):
        def register(function):
            declared.views.append((name or function.__name__, function))
            return function

        return register

    def append_flow(target: str, name: str | None = None, **_ignored):
        def register(function):
            declared.flows.append((name or function.__name__, target, function))
            return function

        return register

    def create_sink(name: str, format: str, options: Mapping[str, str] | None = None) -> None:  # noqa: A002
        declared.sinks[name] = (format, dict(options or {}))

    def foreach_batch_sink(name: str | None = None):
        def register(handler):
            declared.batch_sinks[name or handler.__name__] = handler
            return handler

        return register

    module.table = table  # type: ignore[attr-defined]
    module.temporary_view = temporary_view  # type: ignore[attr-defined]
    module.append_flow = append_flow  # type: ignore[attr-defined]
    module.create_sink = create_sink  # type: ignore[attr-defined]
    module.foreach_batch_sink = foreach_batch_sink  # type: ignore[attr-defined]
    return module


@contextlib.contextmanager
def pipelines_module(module: types.ModuleType) -> Iterator[None]:
    """``from pyspark import pipelines`` gives ``module`` while the pipeline files load."""
    import pyspark

    saved_module = sys.modules.get("pyspark.pipelines")
    saved_attribute = getattr(pyspark, "pipelines", None)
    sys.modules["pyspark.pipelines"] = module
    pyspark.pipelines = module  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if saved_module is not None:
            sys.modules["pyspark.pipelines"] = saved_module
        else:
            sys.modules.pop("pyspark.pipelines", None)
        if saved_attribute is not None:
            pyspark.pipelines = saved_attribute  # type: ignore[attr-defined]


class ContinuousPipeline:
    """The pipeline's flows as Structured Streaming queries on a local Spark Connect session (Delta tables
    in ``work_dir``), triggered every ``interval``."""

    def __init__(
        self,
        work_dir: Path,
        configuration: Mapping[str, str],
        database: str = "osipi",
        interval: str = "5 seconds",
        spark=None,
    ):
        self.local = LocalPipeline(work_dir, configuration, database=database)
        if spark is not None:
            self.local._spark = spark
        self.interval = interval
        self.queries: dict[str, object] = {}
        self.declared = Declared()

    @property
    def spark(self):
        return self.local.spark

    def checkpoint(self, name: str) -> str:
        return str(self.local.work_dir / "checkpoints" / self.local.database / name)

    def start(self) -> None:
        spark = self.spark
        database = self.local.database
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
        spark.catalog.setCurrentDatabase(database)
        for key in [k for k in spark.conf.getAll if k.startswith("pi.")]:
            spark.conf.unset(key)
        for key, value in self.local.configuration.items():  # the pipeline's configuration = session confs
            spark.conf.set(key, value)
        with pipelines_module(stand_in(self.declared)):
            for layer in LAYERS:
                path = REPO / "pipelines" / f"{layer}.py"
                code = compile(path.read_text(), str(path), "exec")
                exec(code, {"__name__": f"pipelines.{layer}", "__file__": str(path), "spark": spark})  # noqa: S102
        for name, function, properties in self.declared.tables:
            frame = function()
            query = (
                frame.writeStream.format("delta")
                .outputMode("append")
                .option("checkpointLocation", self.checkpoint(name))
                .trigger(processingTime=self.interval)
                .queryName(name)
                .toTable(name)
            )
            if properties:
                pairs = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
                spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({pairs})")
            self.queries[name] = query
        for name, function in self.declared.views:
            function().createOrReplaceTempView(name)
        for name, target, function in self.declared.flows:
            writer = (
                function()
                .writeStream.option("checkpointLocation", self.checkpoint(name))
                .trigger(processingTime=self.interval)
                .queryName(name)
            )
            if target in self.declared.batch_sinks:  # as a Databricks ForEachBatch sink runs it
                self.queries[name] = writer.foreachBatch(self.declared.batch_sinks[target]).start()
            elif target in self.declared.sinks:
                fmt, options = self.declared.sinks[target]
                self.queries[name] = writer.format(fmt).options(**options).start()
            else:
                self.queries[name] = writer.format("delta").outputMode("append").toTable(target)

    def failures(self) -> dict[str, str]:
        """The queries that stopped with an error, and the error's first line."""
        failed = {}
        for name, query in self.queries.items():
            error = query.exception()  # type: ignore[attr-defined]
            if error is not None:
                failed[name] = (str(error).strip().splitlines() or ["failed"])[0]
        return failed

    def run_for(self, seconds: float, poll: float = 1.0) -> dict[str, str]:
        """Let the queries run for ``seconds`` (or until one fails); returns the failures."""
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            failed = self.failures()
            if failed:
                return failed
            time.sleep(poll)
        return self.failures()

    def run_until(
        self, reached: Callable[[], bool], timeout: float = 300.0, poll: float = 1.0, what: str = "there"
    ) -> dict[str, str]:
        """Let the queries run until ``reached()`` (or one fails); returns the failures. ``reached`` is
        asked once a ``poll``; a table it reads that no micro-batch has created yet counts as not reached.
        ``what``: what the pipeline did not get to, for the error after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            failed = self.failures()
            if failed:
                return failed
            try:
                if reached():
                    return {}
            except Exception as exc:  # noqa: BLE001 - a table not created yet
                if "TABLE_OR_VIEW_NOT_FOUND" not in str(exc):
                    raise
            time.sleep(poll)
        raise TimeoutError(f"the continuous pipeline did not get {what} in {timeout:.0f} s")

    def catch_up(self, since: dt.datetime, timeout: float = 300.0) -> dict[str, str]:
        """Let the queries run until every query reading PI has finished a micro-batch triggered at or after
        ``since`` (or one fails); returns the failures. A fixed wait is not enough on a loaded machine,
        where one micro-batch can take longer than the wait. A query that has not reported yet counts as
        reading PI until its sources say otherwise."""
        return self.run_until(
            lambda: all(_reads_delta_only(q) or _last_trigger(q) >= since for q in self.queries.values()),
            timeout,
            what=f"every PI reader past {since:%H:%M:%S}",
        )

    def drain(self) -> None:
        """Stop reading PI, then let every query over the tables process what they hold, so the tables agree
        with each other (silver has merged all of bronze) before they are read."""
        deadline = time.monotonic() + 120  # every query has reported a micro-batch, which names its sources
        while any(_sources(q) is None for q in self.queries.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        readers = {name: q for name, q in self.queries.items() if not _reads_delta_only(q)}
        for query in readers.values():
            query.stop()  # type: ignore[attr-defined]
        for name, query in self.queries.items():
            if name not in readers:
                query.processAllAvailable()  # type: ignore[attr-defined]

    def stop(self) -> None:
        for query in self.queries.values():
            with contextlib.suppress(Exception):
                query.stop()  # type: ignore[attr-defined]
        self.queries = {}


def _sources(query) -> list | None:
    """The sources a query's latest progress names (None before its first micro-batch)."""
    for progress in reversed(query.recentProgress or []):
        sources = progress.get("sources") if isinstance(progress, dict) else getattr(progress, "sources", None)
        if sources:
            return list(sources)
    return None


def _last_trigger(query) -> dt.datetime:
    """When the query's latest reported micro-batch was triggered (the epoch before any)."""
    latest = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for progress in query.recentProgress or []:
        stamp = _field(progress, "timestamp")
        if stamp:
            latest = max(latest, dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")))
    return latest


def _reads_delta_only(query) -> bool:
    """Whether a query's sources are Delta tables (the flows after bronze), not a PI source."""
    sources = _sources(query)
    return bool(sources) and all("Delta" in str(_field(s, "description")) for s in sources)


def _field(source, name: str):
    return source.get(name) if isinstance(source, dict) else getattr(source, name, None)


def main(argv: list[str] | None = None) -> int:
    import logging
    import warnings

    from connector_lib.config import ConfigError

    from .run import checked_settings

    parser = argparse.ArgumentParser(
        prog="python -m devtools.continuous", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interval", default="5s", help="trigger interval of every query (default 5s)")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to run (default 5)")
    parser.add_argument("--tags", type=int, default=200, help="simulator points (without --config)")
    parser.add_argument("--config", help="a YAML file of pi.* settings for a real PI Web API")
    parser.add_argument("--work-dir", default=str(REPO / ".work" / "continuous"), help="tables and checkpoints")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = None
    if args.config:
        try:
            configuration = checked_settings(args.config)
        except ConfigError as exc:
            print(f"configuration error: {exc}")
            return 2
    else:
        from pi_simulator import Archive, SimulatorServer

        server = SimulatorServer(Archive(n_points=args.tags)).start()
        print(f"PI Web API simulator at {server.url}: {args.tags} PI points", flush=True)
        configuration = {
            "pi.url": server.url,
            "pi.read_mode": "updates",
            "pi.backfill_start": "*-1h",
            "pi.settle_lag": "2s",
            "pi.af.databases": "Operations",
            "pi.af.refresh": "10m",
            "pi.ef.backfill_start": "*-1d",
        }
    pipeline = ContinuousPipeline(Path(args.work_dir), configuration, interval=_interval(args.interval))
    try:
        pipeline.start()
        print(f"{len(pipeline.queries)} queries, every {args.interval}; tables in {args.work_dir}", flush=True)
        failed = pipeline.run_for(args.minutes * 60)
        pipeline.drain()
        for name, error in failed.items():
            print(f"query {name} FAILED: {error}")
        lag = pipeline.spark.sql(
            "SELECT count(*) AS tags, max(unix_seconds(now()) - unix_seconds(watermark)) AS worst FROM pi_watermarks"
        ).first()
        print(f"after {args.minutes:g} min: {lag.tags} tags, the furthest behind {lag.worst} s")
        return 1 if failed else 0
    finally:
        pipeline.stop()
        pipeline.local.stop()
        if server is not None:
            server.stop()


def _interval(text: str) -> str:
    from connector_lib.timeutil import parse_duration

    return f"{parse_duration(text).total_seconds():g} seconds"


if __name__ == "__main__":
    sys.exit(main())
