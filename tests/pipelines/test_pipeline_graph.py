"""The graph the pipeline files define, as the engine's registration sees it: the real
``register_definitions`` with a recording ``GraphElementRegistry`` (the engine's own interface) instead of
the Spark Connect one. Checks which datasets each configuration defines, that gold reads silver only
through temporary views (open-source SDP mis-orders reads of tables, docs/architecture.md), and
the branches used on Databricks, which cannot run here: the ForEachBatch sink that merges silver, the
watermarks and hourly gold (open-source SDP has none; locally a Python data source sink calls the same
function), and the same for the AF history and the event frame tables."""

import re

import pytest
from pyspark.pipelines.cli import register_definitions, unpack_pipeline_spec
from pyspark.pipelines.graph_element_registry import GraphElementRegistry
from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph

from devtools.local_pipeline import LAYERS, REPO, SPEC
from pi_simulator import Archive, SimulatorServer

DATABASE = "graph_check"
#: tables the micro-batch merge writes (connector_lib.spark.curation): not datasets of the graph
MERGED = {"pi_timeseries_silver", "pi_watermarks", "pi_hourly_gold"}
#: the tables the AF snapshot fold writes (connector_lib.spark.af_curation)
AF_MERGED = {"pi_af_elements", "pi_af_attributes", "pi_tag_assets"}
#: the tables the event frame merge writes (connector_lib.spark.ef_curation)
EF_MERGED = {
    "pi_event_frames",
    "pi_event_frame_attributes",
    "pi_alarms",
    "pi_downtime_daily_gold",
    "pi_batches_daily_gold",
}


def tables_read(df) -> set[str]:
    """The tables and views a DataFrame's (unanalysed) plan reads."""
    return set(
        re.findall(r'named_table \{\s*unparsed_identifier: "([^"]+)"', str(df._plan.to_proto(df._session.client)))
    )


class Recorder(GraphElementRegistry):
    def __init__(self):
        self.outputs: dict[str, str] = {}
        self.reads: dict[str, set[str]] = {}
        self.expectations: dict[str, dict[str, dict[str, str]]] = {}
        self.auto_cdc = []
        self.sinks: dict[str, tuple[str, dict[str, str]]] = {}
        self.clustering: dict[str, list[str] | None] = {}

    def register_flow(self, flow) -> None:
        self.reads[flow.target] = tables_read(flow.func())
        if getattr(flow.func, "expectations", None):
            self.expectations[flow.target] = flow.func.expectations

    def register_output(self, output) -> None:
        self.outputs[output.name] = type(output).__name__
        self.clustering[output.name] = list(getattr(output, "cluster_by", None) or []) or None
        if type(output).__name__ == "Sink":
            self.sinks[output.name] = (output.format, dict(output.options))

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
        spec = unpack_pipeline_spec(
            {
                "name": "graph_check",
                "storage": (REPO / ".work" / "graph").as_uri(),
                "database": DATABASE,
                "configuration": configuration,
                "libraries": [{"glob": {"include": f"pipelines/{layer}.py"}} for layer in LAYERS],
            }
        )
        graph = create_dataflow_graph(
            spark, default_catalog=None, default_database=DATABASE, sql_conf=spec.configuration
        )
        recorder = Recorder()
        register_definitions(SPEC, recorder, spec, spark, graph)
        return recorder
    finally:
        for key in configuration:  # the session is shared with other tests' pipelines
            spark.conf.unset(key)


BASE = {"pi.url": ""}  # the simulator's, below


@pytest.fixture(scope="module", autouse=True)
def pi_server():
    """The server each registration's preflight reaches (the server and its data server, nothing else is
    read at registration)."""
    with SimulatorServer(Archive(seed=3, n_points=2)) as server:
        BASE["pi.url"] = server.url
        yield server


FOREACH_BATCH_SINKS: dict[str, object] = {}


@pytest.fixture
def databricks(monkeypatch):
    """What the Databricks pipeline runtime adds, which cannot run here: DATABRICKS_RUNTIME_VERSION, the
    expectation decorators its ``pyspark.pipelines`` (Databricks' ``dlt``) has, recording the rules on
    the function they decorate, and ``foreach_batch_sink``, recording the handler by sink name."""
    from pyspark import pipelines as dp

    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    FOREACH_BATCH_SINKS.clear()

    def foreach_batch_sink(name=None):
        def register_handler(handler):
            FOREACH_BATCH_SINKS[name or handler.__name__] = handler
            return handler

        return register_handler

    monkeypatch.setattr(dp, "foreach_batch_sink", foreach_batch_sink, raising=False)

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
    assert set(graph.outputs) == {
        "pi_recorded_bronze",
        "pi_extraction_log",
        "pi_quarantine",
        "pi_recorded_changes_v",
        "pi_curation_sink",
    }
    assert graph.reads["pi_curation_sink"] == {"pi_recorded_changes_v"}
    assert "assets_view" not in graph.sinks["pi_curation_sink"][1]  # no AF: no view of gold with assets
    assert graph.reads["pi_recorded_changes_v"] == {"pi_recorded_bronze"}
    assert graph.reads["pi_extraction_log"] == graph.reads["pi_quarantine"] == {"pi_recorded_bronze"}
    format_, options = graph.sinks["pi_curation_sink"]
    assert format_ == "pi_curation"
    assert {options[k] for k in ("silver", "watermarks", "gold")} == {f"spark_catalog.{DATABASE}.{t}" for t in MERGED}


def test_no_materialized_view_reads_another_table_of_the_graph(spark):
    """Every table after bronze is merged by a sink or is a view: none is recomputed by the engine."""
    graph = register(spark, {**BASE, "pi.af.databases": "Operations"})
    assert not [name for name, kind in graph.outputs.items() if kind == "MaterializedView"]
    assert not (MERGED | AF_MERGED | EF_MERGED | {"pi_hourly_assets_gold"}) & set(graph.outputs)


def test_locally_a_sink_merges_the_event_frames_read_after_this_updates_af_snapshot(spark):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations", "pi.ef.batch_template": "Lot"})
    assert not EF_MERGED & set(graph.outputs)
    assert graph.reads["pi_event_frames_sink"] == {"pi_event_frames_bronze", "pi_af_recent_v"}
    format_, options = graph.sinks["pi_event_frames_sink"]
    assert (format_, options["handler"]) == ("pi_curation", "ef")
    assert {options[k] for k in ("frames", "attributes", "alarms", "downtime", "batches")} == {
        f"spark_catalog.{DATABASE}.{t}" for t in EF_MERGED
    }
    assert (options["af_elements"], options["af_bronze"]) == (
        f"spark_catalog.{DATABASE}.pi_af_elements",
        f"spark_catalog.{DATABASE}.pi_af_bronze",
    )
    assert (options["batch_template"], options["downtime_template"]) == ("Lot", "Downtime")
    stagings = {
        graph.sinks[s][1]["staging"] for s in ("pi_event_frames_sink", "pi_af_history_sink", "pi_curation_sink")
    }
    assert len(stagings) == 3


def test_locally_a_sink_folds_each_af_snapshot_into_the_history(spark):
    graph = register(spark, {**BASE, "pi.af.databases": "Operations"})
    assert not AF_MERGED & set(graph.outputs)
    assert graph.reads["pi_af_history_sink"] == {"pi_af_bronze"}
    format_, options = graph.sinks["pi_af_history_sink"]
    assert (format_, options["handler"]) == ("pi_curation", "af")
    assert {options[k] for k in ("elements", "attributes", "tag_assets")} == {
        f"spark_catalog.{DATABASE}.{t}" for t in AF_MERGED
    }
    assert options["staging"] != graph.sinks["pi_curation_sink"][1]["staging"]
    # both merges make sure of the view of gold with its assets
    view = {k: options[k] for k in ("assets_view", "assets_gold", "assets_tag_assets")}
    assert (
        view
        == {k: graph.sinks["pi_curation_sink"][1][k] for k in view}
        == {
            "assets_view": f"spark_catalog.{DATABASE}.pi_hourly_assets_gold",
            "assets_gold": f"spark_catalog.{DATABASE}.pi_hourly_gold",
            "assets_tag_assets": f"spark_catalog.{DATABASE}.pi_tag_assets",
        }
    )
    # this update's snapshot, read from bronze, for the event frame merge to wait for
    assert graph.reads["pi_af_recent_v"] == {"pi_af_bronze"}


def test_on_databricks_a_foreach_batch_sink_folds_each_af_snapshot(spark, databricks):
    """The handler the AF ForEachBatch sink receives is the real fold, bound to the pipeline's schema."""
    from tests.conftest import AF_ATTRIBUTES, AF_ROWS, AF_SCHEMA

    graph = register(spark, {**BASE, "pi.af.databases": "Operations"})
    assert "pi_af_history_sink" not in graph.sinks and graph.reads["pi_af_history_sink"] == {"pi_af_bronze"}
    handler = FOREACH_BATCH_SINKS["pi_af_history_sink"]
    first = [r for r in AF_ROWS + AF_ATTRIBUTES if r[1] == "s1"]
    handler(spark.createDataFrame(first, AF_SCHEMA), 0)
    counts = {t: spark.read.table(f"spark_catalog.{DATABASE}.{t}").count() for t in AF_MERGED}
    assert counts == {"pi_af_elements": 2, "pi_af_attributes": 1, "pi_tag_assets": 1}


def test_on_databricks_a_foreach_batch_sink_merges_the_event_frames_read(spark, databricks):
    """The handler the event frame ForEachBatch sink receives is the real merge, bound to the pipeline's
    schema and templates: micro-batch 0 fills the frame tables and the KPIs."""
    from tests.conftest import EF_BATCHES, ELEMENTS_BEFORE, ef_bronze, set_elements

    graph = register(spark, {**BASE, "pi.af.databases": "Operations"})
    assert "pi_event_frames_sink" not in graph.sinks and not graph.auto_cdc
    assert graph.reads["pi_event_frames_sink"] == {"pi_event_frames_bronze", "pi_af_recent_v"}
    set_elements(spark, f"spark_catalog.{DATABASE}.pi_af_elements", ELEMENTS_BEFORE)
    FOREACH_BATCH_SINKS["pi_event_frames_sink"](ef_bronze(spark, EF_BATCHES[0] + EF_BATCHES[1]), 0)
    counts = {t: spark.read.table(f"spark_catalog.{DATABASE}.{t}").count() for t in EF_MERGED}
    assert counts == {
        "pi_event_frames": 4,
        "pi_event_frame_attributes": 1,
        "pi_alarms": 1,
        "pi_downtime_daily_gold": 3,
        "pi_batches_daily_gold": 1,
    }


def test_on_databricks_the_expectations_sit_on_the_rows_silver_is_merged_from(spark, databricks):
    """So the event log and the pipeline UI count them: silver's rules on the view of bronze rows its
    merge takes, restricted to value records."""
    import expectations

    graph = register(spark, BASE)
    assert set(graph.expectations) == {"pi_recorded_changes_v"}
    rules = expectations.scoped(expectations.load_rules("pi_timeseries_silver"), "record_kind = 'value'")
    by_action = graph.expectations["pi_recorded_changes_v"]
    for action, decorator in (("warn", "expect_all"), ("drop", "expect_all_or_drop"), ("fail", "expect_all_or_fail")):
        assert by_action.get(decorator, {}) == {r.name: r.constraint for r in rules if r.action == action}, action
    from tests.conftest import bronze, window

    completion = bronze(spark, [window("A", 0, 5, "failed", 5)])
    assert all(completion.where(r.constraint).count() == 1 for r in rules)  # completion records pass every rule


def test_on_databricks_a_foreach_batch_sink_merges_each_micro_batch(spark, databricks, monkeypatch):
    """The handler the ForEachBatch sink receives is the real merge, bound to the pipeline's schema and
    gold's rules: called here with micro-batches, as Databricks would, it fills silver, the watermarks
    and gold, and a gold rule that fails stops it."""
    import expectations
    from tests.conftest import bronze, value, window

    load_rules = expectations.load_rules
    strict = expectations.Rule("at_most_one_value", "count <= 1", "fail")
    monkeypatch.setattr(
        expectations, "load_rules", lambda table, *a: [strict] if table == "pi_hourly_gold" else load_rules(table, *a)
    )
    graph = register(spark, BASE)
    assert "pi_curation_sink" not in graph.sinks and graph.reads["pi_curation_sink"] == {"pi_recorded_changes_v"}
    handler = FOREACH_BATCH_SINKS["pi_curation_sink"]
    handler(bronze(spark, [value("A", 1, 10.0, read_at=5), window("A", 0, 5, "ok", 5, 1)]), 0)
    counts = {t: spark.read.table(f"spark_catalog.{DATABASE}.{t}").count() for t in MERGED}
    assert counts == {"pi_timeseries_silver": 1, "pi_watermarks": 1, "pi_hourly_gold": 1}
    with pytest.raises(Exception, match="EXPECTATION_VIOLATION: at_most_one_value"):
        handler(bronze(spark, [value("A", 2, 11.0, read_at=6), window("A", 0, 6, "ok", 6, 1)]), 1)


def test_locally_bronze_declares_no_clustering(spark):
    assert register(spark, BASE).clustering["pi_recorded_bronze"] is None  # open-source Delta refuses it


def test_on_databricks_a_new_bronze_is_clustered_by_tag_and_time(spark, databricks):
    assert register(spark, BASE).clustering["pi_recorded_bronze"] == ["web_id", "timestamp"]


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
