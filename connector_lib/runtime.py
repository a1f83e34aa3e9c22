"""The oldest runtime the pipeline runs on, checked before anything else of Spark is imported.

Importing this module checks the pyspark the pipeline's Python runs: the pipeline files import it first,
so a runtime older than Spark 4.0 (Databricks Runtime 16.x and earlier, serverless environment versions 1
to 3) stops with one line that says what to change, instead of a ``ModuleNotFoundError`` for a module
that Spark 4.0 added. ``connector_lib.spark.pipeline`` checks the session's Spark the same way.
"""

from __future__ import annotations

import re

import pyspark

#: the oldest Spark the pipeline runs on: Databricks Runtime 17.3 LTS
MINIMUM_SPARK = (4, 0)


class UnsupportedRuntime(RuntimeError):
    """The pipeline runs on a Spark older than the supported runtimes; the message is one line."""


def require_supported_spark(server: str | None, client: str) -> None:
    """``server`` is the session's Spark (None before there is a session), ``client`` the pyspark the
    pipeline's Python runs (a serverless environment version pins it)."""
    for what, version in (("Spark", server), ("pyspark", client)):
        found = re.match(r"(\d+)\.(\d+)", version or "")
        if found and (int(found[1]), int(found[2])) < MINIMUM_SPARK:
            raise UnsupportedRuntime(
                f"{what} {version}: osipi-lakeflow needs Spark 4.0 or newer (Databricks Runtime 17.3 LTS or newer: "
                "pipeline channel CURRENT or PREVIEW, environment_version 4; docs/deploy.md)"
            )


require_supported_spark(None, pyspark.__version__)
