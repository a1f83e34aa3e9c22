"""The graph the pipeline files define, as the engine's registration sees it: the real
``register_definitions`` with a recording ``GraphElementRegistry`` (the engine's own interface) instead of
the Spark Connect one. Checks which datasets each configuration defines, that gold reads silver only
through temporary views (open-source SDP mis-orders cross-file reads of tables, docs/architecture.md), and
the AUTO CDC branch used on Databricks, which cannot run here (open-source SDP cannot AUTO CDC into Delta):
its keys, sequence and SCD type."""

import re

import pytest
from pyspark.pipelines.cli import register_definitions, unpack_pipeline_spec
from pyspark.pipelines.graph_element_registry import GraphElementRegistry
from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph

from connector_lib.config import KNOWN_KEYS
from devtools.local_pipeline import LAYERS, REPO, SPEC

DATABASE = "graph_check"
GOLD = {"pi_hourly_gold", "pi_hourly_assets_gold", "pi_downtime_daily_gold", "pi_batches_daily_gold"}


def tables_read(df) -> set[str]:
    """The tables and views a DataFrame's (unanalysed) plan reads."""
    return set(re.findall(r'named_table \{\s*unparsed_identifier: "([^"]+)"', str(df._plan.to_proto(df._session.client))))


class Recorder(GraphElementRegistry):
    def __init__(self):
        self.outputs: dict[str, str] = {}
        self.reads: dict[str, set[str]] = {}
        self.auto_cdc = []

    def register_output(self, output) -> None:
        self.outputs[output.name] = type(output).__name__

    def register_flow(self, flow) -> None:
        self.reads[flow.target] = tables_read(flow.func())

    def register_auto_cdc_flow(self, flow) -> None:
        self.auto_cdc.append(flow)

    def register_sql(self, sql_text, file_path) -> None:
        raise AssertionError(f"unexpected SQL definitions in {file_path}")


def register(spark, configuration: dict[str, str]) -> Recorder:
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    spark.catalog.setCurrentDatabase(DATABASE)
    for key in KNOWN_KEYS:  # other tests' pipelines share this session
        spark.conf.unset(key)
    for key, value in configuration.items():
        spark.conf.set(key, value)
    try:
        spec = unpack_pipeline_spec({"name": "graph_check", "storage": (REPO / ".work" / "graph").as_uri(),
                                     "database": DATABASE, "configuration": configuration,
                                     "libraries": [{"glob": {"include": f"pipelines/{layer}.py"}} for layer in LAYERS]})
        graph = create_dataflow_graph(spark, default_catalog=None, default_database=DATABASE,
                                      sql_conf=spec.configuration)
        recorder = Recorder()
        register_definitions(SPEC, recorder, spec, spark, graph)
        return recorder
    finally:
        for key in configuration:  # the session is shared with other tests' pipelines
            spark.conf.unset(key)


BASE = {"pi.url": "http://127.0.0.1:9/piwebapi"}  # nothing is read at registration


def test_without_af_the_graph_has_only_the_time_series_tables(spark):
    graph = register(spark, BASE)
    assert set(graph.outputs) == {"pi_recorded_bronze", "pi_watermarks", "pi_extraction_log", "pi_quarantine",
                                  "pi_timeseries_v", "pi_timeseries_silver", "pi_hourly_gold"}


@pytest.mark.parametrize("mode", ["view", "auto_cdc"])
def test_gold_reads_silver_only_through_temporary_views(spark, mode):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations", "pi.ef.current": mode})
    views = {name for name, kind in graph.outputs.items() if kind == "TemporaryView"}
    for table in GOLD:
        assert graph.reads[table] <= views | GOLD, (table, graph.reads[table] - views - GOLD)


def test_locally_the_current_event_frames_are_a_view_over_bronze(spark):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations", "pi.ef.current": "view"})
    assert graph.outputs["pi_event_frames"] == "MaterializedView" and not graph.auto_cdc
    assert graph.reads["pi_event_frames_v"] == {"pi_event_frames_bronze_v"}


def test_on_databricks_auto_cdc_applies_each_read_to_the_frame_row(spark, monkeypatch):
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")  # what pi.ef.current = auto looks at
    graph = register(spark, {**BASE, "pi.af.databases": "Operations"})
    assert graph.outputs["pi_event_frames"] == "StreamingTable"
    (flow,) = graph.auto_cdc
    assert (flow.target, flow.source, int(flow.stored_as_scd_type)) == ("pi_event_frames", "pi_event_frame_changes_v", 1)
    assert [str(k) for k in flow.keys] in (["database", "id"], ["Column<'database'>", "Column<'id'>"])
    assert "last_read_at" in str(flow.sequence_by) and "read_id" in str(flow.sequence_by)
    assert graph.reads["pi_event_frame_changes_v"] == {"pi_event_frames_bronze"}
