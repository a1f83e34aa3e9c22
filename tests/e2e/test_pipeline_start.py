"""What an update does before it reads anything, on the real local pipeline: a misspelt setting in the
pipeline configuration fails it with one line naming the key, and so does a server that cannot be reached; the state is read from the pipeline's own
schema and what was found is logged; state that exists but cannot be read, or a stream that resumes from
its checkpoint while its bronze table is gone, stops the update with one line instead of reading every tag
again from pi.backfill_start."""

import contextlib
import logging
import socket

import pytest

from pi_simulator import Archive, SimulatorServer


@pytest.fixture(scope="module")
def server():
    with SimulatorServer(Archive(seed=13, n_points=6)) as running:
        yield running


@pytest.fixture(scope="module")
def pipeline(server, local_pipeline_factory):
    return local_pipeline_factory({"pi.url": server.url, "pi.backfill_start": "*-30m", "pi.settle_lag": "2s"}, "start")


def test_a_misspelt_setting_fails_the_update_with_one_line_naming_it(pipeline):
    pipeline.configuration["pi.tag_fliter"] = "SYD.*"
    try:
        result = pipeline.update()
    finally:
        del pipeline.configuration["pi.tag_fliter"]
    assert not result.ok
    assert result.error == (
        "pi.tag_fliter: unknown setting (did you mean pi.tag_filter? known: see docs/configuration.md)"
    )
    assert not pipeline.spark.catalog.tableExists("pi_recorded_bronze")  # nothing ran


def test_an_unreachable_server_fails_the_update_with_one_line_naming_the_host(pipeline):
    with socket.socket() as sock:  # a port just freed: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kept = dict(pipeline.configuration)
    pipeline.configuration.update(
        {"pi.url": f"http://127.0.0.1:{port}/piwebapi", "pi.http.max_retries": "1", "pi.http.backoff": "100ms"}
    )
    try:
        result = pipeline.update()
    finally:
        pipeline.configuration = kept
    assert not result.ok
    assert result.error == (
        f"preflight failed at 'server' (127.0.0.1:{port}): GET /piwebapi/system: cannot reach 127.0.0.1:{port}: "
        "connection refused (nothing listens on that port) (pi.url)"
    )
    assert not pipeline.spark.catalog.tableExists("pi_recorded_bronze")  # nothing ran


def test_the_state_found_at_pipeline_start_is_logged(pipeline, caplog):
    with caplog.at_level(logging.INFO, logger="connector_lib.spark.pipeline"):
        first = pipeline.update()
        assert first.ok, first.error
        second = pipeline.update()
        assert second.ok, second.error
    lines = [r.getMessage() for r in caplog.records if r.name == "connector_lib.spark.pipeline"]
    assert lines == [
        "pipeline state in spark_catalog.start: no bronze yet (first update); watermarks of 0 tags, 0 re-read requests",
        "pipeline state in spark_catalog.start: bronze found; watermarks of 6 tags, 0 re-read requests",
    ]


@contextlib.contextmanager
def moved_aside(spark, table: str, stand_in: str | None = None):
    """``table`` renamed for the duration (and ``stand_in`` created in its place), then put back."""
    spark.sql(f"ALTER TABLE {table} RENAME TO {table}_kept")
    try:
        if stand_in:
            spark.sql(stand_in)
        yield
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {table}")
        spark.sql(f"ALTER TABLE {table}_kept RENAME TO {table}")


def test_state_that_cannot_be_read_stops_the_update_with_one_line(pipeline):
    # not the table the pipeline wrote
    with moved_aside(pipeline.spark, "pi_watermarks", "CREATE TABLE pi_watermarks (web_id string) USING delta"):
        result = pipeline.update()
    assert not result.ok
    assert result.error.startswith("pipeline state: cannot read the watermarks in spark_catalog.start (")
    assert result.error.endswith("); the update stops rather than read every tag again from pi.backfill_start")
    assert "\n" not in result.error


def test_a_stream_that_resumes_without_its_bronze_table_stops_the_update(pipeline):
    """As when the state is looked up in the wrong schema: the checkpoint says the stream goes on, but no
    watermark was found, so every tag would be read again from pi.backfill_start."""
    spark = pipeline.spark
    before = spark.read.table("pi_recorded_bronze").count()
    with moved_aside(spark, "pi_recorded_bronze"):
        result = pipeline.update()
    assert not result.ok
    assert (
        "spark_catalog.start.pi_recorded_bronze: not found when the update started, but its stream "
        "continues from a checkpoint"
    ) in result.error
    assert spark.read.table("pi_recorded_bronze").count() == before
