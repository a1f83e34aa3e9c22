#!/usr/bin/env bash
# `make compat`: the runtime compatibility layer.
#
#  1. For each older Spark (4.0 = Databricks Runtime 17.3 LTS; open-source 4.1, the Spark of Databricks
#     Runtime 18, whose own pyspark reads streams as 4.2 does), a virtualenv of its own with that pyspark:
#     the data source on plain Structured Streaming with Delta tables (tests/compat), the silver and gold
#     transforms (their chispa tests), and where that Spark has Declarative Pipelines (4.1) the real
#     pipeline on it.
#  2. The API-surface check against Databricks' own packages (devtools/api_surface/).
# Under the project's own pyspark 4.2, make test runs the same tests (and the pipeline end to end).
#
# Idempotent: a virtualenv is rebuilt only when its pins change. Delta's jars for each Spark come through
# Spark (spark.jars.packages) on the first start.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
MAIN=${VENV:-.venv}
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
TRANSFORM_TESTS=(
  tests/connector_lib/spark/test_transforms.py
  tests/connector_lib/spark/test_time_weighted.py
  tests/connector_lib/spark/test_ef_transforms.py
  tests/connector_lib/spark/test_af_transforms.py
)

prepare() {  # prepare <pyspark version> <extras>: the leg's virtualenv, unless its pins are installed
  local version=$1 extras=$2
  local venv=".venv-compat/spark-$version"
  local pins="pyspark[$extras]==$version pandas>=2.2,<3 numpy>=1.26 pyarrow>=14 requests>=2.31 pyyaml>=6.0 orjson>=3.9 pytest>=8 chispa==0.12.0"
  local stamp="$venv/.osipi-pins"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$pins" ]; then
    echo "compat: preparing $venv (pyspark $version; first time: a few minutes)"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    local requirements
    read -r -a requirements <<< "$pins"
    "$venv/bin/python" -m pip install -q "${requirements[@]}"
    echo "$pins" > "$stamp"
  fi
}

leg() {  # leg <pyspark version> <pytest marker expression>
  local version=$1 marker=$2
  local venv=".venv-compat/spark-$version"
  echo "compat: Spark $version"
  # the project is not installed there: the Spark Python workers find it through PYTHONPATH
  PYTHONPATH="$PWD" PYSPARK_PYTHON="$PWD/$venv/bin/python" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    -m "$marker" tests/compat "${TRANSFORM_TESTS[@]}"
}

# Both virtualenvs at once (mostly downloads), then the legs one after the other (each needs the cores).
prepare 4.0.5 connect & first=$!
prepare 4.1.4 connect,pipelines & second=$!
wait "$first"
wait "$second"
leg 4.0.5 "not pipelines"
leg 4.1.4 ""
"$MAIN/bin/python" -m devtools.api_surface
