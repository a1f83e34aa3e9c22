"""The local stand-in for Databricks' ForEachBatch sink: a Python data source sink that hands each
micro-batch to the function that merges it: ``curation.apply_batch`` (bronze values into silver, the
watermarks and hourly gold), ``af_curation.apply_af_batch`` (AF snapshots into the AF history) or
``ef_curation.apply_ef_batch`` (event frame reads into the event frame tables and KPIs).

Open-source Spark Declarative Pipelines has no ForEachBatch sink and cannot AUTO CDC into Delta; a Python
data source sink is the one mechanism it offers that sees every micro-batch of a flow with its batch id
(docs/architecture.md). Executors stage their rows as Parquet files (Arrow, no per-row Python); the
writer's ``commit``, which Spark runs once per micro-batch after every task succeeded, opens a Spark
Connect session to the local server, reads the staged files as that micro-batch and applies it. Spark
commits the flow's checkpoint only after ``commit`` returns, so a crash in between replays the batch,
which ``apply_batch`` tolerates. Local only: it reaches the pipeline's Spark through a local port.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.datasource import DataSource, WriterCommitMessage

try:  # Spark 4.1 and later, as every open-source SDP release this sink serves
    from pyspark.sql.datasource import DataSourceStreamArrowWriter
except ImportError:  # pragma: no cover - Spark 4.0: Databricks 17.3 uses its ForEachBatch sink instead
    DataSourceStreamArrowWriter = None  # type: ignore[misc,assignment]

from ..bronze import SPARK_SCHEMA
from .af_curation import AF_SCHEMA, AFTargets, apply_af_batch
from .assets_gold import AssetsGold
from .curation import GOLD_TABLE, Targets, apply_batch
from .ef_curation import EF_SCHEMA, AFSource, EFTargets, KPISettings, apply_ef_batch

FORMAT = "pi_curation"


def _apply_values(batch, batch_id: int, options: dict[str, str]) -> None:
    from expectations import enforce

    apply_batch(
        batch,
        batch_id,
        Targets(options["silver"], options["watermarks"], options["gold"]),
        gold_check=enforce(GOLD_TABLE),
    )
    _ensure_assets_gold(batch.sparkSession, options, replace=batch_id == 0)  # micro-batch 0 created gold anew


def _apply_af(batch, batch_id: int, options: dict[str, str]) -> None:
    apply_af_batch(batch, batch_id, AFTargets(options["elements"], options["attributes"], options["tag_assets"]))
    _ensure_assets_gold(batch.sparkSession, options)


def _ensure_assets_gold(spark, options: dict[str, str], replace: bool = False) -> None:
    if options.get("assets_view"):
        AssetsGold(options["assets_view"], options["assets_gold"], options["assets_tag_assets"]).ensure(spark, replace)


def _apply_ef(batch, batch_id: int, options: dict[str, str]) -> None:
    targets = EFTargets(
        options["frames"], options["attributes"], options["alarms"], options["downtime"], options["batches"]
    )
    af = AFSource(options["af_elements"], options["af_bronze"], json.loads(options["af_latest"]))
    kpis = KPISettings(options["downtime_template"], options["batch_template"], options["product_attribute"])
    apply_ef_batch(batch, batch_id, targets, af, kpis)


#: option ``handler``: the rows the sink takes and the function that merges them
HANDLERS = {"values": (SPARK_SCHEMA, _apply_values), "af": (AF_SCHEMA, _apply_af), "ef": (EF_SCHEMA, _apply_ef)}


class CurationSink(DataSource):
    """Options: ``port`` (the local Spark Connect server), ``staging`` (a directory on this machine),
    ``handler`` (a key of :data:`HANDLERS`) and the qualified names of the tables it merges into
    (``silver``, ``watermarks``, ``gold``; ``elements``, ``attributes``, ``tag_assets``; ``frames``,
    ``attributes``, ``alarms``, ``downtime``, ``batches`` with the AF tables and KPI settings); with AF,
    ``assets_view``, ``assets_gold`` and ``assets_tag_assets`` (``assets_gold.AssetsGold``)."""

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def schema(self) -> str:
        return HANDLERS[self.options.get("handler", "values")][0]

    def streamWriter(self, schema, overwrite):
        if DataSourceStreamArrowWriter is None:
            raise RuntimeError("the local curation sink needs Spark 4.1 or later")
        return _StagingWriter(dict(self.options))


class StagedFile(WriterCommitMessage):
    """What one task staged: a Parquet file, or None when its partition had no rows."""

    def __init__(self, path: str | None):
        self.path = path


def _staged(messages: list[StagedFile]) -> list[str]:
    return [m.path for m in messages if m is not None and m.path is not None]


class _StagingWriter(DataSourceStreamArrowWriter or object):  # type: ignore[misc]
    def __init__(self, options: dict[str, str]):
        self.options = options

    def write(self, iterator: Iterator[pa.RecordBatch]) -> StagedFile:
        path, writer = os.path.join(self.options["staging"], f"{uuid.uuid4().hex}.parquet"), None
        try:
            for batch in iterator:
                if batch.num_rows == 0:
                    continue
                if writer is None:
                    os.makedirs(self.options["staging"], exist_ok=True)
                    writer = pq.ParquetWriter(path, batch.schema)
                writer.write_batch(batch)
        finally:
            if writer is not None:
                writer.close()
        return StagedFile(path if writer is not None else None)

    def commit(self, messages: list[StagedFile], batchId: int) -> None:
        paths = _staged(messages)
        schema, apply = HANDLERS[self.options.get("handler", "values")]
        try:
            with _local_session(int(self.options["port"])) as spark:
                batch = spark.read.schema(schema).parquet(*paths) if paths else spark.createDataFrame([], schema)
                apply(batch, batchId, self.options)
        finally:
            _remove(paths)

    def abort(self, messages: list[StagedFile], batchId: int) -> None:
        _remove(_staged(messages))


def _remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


@contextmanager
def _local_session(port: int):
    """A Spark Connect session to the local server the pipeline runs on. This Python worker was started
    by that server's JVM and inherits its environment, the server's token included."""
    from pyspark.sql.connect.session import SparkSession

    previous = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"  # pyspark.sql.functions build Connect columns
    session = SparkSession.builder.remote(f"sc://localhost:{port}").create()
    # results are released with the call, not by a background request that could reach the server after
    # the session below is closed (an INVALID_HANDLE.SESSION_CLOSED trace in the server's log)
    session.client.disable_reattachable_execute()
    try:
        yield session
    finally:
        session.stop()
        if previous is None:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def staging_directory(table: str) -> str:
    """Where executors stage a micro-batch, per sink (named by the first table it merges into, qualified
    by the pipeline's schema; one machine: the local engine)."""
    import hashlib
    import tempfile

    return os.path.join(tempfile.gettempdir(), "osipi-curation", hashlib.sha1(table.encode()).hexdigest()[:12])


def clear_staging(directory: str) -> None:
    """Files a crashed micro-batch left behind; its replay stages them again."""
    shutil.rmtree(directory, ignore_errors=True)
