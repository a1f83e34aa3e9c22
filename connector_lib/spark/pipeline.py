"""What the pipeline files call: the session, the configuration, the data source registration, and the
state read once at pipeline start (outside any table function, so it is not a graph dependency).

The state (per-tag watermarks, re-read requests) is looked up in the pipeline's own catalog and schema,
by qualified names, and what was found is logged. A stream that resumes from its checkpoint while its
bronze table could not be found stops the update (``StateError``) instead of reading every tag again
from ``pi.backfill_start``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyspark
from pyspark.sql import DataFrame, SparkSession

from ..bronze import TABLE_PROPERTIES
from ..config import ConfigError, PIConfig
from ..logs import use_level
from ..preflight import preflight
from ..runtime import UnsupportedRuntime, require_supported_spark
from .af_curation import ELEMENTS_TABLE, AFTargets, af_batch_handler
from .af_curation import SINK_NAME as AF_SINK_NAME
from .af_source import AF_BRONZE, af_stream_options
from .assets_gold import AssetsGold
from .curation import LAYOUT_PROPERTY, LAYOUT_VERSION, SINK_NAME, Targets, batch_handler
from .curation_sink import CurationSink, clear_staging, staging_directory
from .datasource import PIDataSource, reader_options
from .ef_curation import SINK_NAME as EF_SINK_NAME
from .ef_curation import AFSource, EFTargets, KPISettings, ef_batch_handler
from .ef_source import ef_stream_options
from .reread import EXTRACTION_LOG, load_rereads
from .state import BRONZE_TABLE, WATERMARK_TABLE, StateError, current_schema, load_state, qualified
from .stream_reader import state_option
from .verify_source import verify_stream_options

log = logging.getLogger(__name__)
BRONZE_CLUSTERING = ("web_id", "timestamp")


def pipeline_session(namespace: Mapping[str, Any]) -> SparkSession:
    """The session a pipeline file defines its tables with: the ``spark`` the engine injects into the
    file's namespace (Databricks, open-source Spark 4.2), else the active session (open-source Spark 4.1
    injects none)."""
    return namespace.get("spark") or SparkSession.active()


def pi_config(spark: SparkSession) -> PIConfig:
    """The configuration, validated once: a wrong or unknown ``pi.*`` key fails the update with one line."""
    require_supported_spark(spark.version, pyspark.__version__)
    return PIConfig.from_spark_conf(spark.conf.getAll)


def prepare_stream_options(spark: SparkSession, config: PIConfig) -> dict[str, str]:
    """Register the ``pi`` source and read the watermarks and the re-read requests: all must happen at
    pipeline start, outside any query function (SDP forbids analysis inside one, and the state must not
    become a graph edge)."""
    spark.dataSource.register(PIDataSource)
    where = current_schema(spark)
    bronze = qualified(where, BRONZE_TABLE)
    try:
        found = spark.catalog.tableExists(bronze)
        watermarks, densities, markers = (
            load_state(spark, qualified(where, WATERMARK_TABLE), bronze) if found else ({}, {}, {})
        )
    except Exception as exc:  # noqa: BLE001 - any failure to read the state stops the update, in one line
        raise StateError(
            f"pipeline state: cannot read the watermarks in {where} ({first_line(exc)}); the update "
            "stops rather than read every tag again from pi.backfill_start"
        ) from exc
    requests = qualified(where, config.reread_table)
    try:
        rereads = load_rereads(spark, requests, qualified(where, EXTRACTION_LOG), bronze)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise StateError(
            f"pipeline state: cannot read the re-read requests in {requests} ({first_line(exc)}); the "
            "update stops rather than leave them unread"
        ) from exc
    use_level(config.log_level or "info")  # the driver log of every update says what it started from
    followed = f" ({len(markers)} with Stream Updates markers)" if markers else ""
    log.info(
        "pipeline state in %s: %s; watermarks of %d tags%s, %d re-read requests",
        where,
        "bronze found" if found else "no bronze yet (first update)",
        len(watermarks),
        followed,
        len(rereads),
    )
    return {**reader_options(config, watermarks, densities, rereads, markers), **state_option(bronze, found)}


@dataclass(frozen=True)
class BronzeStart:
    """What an update's bronze streams start from, read once when the pipeline's files are loaded: the
    configuration, and the options of each source (the watermarks and re-read requests for the values,
    the last AF snapshot, where the last event frame read ended, the gold tag-hours to verify). ``af``/``ef``
    are ``None`` when the configuration reads no Asset Framework or no event frames, ``verify`` when
    ``pi.verify.tag_hours`` is 0."""

    config: PIConfig
    values: dict[str, str]
    af: dict[str, str] | None
    ef: dict[str, str] | None
    verify: dict[str, str] | None = None


def bronze_start(spark: SparkSession) -> BronzeStart:
    """Validate the configuration, make sure the server answers, register the sources and read the state
    each one starts from."""
    config = pi_config(spark)
    # an unreachable or refusing server fails the update here, in one line, not inside the first read
    preflight(config, through="data server", retries=True)
    return BronzeStart(
        config,
        prepare_stream_options(spark, config),
        af_stream_options(spark, config) if config.af_databases else None,
        ef_stream_options(spark, config) if config.reads_event_frames else None,
        verify_stream_options(spark, config) if config.verify_tag_hours else None,
    )


def curation_targets(spark: SparkSession) -> Targets:
    """Silver, the watermarks and hourly gold in the pipeline's own schema, by qualified names: the
    micro-batch merge runs outside the engine's name resolution for datasets."""
    return Targets.in_schema(current_schema(spark))


def assets_gold(spark: SparkSession, config: PIConfig) -> AssetsGold | None:
    """With AF, the view of hourly gold with its assets in the pipeline's own schema."""
    return AssetsGold.in_schema(current_schema(spark)) if config.af_databases else None


def _assets_options(assets: AssetsGold | None) -> dict[str, str]:
    if assets is None:
        return {}
    return {"assets_view": assets.view, "assets_gold": assets.gold, "assets_tag_assets": assets.tag_assets}


def declare_curation_sink(spark: SparkSession, targets: Targets, gold_check, assets: AssetsGold | None = None) -> None:
    """The sink the flow ``pi_curation`` writes each micro-batch of bronze to: Databricks' ForEachBatch
    sink, whose handler merges it into silver, the watermarks and gold; locally a Python data source sink
    whose commit does the same (open-source SDP has no ForEachBatch sink). With ``assets``, each
    micro-batch also makes sure the view of gold with its assets exists."""
    warn_if_former_layout(spark, targets)
    _declare_merge_sink(
        spark,
        SINK_NAME,
        batch_handler(targets, gold_check, assets),
        "values",
        {"silver": targets.silver, "watermarks": targets.watermarks, "gold": targets.gold, **_assets_options(assets)},
    )


def af_targets(spark: SparkSession) -> AFTargets:
    """The AF history and the tag-to-asset mapping in the pipeline's own schema, by qualified names."""
    return AFTargets.in_schema(current_schema(spark))


def declare_af_history_sink(spark: SparkSession, targets: AFTargets, assets: AssetsGold) -> None:
    """The sink the flow ``pi_af_history`` writes each micro-batch of AF bronze to: its handler folds the
    new snapshots into the element and attribute history, rewrites the tag-to-asset mapping and makes
    sure the view of gold with its assets exists."""
    _declare_merge_sink(
        spark,
        AF_SINK_NAME,
        af_batch_handler(targets, assets),
        "af",
        {
            "elements": targets.elements,
            "attributes": targets.attributes,
            "tag_assets": targets.tag_assets,
            **_assets_options(assets),
        },
    )


def declare_event_frame_sink(spark: SparkSession, config: PIConfig, latest: dict[str, str]) -> None:
    """The sink the flow ``pi_event_frame_curation`` writes each micro-batch of event frame bronze to: its
    handler merges the frames read into the current frames, their attribute values, the alarms and the
    KPIs, resolving elements through the AF history with this update's snapshot folded in (``latest``:
    each database's last complete AF snapshot before this update)."""
    where = current_schema(spark)
    targets = EFTargets.in_schema(where)
    af = AFSource(qualified(where, ELEMENTS_TABLE), qualified(where, AF_BRONZE), dict(latest))
    kpis = KPISettings(config.ef_downtime_template, config.ef_batch_template, config.ef_product_attribute)
    _declare_merge_sink(
        spark,
        EF_SINK_NAME,
        ef_batch_handler(targets, af, kpis),
        "ef",
        {
            "frames": targets.frames,
            "attributes": targets.attributes,
            "alarms": targets.alarms,
            "downtime": targets.downtime,
            "batches": targets.batches,
            "af_elements": af.elements,
            "af_bronze": af.bronze,
            "af_latest": json.dumps(af.latest),
            "downtime_template": kpis.downtime_template,
            "batch_template": kpis.batch_template,
            "product_attribute": kpis.product_attribute,
        },
    )


def _declare_merge_sink(spark: SparkSession, name: str, handler, kind: str, tables: dict[str, str]) -> None:
    """The engine's ForEachBatch sink with ``handler`` where it has one (Databricks, and the local
    continuous runner, which runs it as Structured Streaming's ``foreachBatch``); on open-source Spark
    Declarative Pipelines, which has none, a Python data source sink (``curation_sink``, handler ``kind``)
    whose commit calls the same function. Its options: the local
    Spark Connect server's port (the server's token is inherited by the sink's Python workers, never
    passed as an option), a staging directory of its own, the tables it writes (the first names the
    staging directory) and what else ``kind`` needs."""
    from pyspark import pipelines as dp

    if hasattr(dp, "foreach_batch_sink"):  # Databricks, and the local continuous runner (devtools.continuous)
        dp.foreach_batch_sink(name=name)(handler)
        return
    if on_databricks():
        raise UnsupportedRuntime(
            "this pipeline runtime has no ForEachBatch sink (dp.foreach_batch_sink), "
            "which silver needs: run the pipeline on the CURRENT or PREVIEW channel"
        )
    spark.dataSource.register(CurationSink)
    staging = staging_directory(next(iter(tables.values())))
    clear_staging(staging)
    dp.create_sink(
        name,
        format=CurationSink.name(),
        options={
            "port": str(spark.conf.get("spark.connect.grpc.binding.port", "15002")),
            "staging": staging,
            "handler": kind,
            **tables,
        },
    )


def warn_if_former_layout(spark: SparkSession, targets: Targets) -> None:
    """Say so when silver is still the former layout's (a materialized view, without ``osipi.layout``):
    the first micro-batch of ``pi_curation`` replaces it, but ``pi_extraction_log`` and ``pi_quarantine``,
    materialized views then and streaming tables now, need one full refresh from bronze, or they keep the
    former rows beside the stream's (docs/deploy.md, upgrading in place)."""
    try:
        if not spark.catalog.tableExists(targets.silver):
            return
        properties = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {targets.silver}").collect()}
    except Exception as exc:  # noqa: BLE001 - a check for a message only; the update goes on
        log.debug("layout check skipped: %s", first_line(exc))
        return
    if properties.get(LAYOUT_PROPERTY) != LAYOUT_VERSION:
        log.warning(
            "%s has the former table layout: this update rebuilds silver, gold and the watermarks from "
            "bronze; run one update with a full refresh of pi_extraction_log and pi_quarantine (docs/"
            "deploy.md, upgrading in place)",
            targets.silver,
        )


def first_line(exc: BaseException) -> str:
    """What a user reads of a failure: the line that says what went wrong, not the engine's wrapping or a
    server's stack trace."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def bronze_layout(spark: SparkSession) -> dict[str, Any]:
    """How ``pi_recorded_bronze`` is stored: statistics on the columns its reads filter on, and, on
    Databricks, liquid clustering by tag and time for a new table (predictive optimization or
    ``OPTIMIZE`` then lay it out so that a query for one tag's range reads few files). An existing table
    keeps the clustering it has: the engine refuses a declaration that differs from the table's
    (``CANNOT_UPDATE_PARTITION_COLUMNS``), and bronze is the one table that cannot be rebuilt without
    reading PI again. Locally none is declared: open-source Delta refuses the clustering open-source SDP
    passes for a dataset (``Partitioning by expressions is not supported``); there the reader's partitions
    hold contiguous ranges of tags instead (``plan.partition_tasks``). Nor where ``dp.table`` has no
    ``cluster_by`` (the Spark 4.0 pipeline API of Databricks Connect 17.3)."""
    import inspect

    from pyspark import pipelines as dp

    layout: dict[str, Any] = {"table_properties": TABLE_PROPERTIES}
    if not on_databricks() or "cluster_by" not in inspect.signature(dp.table).parameters:
        return layout
    table = qualified(current_schema(spark), BRONZE_TABLE)
    clustering = list(BRONZE_CLUSTERING)
    try:
        if spark.catalog.tableExists(table):
            (detail,) = spark.sql(f"DESCRIBE DETAIL {table}").collect()
            clustering = list(detail["clusteringColumns"] or [])
    except Exception as exc:  # noqa: BLE001 - unreadable detail: declare nothing rather than a conflict
        log.warning("bronze layout: cannot read the clustering of %s (%s); declaring none", table, first_line(exc))
        clustering = []
    if clustering:
        layout["cluster_by"] = clustering
    return layout


def recorded_values_stream(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    """The streaming read behind the bronze table."""
    return spark.readStream.format(PIDataSource.name()).options(**options).load()


def on_databricks() -> bool:
    """Databricks sets ``DATABRICKS_RUNTIME_VERSION`` in every process of a cluster or serverless pipeline."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))
