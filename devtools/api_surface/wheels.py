"""The pyspark of each supported Databricks Runtime: the databricks-connect wheel of that runtime,
downloaded once and unpacked (not installed), and the pyspark installed here as the reference."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from .tree import Tree

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".work" / "databricks-connect"
#: databricks-connect release of each supported Databricks Runtime (Python 3.12 wheels): the LTS the
#: pipeline CURRENT channel runs and the newest 18.x
RUNTIMES = {
    "17.3.15": "Databricks Runtime 17.3 LTS (Spark 4.0)",
    "18.3.7": "Databricks Runtime 18 (Spark 4.1)",
}


def runtime_tree(version: str, cache: Path = CACHE) -> Tree:
    """The pyspark sources of databricks-connect ``version``, downloaded once and unpacked (not installed)."""
    target = cache / version
    if not (target / "pyspark" / "__init__.py").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        wheels = list(cache.glob(f"databricks_connect-{version}-*.whl"))
        if not wheels:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--python-version",
                    "3.12",
                    f"databricks-connect=={version}",
                    "-d",
                    str(cache),
                ],
                check=True,
            )
            wheels = list(cache.glob(f"databricks_connect-{version}-*.whl"))
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(target, [n for n in wheel.namelist() if n.startswith("pyspark/") and n.endswith(".py")])
    return Tree(target, f"databricks-connect {version}")


def local_tree() -> Tree:
    import pyspark

    return Tree(Path(pyspark.__file__).resolve().parent.parent, f"pyspark {pyspark.__version__}")
