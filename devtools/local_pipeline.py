"""Run the project's pipeline on the open-source Spark Declarative Pipelines engine, in-process, with
Delta tables: the engine ``make run`` and the end-to-end tests use.

It does what ``spark-pipelines run`` does (spec, dataflow graph, definitions, run) but keeps one Spark
Connect session for several updates, collects the pipeline events instead of printing them, and
tolerates a known quirk of the open-source client: after a run that read a Python data source, the event
stream ends with an ``UNKNOWN_RESPONSE ... Plan observed(__python_accumulator__)`` message although every
flow completed (see shared research, dlt-local.md section 2.6). Any real failure is still reported.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "spark-pipeline.yml"
# Definition files in dependency order. Open-source SDP 4.2 resolves a table read against the catalog
# when the reading file is loaded before the file defining that table and the table already exists
# (second update): the flow then runs unordered against a truncated input. Listing the layers in order
# avoids it; Databricks resolves the graph either way.
LAYERS = ("bronze", "silver")

DELTA_VERSION = "4.4.0"


def delta_package() -> str:
    """The Delta Lake build for the running Spark: Delta 4.4 is published for Spark 4.0, 4.1 and 4.2, so
    the compatibility runs under older pyspark releases use real Delta tables too."""
    import pyspark

    spark_version = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_version}_2.13:{DELTA_VERSION}"


#: Spark settings (a JSON object) added to every local session of this process and of the processes it
#: starts; the test suite sets it (tests/conftest.py), so the pipelines a test runs in a child process get
#: the same settings as those it runs in its own
EXTRA_CONF_ENV = "OSIPI_SPARK_CONF"


def session_conf(work_dir: Path) -> dict[str, str]:
    """Local Spark with Delta Lake as the table format and a Derby-backed Hive catalog (a persistent
    catalog is needed for a second update to find the first one's tables), plus the settings of
    :data:`EXTRA_CONF_ENV`."""
    warehouse = work_dir / "warehouse"
    extra = json.loads(os.environ.get(EXTRA_CONF_ENV) or "{}")
    return {
        "spark.jars.packages": delta_package(),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.sources.default": "delta",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={work_dir / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={work_dir} "
        f"-Dlog4j2.configurationFile={Path(__file__).parent / 'log4j2.properties'}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.connect.serverStacktrace.enabled": "false",
        **extra,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _one_start_at_a_time() -> Iterator[None]:
    """Spark resolves the Delta jars into the shared Ivy cache as it starts, and Ivy does not lock the cache:
    two sessions starting at once (parallel test workers, a test and the pipeline process it starts) could
    corrupt a download. Starts wait for each other; a running session holds no lock."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "osipi-lakeflow-spark-start.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _output_to(path: Path | None) -> Iterator[None]:
    """While the JVM starts, this process's standard output and error go to ``path`` (appended); the JVM
    keeps them for its whole life (dependency resolution, Spark's own log lines, Python workers' errors),
    while this process gets its own back."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    kept = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(kept[0], 1)
        os.dup2(kept[1], 2)
        for fd in kept:
            os.close(fd)


def _local_connect_session(master: str, conf: Mapping[str, str], output: Path | None = None):
    """A local Spark Connect server on a free port and a session connected to it.

    ``SparkSession.builder.remote("local[2]")`` does the same on the fixed port 15002, so two local runs
    (a test suite and a benchmark, or a test and the pipeline process it kills and reruns) could not
    coexist. This starts the server the way pyspark does (a classic context with the Connect plugin),
    on a port of its own."""
    import uuid

    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession as ClassicSession
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    port = _free_port()
    os.environ.setdefault("SPARK_CONNECT_AUTHENTICATE_TOKEN", str(uuid.uuid4()))
    spark_conf = (
        SparkConf(loadDefaults=True)
        .setMaster(master)
        .setAll(list(conf.items()))
        .setAll(
            [
                ("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin"),
                ("spark.connect.grpc.binding.port", str(port)),
                ("spark.sql.artifact.isolation.enabled", "true"),
                ("spark.sql.artifact.isolation.alwaysApplyClassloader", "true"),
            ]
        )
    )
    with _one_start_at_a_time(), _output_to(output):
        ClassicSession(SparkContext.getOrCreate(spark_conf))
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"  # pyspark.sql.functions and friends dispatch on it
    os.environ["SPARK_LOCAL_REMOTE"] = "1"  # session.stop() then stops the local server too
    return ConnectSession.builder.remote(f"sc://localhost:{port}").getOrCreate()


@dataclass
class UpdateResult:
    ok: bool
    events: list[str] = field(default_factory=list)
    error: str | None = None
    #: (UTC time, message) of every pipeline event, for per-flow timings
    timeline: list[tuple[datetime.datetime, str]] = field(default_factory=list)

    def flow_seconds(self) -> dict[str, float]:
        """Seconds from each flow's STARTING to its COMPLETED event."""
        started, took = {}, {}
        for when, message in self.timeline:
            name = message.split()[1] if message.startswith("Flow ") else None
            if name and message.endswith("is STARTING."):
                started[name] = when
            elif name and message.endswith("has COMPLETED.") and name in started:
                took[name.rsplit(".", 1)[-1]] = (when - started[name]).total_seconds()
        return took


class LocalPipeline:
    """One local Spark Connect session; :meth:`update` runs one triggered pipeline update."""

    def __init__(
        self,
        work_dir: Path,
        configuration: Mapping[str, str],
        master: str = "local[2]",
        database: str = "osipi",
        spark_conf: Mapping[str, str] | None = None,
        spark_output: Path | None = None,
    ):
        """``spark_conf`` adds to (or overrides) :func:`session_conf`, e.g. ``spark.driver.memory``;
        ``spark_output``: a file for everything the JVM prints (by default this process's terminal)."""
        self.database = database
        self.spark_conf = dict(spark_conf or {})
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.configuration = dict(configuration)
        self.master = master
        self.spark_output = spark_output
        self._spark = None

    @property
    def spark(self):
        if self._spark is None:
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            self._spark = _local_connect_session(
                self.master, {**session_conf(self.work_dir), **self.spark_conf}, self.spark_output
            )
        return self._spark

    def _spec(self):
        from pyspark.pipelines.cli import unpack_pipeline_spec

        return unpack_pipeline_spec(
            {
                "name": "osipi_lakeflow",
                "storage": (self.work_dir / "storage").as_uri(),
                "database": self.database,
                "configuration": self.configuration,
                "libraries": [{"glob": {"include": f"pipelines/{layer}.py"}} for layer in LAYERS],
            }
        )

    def update(
        self,
        full_refresh_all: bool = False,
        full_refresh: Sequence[str] = (),
        on_event: Callable[[datetime.datetime, str], None] | None = None,
    ) -> UpdateResult:
        """One triggered update; ``full_refresh`` names datasets to reset and recompute (only those are
        updated then, as with a full refresh selection on Databricks); ``on_event``: called with each
        pipeline event as it arrives (progress for a user watching)."""
        from pyspark.pipelines.cli import register_definitions
        from pyspark.pipelines.spark_connect_graph_element_registry import SparkConnectGraphElementRegistry
        from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph, start_run

        from connector_lib.spark.pipeline import first_line

        spark = self.spark
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.database}")  # SDP needs it to exist
        spark.catalog.setCurrentDatabase(self.database)
        spec = self._spec()
        for key, value in spec.configuration.items():  # as spark-pipelines does: configuration = session confs
            spark.conf.set(key, value)
        for key in set(spark.conf.getAll) - set(spec.configuration):  # another pipeline's, on a shared session
            if key.startswith("pi."):
                spark.conf.unset(key)
        graph_id = create_dataflow_graph(
            spark, default_catalog=spec.catalog, default_database=spec.database, sql_conf=spec.configuration
        )
        registry = SparkConnectGraphElementRegistry(spark, graph_id)
        result = UpdateResult(ok=False)
        try:  # a failure while the definitions load (a wrong setting, unreadable state) fails the update
            register_definitions(SPEC, registry, spec, spark, graph_id)
        except Exception as exc:  # noqa: BLE001 - reported like a failed run
            result.error = first_line(exc)
            return result
        try:
            for item in start_run(
                spark,
                graph_id,
                full_refresh=list(full_refresh) or None,
                full_refresh_all=full_refresh_all,
                refresh=None,
                dry=False,
                storage=spec.storage,
            ):
                if "pipeline_event_result" in item:
                    event = item["pipeline_event_result"].event
                    result.events.append(event.message)
                    result.timeline.append((event.timestamp.ToDatetime(), event.message))
                    if on_event is not None:
                        on_event(*result.timeline[-1])
        except Exception as exc:  # noqa: BLE001 - classified below
            text = str(exc)
            if "UNKNOWN_RESPONSE" not in text or "__python_accumulator__" not in text:
                result.error = text
        completed = any(m.startswith("Run is COMPLETED") for m in result.events)
        failed = any(
            "has FAILED" in m or m.startswith("Run is FAILED") or m.startswith("Run has FAILED") for m in result.events
        )
        result.ok = completed and not failed and result.error is None
        if not result.ok and result.error is None:
            result.error = next((m for m in reversed(result.events) if "FAIL" in m.upper()), "run did not complete")
        return result

    def stop(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None
