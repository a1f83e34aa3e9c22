"""Shared fixtures: the simulator over real HTTP and one local Spark (Connect) session with Delta.

One Spark session serves the whole run (the chispa tests and the end-to-end pipeline), because a JVM
holds a single SparkContext and the pipeline needs the Delta and Hive settings at start-up.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Test data is small: adaptive execution and several shuffle partitions only add Spark jobs to each merge
# (42% fewer jobs on silver's merges without them). Every local session of the run gets this, the
# pipelines started in child processes included; make run and the benchmarks keep the defaults.
os.environ.setdefault(
    "OSIPI_SPARK_CONF", json.dumps({"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "1"})
)
FIXTURES = Path(__file__).parent / "fixtures"


SPARK_FIXTURES = {"spark", "any_zone_spark", "local_pipeline_factory"}


def pytest_collection_modifyitems(config, items):
    """Marks what the inner loop (``make fast``) leaves out: everything under ``tests/e2e`` is ``e2e``, and a
    test that uses the Spark session (directly or through another fixture) is ``spark``."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)
        if SPARK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def local_pipeline_factory(tmp_path_factory):
    """Creates LocalPipeline objects that share one Spark session (the first one's)."""
    from devtools.local_pipeline import LocalPipeline

    warnings.filterwarnings("ignore", category=UserWarning)
    created = []

    def make(configuration, name="pipeline"):
        work = tmp_path_factory.mktemp(name)
        pipeline = LocalPipeline(work, configuration, database=name)
        if created:
            pipeline._spark = created[0].spark
        created.append(pipeline)
        return pipeline

    yield make
    if created:
        created[0].stop()


@pytest.fixture(scope="session")
def spark(local_pipeline_factory):
    return local_pipeline_factory({}, "spark").spark


@pytest.fixture(params=["UTC", "Asia/Kolkata"])
def any_zone_spark(spark, request):
    """The session under UTC and under a zone half an hour off the hour: every hour boundary of the
    session's own zone is then a UTC half hour, so a transform or state read that follows the session's
    zone shows."""
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", request.param)
    yield spark
    spark.conf.set("spark.sql.session.timeZone", before)
