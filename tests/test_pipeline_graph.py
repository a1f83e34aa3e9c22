"""The graph the pipeline files define, as the engine's registration sees it: the real
``register_definitions`` with a recording ``GraphElementRegistry`` (the engine's own interface) instead of
the Spark Connect one. Checks which datasets each configuration defines, that gold reads silver only
through temporary views (open-source SDP mis-orders reads of tables, docs/architecture.md), and
the AUTO CDC branch used on Databricks, which cannot run here (open-source SDP cannot AUTO CDC into Delta):
its keys, sequence and SCD type."""

import re

import pytest
from pyspark.pipelines.cli import register_definitions, unpack_pipeline_spec
from pyspark.pipelines.graph_element_registry import GraphElementRegistry
from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph

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
        self.expectations: dict[str, dict[str, dict[str, str]]] = {}
        self.auto_cdc = []

    def register_output(self, output) -> None:
        self.outputs[output.name] = type(output).__name__

    def register_flow(self, flow) -> None:
        self.reads[flow.target] = tables_read(flow.func())
        if getattr(flow.func, "expectations", None):
            self.expectations[flow.target] = flow.func.expectations

    def register_auto_cdc_flow(self, flow) -> None:
        self.auto_cdc.append(flow)

    def register_sql(self, sql_text, file_path) -> None:
        raise AssertionError(f"unexpected SQL definitions in {file_path}")


def register(spark, configuration: dict[str, str]) -> Recorder:
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    spark.catalog.setCurrentDatabase(DATABASE)
    for key in [k for k in spark.conf.getAll if k.startswith("pi.")]:  # other tests' pipelines share this session
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


@pytest.fixture
def databricks(monkeypatch):
    """What the Databricks pipeline runtime adds, which cannot run here: DATABRICKS_RUNTIME_VERSION, and
    the expectation decorators its ``pyspark.pipelines`` (Databricks' ``dlt``) has, recording the rules on
    the function they decorate."""
    from pyspark import pipelines as dp

    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")

    def decorator(action):
        def expect(rules):
            def wrap(func):
                func.expectations = {**getattr(func, "expectations", {}), action: dict(rules)}
                return func
            return wrap
        return expect

    for action in ("expect_all", "expect_all_or_drop", "expect_all_or_fail"):
        monkeypatch.setattr(dp, action, decorator(action), raising=False)


def test_without_af_the_graph_has_only_the_time_series_tables(spark):
    graph = register(spark, BASE)
    assert set(graph.outputs) == {"pi_recorded_bronze", "pi_watermarks", "pi_extraction_log", "pi_quarantine",
                                  "pi_timeseries_silver", "pi_timeseries_v", "pi_hourly_gold"}


@pytest.mark.parametrize("mode", ["view", "auto_cdc"])
def test_gold_reads_other_tables_only_through_temporary_views(spark, mode):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations", "pi.ef.current": mode})
    views = {name for name, kind in graph.outputs.items() if kind == "TemporaryView"}
    for table in GOLD:
        assert graph.reads[table] <= views, (table, graph.reads[table] - views)


def test_locally_the_current_event_frames_are_a_view_over_bronze(spark):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations", "pi.ef.current": "view"})
    assert graph.outputs["pi_event_frames"] == "MaterializedView" and not graph.auto_cdc
    assert graph.reads["pi_event_frames_v"] == {"pi_event_frames_bronze_v"}


def test_on_databricks_auto_cdc_applies_each_read_to_the_frame_row(spark, databricks):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations"})  # pi.ef.current = auto
    assert graph.outputs["pi_event_frames"] == "StreamingTable"
    (flow,) = graph.auto_cdc
    assert (flow.target, flow.source, int(flow.stored_as_scd_type)) == ("pi_event_frames", "pi_event_frame_changes_v", 1)
    assert [str(k) for k in flow.keys] in (["database", "id"], ["Column<'database'>", "Column<'id'>"])
    assert "last_read_at" in str(flow.sequence_by) and "read_id" in str(flow.sequence_by)
    assert graph.reads["pi_event_frame_changes_v"] == {"pi_event_frames_bronze"}


def test_on_databricks_the_expectations_sit_on_the_published_tables(spark, databricks):
    """So the event log and the pipeline UI count them for pi_timeseries_silver and pi_hourly_gold."""
    import expectations

    graph = register(spark, BASE)
    assert set(graph.expectations) == {"pi_timeseries_silver", "pi_hourly_gold"}
    for table, by_action in graph.expectations.items():
        rules = expectations.load_rules(table)
        for action, decorator in (("warn", "expect_all"), ("drop", "expect_all_or_drop"),
                                  ("fail", "expect_all_or_fail")):
            chosen = {r.name: r.constraint for r in rules if r.action == action}
            assert by_action.get(decorator, {}) == chosen, (table, action)
    assert graph.reads["pi_timeseries_v"] == {"pi_timeseries_silver"}  # gold reads the checked table


def test_the_local_expectations_refuse_to_run_on_databricks(spark, monkeypatch):
    import expectations

    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")  # but no expect_all decorators
    with pytest.raises(expectations.ExpectationError, match="refusing the local fallback"):
        register(spark, BASE)


def test_every_pipeline_file_checks_the_runtime_before_it_imports_spark():
    """So a runtime without pyspark.pipelines (older than Spark 4.0) gets the one-line refusal."""
    import ast

    for layer in LAYERS:
        tree = ast.parse((REPO / "pipelines" / f"{layer}.py").read_text(encoding="utf-8"))
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert isinstance(imports[0], ast.Import) and imports[0].names[0].name == "connector_lib.runtime", layer
