# The two commands of the README. Both bootstrap a fresh machine first (Java, venv, packages).
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?=
export PYSPARK_PYTHON := $(abspath $(PY))
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: run sql test fast lint format docs compat bootstrap clean

bootstrap:
	@VENV=$(VENV) scripts/bootstrap.sh

## run the pipeline end to end on local Spark Declarative Pipelines against the bundled simulator
## (or against a real PI Web API: make run CONFIG=path.yml)
run: bootstrap
	@$(PY) -m devtools.run $(if $(CONFIG),--config $(CONFIG),)

## the tables make run wrote, opened for SQL: a prompt, or make sql QUERY="SELECT * FROM pi_watermarks"
sql: bootstrap
	@$(PY) -m devtools.sql $(if $(QUERY),-e "$(QUERY)",)

## run the test suite (unit, chispa, simulator, third-party client, end to end)
test: bootstrap
	@$(PY) -m pytest -q -p no:cacheprovider --durations=25 -m "not pipelines" tests

## the inner loop: the unit layer only (no Spark session, no pipeline run), in about a minute
fast: bootstrap
	@$(PY) -m pytest -q -p no:cacheprovider -m "not spark and not e2e and not pipelines and not slow" tests

## ruff (lint, import order, format check) and mypy on connector_lib; `make format` applies ruff's fixes
lint: bootstrap
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

format: bootstrap
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

## regenerate the settings table of docs/configuration.md from connector_lib/settings.py
docs: bootstrap
	@$(PY) -m devtools.settings_docs

## the older supported runtimes: the data source and transforms under pyspark 4.0 and 4.1 (each in its
## own virtualenv, with Delta), the pipeline on Spark Declarative Pipelines 4.1, and the API-surface check
## against Databricks' own packages (docs/deploy.md); make test runs the same tests under 4.2
compat: bootstrap
	@VENV=$(VENV) scripts/compat.sh

clean:
	rm -rf .work .venv-compat spark-warehouse metastore_db derby.log dist build .ruff_cache .mypy_cache
