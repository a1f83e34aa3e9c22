"""The real pipeline, twice, on local Spark Declarative Pipelines with Delta tables, against the simulator
over HTTP, the first update with Basic auth and the second with a bearer token from the simulator's OAuth 2.0
token endpoint; silver must equal the simulator's ground truth after each update, and neither canary secret
may appear in events, tables, plans or files. The secrets are given as values, the form a Databricks secret
reference takes once resolved (they travel as redacted data source options); tests/e2e/test_auth_modes.py
covers env:VAR and the process logs."""

import contextlib
import io
import time

import pytest

from connector_lib.config import PIConfig
from connector_lib.spark.datasource import PIDataSource, reader_options
from devtools.reconcile import reconcile
from pi_simulator import Archive, SimulatorServer
from pi_simulator.auth import TokenIssuer

CANARY = "canary-Pw-7f3e91"
CLIENT_SECRET = "canary-Cs-52d0aa"


@pytest.fixture(scope="module")
def simulator():
    archive = Archive(seed=5, n_points=40)
    issuer = TokenIssuer(client_id="osipi", client_secret=CLIENT_SECRET)
    with SimulatorServer(archive, basic_auth=("svc_pi", CANARY), bearer=issuer) as server:
        server.issuer = issuer
        yield archive, server


@pytest.fixture(scope="module")
def runs(simulator, local_pipeline_factory):
    archive, server = simulator
    pipeline = local_pipeline_factory(
        {
            "pi.url": server.url,
            "pi.auth.type": "basic",
            "pi.auth.username": "svc_pi",
            "pi.auth.password": CANARY,
            "pi.backfill_start": "*-200m",  # at least two complete hours for gold
            "pi.lookback": "10m",
            "pi.settle_lag": "2s",
            "pi.tags_per_request": "15",
            "pi.verify.tag_hours": "6",
        },
        "e2e",
    )
    first = pipeline.update()
    assert first.ok, first.error
    spark = pipeline.spark
    rec1 = reconcile(spark, archive)
    marks1 = {r.web_id: r.watermark for r in spark.read.table("pi_watermarks").collect()}
    time.sleep(3)
    for key in ("pi.auth.username", "pi.auth.password"):  # the second update authenticates with a bearer token
        pipeline.configuration.pop(key)
    pipeline.configuration.update(
        {
            "pi.auth.type": "bearer",
            "pi.auth.token_url": server.token_url,
            "pi.auth.client_id": "osipi",
            "pi.auth.client_secret": CLIENT_SECRET,
        }
    )
    tokens_before = server.issuer.requests
    second = pipeline.update()
    assert second.ok, second.error
    assert tokens_before == 0 and server.issuer.requests > 0  # the second update read with bearer tokens
    rec2 = reconcile(spark, archive)
    return {
        "pipeline": pipeline,
        "spark": spark,
        "rec": (rec1, rec2),
        "events": first.events + second.events,
        "marks1": marks1,
        "archive": archive,
    }


def test_silver_equals_ground_truth_after_each_update(runs):
    for rec in runs["rec"]:
        print(rec.line())
        assert rec.tags == 40 and rec.truth > 1000
        assert (rec.missing, rec.duplicated, rec.unexpected, rec.mismatched) == (0, 0, 0, 0)
        assert rec.silver == rec.truth
    assert runs["rec"][1].truth > runs["rec"][0].truth


def test_gold_equals_the_simulators_summary_for_every_complete_tag_hour(runs, simulator):
    """PI's TimeWeighted average and percent good, as the simulator's ``summary`` answers them, for every
    hour of every tag that silver settles (stepped and continuous points alike)."""
    from devtools.reconcile_gold import reconcile_gold

    _, server = simulator
    result = reconcile_gold(runs["spark"], server.api)
    print(result.line())
    assert result.exact, result.differing[:5]
    assert result.tags >= 30 and result.compared >= result.tags
    # stepped (counters, digital and text points) and continuous points alike; the sparse digital and text
    # points may have no hour settled on both sides in a short run, so one of those two kinds suffices
    kinds = set(result.by_point_type)
    assert {"Int32", "Float32", "Float64"} <= kinds and kinds & {"Digital", "String"}, result.by_point_type


def test_the_second_update_verifies_finished_gold_tag_hours_against_the_servers_summary(runs):
    """The first update leaves gold to sample from; the second compares six settled tag-hours with the
    server's own summary, through the pipeline's pi_verify source."""
    rows = runs["spark"].read.table("pi_gold_verification").collect()
    assert len(rows) == 6, rows
    assert all(r.matched and r.error is None for r in rows), [r for r in rows if not r.matched]
    assert all(r.pi_good_share is not None for r in rows)


def test_second_update_reads_only_after_the_watermarks_minus_lookback(runs):
    spark = runs["spark"]
    log = spark.sql("""SELECT web_id, window_start, window_end, prior_watermark FROM pi_extraction_log
                       WHERE prior_watermark IS NOT NULL""").collect()
    assert len(log) == 40
    for row in log:
        assert row.prior_watermark == runs["marks1"][row.web_id]
        assert (row.prior_watermark - row.window_start).total_seconds() == 600
    stale = (
        spark.sql("""SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'value'
                         AND prior_watermark IS NOT NULL
                         AND timestamp < prior_watermark - INTERVAL 10 MINUTES""")
        .first()
        .n
    )
    assert stale == 0
    marks2 = {r.web_id: r.watermark for r in spark.read.table("pi_watermarks").collect()}
    assert all(marks2[k] > v for k, v in runs["marks1"].items())


def test_tables_are_delta_and_hold_every_value_kind(runs):
    spark = runs["spark"]
    for table in ("pi_recorded_bronze", "pi_timeseries_silver", "pi_hourly_gold", "pi_watermarks"):
        assert spark.sql(f"DESCRIBE DETAIL {table}").first().format == "delta"
    detail = spark.sql("DESCRIBE DETAIL pi_recorded_bronze").first()
    assert detail.properties.get("delta.dataSkippingStatsColumns") == "record_kind,web_id,timestamp,extracted_at"
    # silver is clustered by tag and time (OPTIMIZE lays it out so); locally bronze cannot be
    assert list(spark.sql("DESCRIBE DETAIL pi_timeseries_silver").first().clusteringColumns) == ["web_id", "timestamp"]
    kinds = {r.value_type for r in spark.sql("SELECT DISTINCT value_type FROM pi_timeseries_silver").collect()}
    assert {"number", "digital", "string"} <= kinds
    assert spark.read.table("pi_hourly_gold").count() > 0
    assert spark.read.table("pi_quarantine").count() == 0


def test_canary_secrets_never_leak(runs, tmp_path):
    spark, pipeline = runs["spark"], runs["pipeline"]
    canaries = (CANARY, CLIENT_SECRET)
    assert not any(c in m for m in runs["events"] for c in canaries)
    for table in ("pi_recorded_bronze", "pi_extraction_log", "pi_watermarks"):
        text = " ".join(str(r) for r in spark.read.table(table).limit(100000).collect())
        assert not any(c in text for c in canaries)
    spark.dataSource.register(PIDataSource)
    for mode, option, secret in (
        (
            {"pi.auth.type": "basic", "pi.auth.username": "svc_pi", "pi.auth.password": CANARY},
            "pi.auth.password",
            CANARY,
        ),
        (
            {
                "pi.auth.type": "bearer",
                "pi.auth.token_url": "http://127.0.0.1:9/token",
                "pi.auth.client_id": "osipi",
                "pi.auth.client_secret": CLIENT_SECRET,
            },
            "pi.auth.client_secret",
            CLIENT_SECRET,
        ),
        ({"pi.auth.type": "bearer", "pi.auth.token": CLIENT_SECRET}, "pi.auth.token", CLIENT_SECRET),
    ):
        config = PIConfig.from_mapping({"pi.url": "http://127.0.0.1:9/piwebapi", **mode})
        df = spark.readStream.format("pi").options(**reader_options(config)).load()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            df.explain(extended=True)
        assert f"{option}=*********(redacted)" in out.getvalue() and secret not in out.getvalue()
    leaked = [
        p for p in pipeline.work_dir.rglob("*") if p.is_file() and any(c.encode() in p.read_bytes() for c in canaries)
    ]
    assert leaked == []


def test_the_databricks_path_merges_the_same_silver_gold_and_watermarks(runs, tmp_path):
    """Databricks runs the flow pi_curation into its ForEachBatch sink; locally a Python data source sink
    calls the same merge. Both, over the same bronze: the local sink's tables (the pipeline's) and the
    tables Structured Streaming's foreachBatch builds with the handler Databricks is given are identical."""
    from chispa import assert_approx_df_equality, assert_df_equality

    from connector_lib.spark import curation

    spark = runs["spark"]
    spark.sql("CREATE DATABASE IF NOT EXISTS e2e_foreach_batch")
    other = curation.Targets.in_schema("spark_catalog.e2e_foreach_batch")
    query = (
        spark.readStream.option("maxFilesPerTrigger", 1)
        .table("e2e.pi_recorded_bronze")
        .writeStream.foreachBatch(curation.batch_handler(other))
        .option("checkpointLocation", str(tmp_path / "cp"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    assert len([p for p in query.recentProgress if p.numInputRows]) > 1  # several micro-batches
    local = curation.Targets.in_schema("spark_catalog.e2e")
    assert_df_equality(spark.read.table(local.silver), spark.read.table(other.silver), ignore_row_order=True)
    assert_df_equality(spark.read.table(local.watermarks), spark.read.table(other.watermarks), ignore_row_order=True)
    # gold's averages are sums over rows the two paths visit in another order: equal to the last bits
    assert_approx_df_equality(spark.read.table(local.gold), spark.read.table(other.gold), 1e-9, ignore_row_order=True)
    assert spark.read.table(local.silver).count() > 0


def test_expectation_counts_are_reported_for_silver_and_gold(runs):
    import expectations

    report = {(r["table"], r["rule"]): r for r in expectations.report()}
    silver_rows = runs["spark"].read.table("pi_timeseries_silver").count()
    quality = report[("pi_timeseries_silver", "good_quality")]
    assert quality["action"] == "warn" and quality["passed"] + quality["failed"] == silver_rows
    assert quality["failed"] == runs["spark"].sql("SELECT count_if(NOT good) AS n FROM pi_timeseries_silver").first().n
    gold = report[("pi_hourly_gold", "min_not_above_max")]
    assert gold["failed"] == 0 and gold["passed"] == runs["spark"].read.table("pi_hourly_gold").count()


def test_full_refresh_resets_bronze_and_watermarks_together(runs):
    """Run last (pytest keeps file order): a full refresh re-reads from pi.backfill_start, ignoring the
    watermarks of the bronze it just emptied, and silver still equals the truth."""
    pipeline, spark = runs["pipeline"], runs["spark"]
    result = pipeline.update(full_refresh_all=True)
    assert result.ok, result.error
    log = spark.sql("SELECT count(*) AS n, count(prior_watermark) AS with_prior FROM pi_extraction_log").first()
    assert log.n == 40 and log.with_prior == 0  # one fresh window per tag, none continuing old state
    rec = reconcile(spark, runs["archive"])
    assert (rec.missing, rec.duplicated, rec.unexpected) == (0, 0, 0) and rec.truth > 1000
