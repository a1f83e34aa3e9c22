"""Check that every pyspark name the deployed code uses exists in Databricks' own pyspark.

A Databricks Runtime's Python API is the pyspark inside the ``databricks-connect`` wheel of the same
version, which Databricks publishes for every runtime. This downloads those wheels for the runtimes the
project supports, unpacks their pyspark sources (nothing is imported or run) and checks, statically,
the code a pipeline deploys (``connector_lib``, ``expectations``, ``pipelines``):

* every import of a pyspark module or name. An import inside ``try: ... except ImportError`` is an
  optional API the code detects, and may be missing;
* every attribute of an imported pyspark module or class (``F.max_by``, ``dp.materialized_view``,
  ``Window.partitionBy``), and that each call to it binds to its signature there;
* every method called, or property read, on Spark objects (DataFrame, Column, SparkSession, readers,
  writers, catalog, conf, windows, streaming queries): where a call binds to a method of that name of
  pyspark 4.2 (the local default), the same classes in the runtime must have it, and it must bind there;
* every method the code overrides in a subclass of a pyspark class: it must accept each call the
  runtime's base class allows (Databricks Runtime 17.3 calls ``latestOffset()`` without arguments).

On Databricks, ``pyspark.pipelines`` is the runtime's ``dlt`` module, which databricks-connect does not
contain: the names only that module has (:data:`PIPELINE_RUNTIME_NAMES`, from Databricks' Python
reference) are accepted without a signature check.

    python -m devtools.api_surface            # exit status 1 and one line per finding if anything is missing
"""

from .check import DEPLOYED, PIPELINE_RUNTIME_NAMES, SPARK_CLASSES, check, main
from .uses import REPO
from .wheels import RUNTIMES, local_tree, runtime_tree

__all__ = [
    "DEPLOYED",
    "PIPELINE_RUNTIME_NAMES",
    "REPO",
    "RUNTIMES",
    "SPARK_CLASSES",
    "check",
    "local_tree",
    "main",
    "runtime_tree",
]
