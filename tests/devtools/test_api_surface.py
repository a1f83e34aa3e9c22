"""The API-surface check against Databricks' own pyspark (the databricks-connect wheels of the supported
runtimes, unpacked, never run): the deployed code passes, and the check fails on what broke the pipeline
on Databricks Runtime 17.3 LTS before (an unconditional import of a Spark 4.1+ module, a stream reader
whose latestOffset needs the arguments only newer runtimes pass) and on pyspark 4.2-only calls."""

import textwrap

import pytest

from devtools import api_surface

RUNTIMES = sorted(api_surface.RUNTIMES)


@pytest.fixture(scope="module")
def reference():
    return api_surface.local_tree()


@pytest.mark.parametrize("version", RUNTIMES)
def test_the_deployed_code_uses_only_what_the_runtime_has(reference, version):
    problems, checked = api_surface.check(
        api_surface.runtime_tree(version), reference, [api_surface.REPO / d for d in api_surface.DEPLOYED]
    )
    assert problems == []
    assert checked > 300


READER_AS_IT_WAS = """
from pyspark.sql.datasource import DataSource, DataSourceReader, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow


class PIStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def latestOffset(self, start: dict | None = None, limit=None) -> dict:
        return start or {}
"""

READER_NEEDING_ITS_ARGUMENTS = """
from pyspark.sql.datasource import DataSourceStreamReader


class Reader(DataSourceStreamReader):
    def latestOffset(self, start, limit):
        return start
"""

READER_WITH_DETECTED_BASES = """
from pyspark.sql.datasource import DataSourceStreamReader

try:
    from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow
except ImportError:
    SupportsTriggerAvailableNow = None

_BASES: tuple[type, ...] = (DataSourceStreamReader,) + (
    (SupportsTriggerAvailableNow,) if SupportsTriggerAvailableNow is not None else ())


class Base(*_BASES):
    pass


class Reader(Base):
    def latestOffset(self, start, limit):
        return start
"""

NEWER_CALLS = """
from pyspark.sql import functions as F


def bucketed(df):
    return df.select(F.time_bucket("5 minutes", F.col("t"))).zipWithIndex()
"""


def findings(tmp_path, reference, version, source):
    module = tmp_path / "module.py"
    module.write_text(textwrap.dedent(source))
    problems, _ = api_surface.check(api_surface.runtime_tree(version), reference, [module])
    return [p.split(": ", 1)[1] for p in problems]


def test_the_import_the_pipeline_had_fails_on_17_3_only(tmp_path, reference):
    assert findings(tmp_path, reference, "17.3.15", READER_AS_IT_WAS) == [
        "module pyspark.sql.streaming.datasource does not exist"
    ]
    assert findings(tmp_path, reference, "18.3.7", READER_AS_IT_WAS) == []


def test_the_same_import_detected_as_optional_passes(tmp_path, reference):
    guarded = READER_AS_IT_WAS.replace(
        "from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow",
        "try:\n    from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow\n"
        "except ImportError:\n    SupportsTriggerAvailableNow = object",
    )
    assert findings(tmp_path, reference, "17.3.15", guarded) == []


def test_a_latest_offset_that_needs_its_arguments_fails_where_they_are_not_passed(tmp_path, reference):
    assert findings(tmp_path, reference, "17.3.15", READER_NEEDING_ITS_ARGUMENTS) == [
        "latestOffset() must accept every call of pyspark.sql.datasource.DataSourceStreamReader.latestOffset(), "
        "which this runtime may make"
    ]
    assert findings(tmp_path, reference, "18.3.7", READER_NEEDING_ITS_ARGUMENTS) == []


def test_overrides_are_checked_through_bases_the_code_builds_and_through_its_own_classes(tmp_path, reference):
    """As connector_lib.spark.stream_reader builds its readers' bases."""
    assert findings(tmp_path, reference, "17.3.15", READER_WITH_DETECTED_BASES) == [
        "latestOffset() must accept every call of pyspark.sql.datasource.DataSourceStreamReader.latestOffset(), "
        "which this runtime may make"
    ]


def test_the_deployed_readers_overrides_are_among_the_checked_uses(reference):
    from devtools.api_surface.uses import overrides

    files = sorted((api_surface.REPO / "connector_lib" / "spark").glob("*.py"))
    checked = {(u.module, u.name) for u in overrides(files, reference)}
    for reader in (
        "DataSourceStreamReader.latestOffset",
        "DataSourceStreamReader.partitions",
        "DataSourceStreamReader.initialOffset",
        "DataSourceStreamReader.commit",
    ):
        assert ("pyspark.sql.datasource", reader) in checked, reader


def test_functions_and_methods_only_pyspark_4_2_has_fail(tmp_path, reference):
    assert sorted(findings(tmp_path, reference, "17.3.15", NEWER_CALLS)) == [
        "DataFrame.zipWithIndex (pyspark.sql.connect.dataframe) does not exist",
        "DataFrame.zipWithIndex (pyspark.sql.dataframe) does not exist",
        "pyspark.sql.functions has no time_bucket",
    ]
    assert findings(tmp_path, reference, "18.3.7", NEWER_CALLS) == ["pyspark.sql.functions has no time_bucket"]
