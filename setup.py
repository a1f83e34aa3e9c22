"""osipi-lakeflow: ingest AVEVA PI System data into Delta tables with Lakeflow Declarative Pipelines.

The wheel holds what a Databricks pipeline installs (``connector_lib`` and ``expectations``); the
``local`` extra pins the open-source stack that runs the same pipeline on a laptop, and ``dev`` adds
the simulator's and the tests' needs.
"""

from setuptools import find_packages, setup

VERSION = "0.1.0"

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
    version=VERSION,
    description="AVEVA PI Web API to Delta ingestion with Lakeflow Declarative Pipelines",
    long_description=__doc__,
    python_requires=">=3.11",
    packages=find_packages(include=["connector_lib", "connector_lib.*", "expectations"]),
    package_data={"expectations": ["*.yml"]},
    install_requires=RUNTIME,
    extras_require={"kerberos": ["requests-kerberos==0.15.0"], "local": LOCAL, "dev": DEV},
)
