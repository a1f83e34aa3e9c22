"""osipi-lakeflow: ingest AVEVA PI System data into Delta tables with Lakeflow Declarative Pipelines.

The wheel holds what a Databricks pipeline installs (``connector_lib`` and ``expectations``); the
``local`` extra pins the open-source stack that runs the same pipeline on a laptop, and ``dev`` adds
the simulator's and the tests' needs.
"""

import os
import re

from setuptools import find_packages, setup

VERSION = "0.1.0"
# scripts/build_wheel.py stamps every build it makes for a deploy (a local version, 0.1.0+<UTC time>)
BUILD = os.environ.get("OSIPI_BUILD", "")
if BUILD and not re.fullmatch(r"[0-9A-Za-z.]+", BUILD):
    raise SystemExit(f"OSIPI_BUILD: letters, digits and dots only (a PEP 440 local version), got {BUILD!r}")

RUNTIME = [
    "requests>=2.31",
    "pyyaml>=6.0",
    "pyarrow>=14",
    "orjson>=3.9",
]

LOCAL = [
    # Spark Declarative Pipelines ships with pyspark >= 4.1; delta-spark 4.4.x supports Spark <= 4.2
    "pyspark[pipelines]==4.2.0",
    "delta-spark==4.4.0",
    "pandas>=2.2,<3",
    "numpy>=1.26",
]

DEV = LOCAL + [
    "pytest>=8",
    "chispa==0.12.0",
    "requests-kerberos==0.15.0",
    "k5test==0.10.4",  # throwaway Kerberos realms (a real MIT KDC) for the Kerberos tests
    "cryptography>=41",  # the simulator's test CA (HTTPS)
    "tagreader==6.3.0",
    "databricks-bundles==1.22.1",
]

setup(
    name="osipi-lakeflow",
    version=f"{VERSION}+{BUILD}" if BUILD else VERSION,
    description="AVEVA PI Web API to Delta ingestion with Lakeflow Declarative Pipelines",
    long_description=__doc__,
    python_requires=">=3.11",
    packages=find_packages(include=["connector_lib", "connector_lib.*", "expectations"]),
    package_data={"expectations": ["*.yml"]},
    install_requires=RUNTIME,
    extras_require={"kerberos": ["requests-kerberos==0.15.0"], "local": LOCAL, "dev": DEV},
    # combines the tables of tag shards into one schema of views (the sharded bundle's job runs it)
    entry_points={"console_scripts": ["osipi-combine-shards = connector_lib.spark.shards:main"]},
)
