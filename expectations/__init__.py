"""Data-quality rules as data (``<table>.yml`` beside this file) and the decorator that applies them.

On Databricks the rules become the real ``dp.expect_all`` / ``expect_all_or_drop`` /
``expect_all_or_fail`` decorators on the published tables, so the event log and the pipeline UI show
their counts for those tables. Open-source Spark Declarative Pipelines has no expectations, so the same
decorator falls back to local equivalents with the same semantics (warn keeps and counts, drop filters,
fail aborts the update) and remembers the rules so a local run can report pass/fail counts per rule
(:func:`report`), like the event log does. The fallback refuses to run on Databricks: there, missing
decorators mean the code is not running as a pipeline, and rules must never be dropped silently.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable

import yaml

ACTIONS = ("warn", "drop", "fail")
_HERE = os.path.dirname(__file__)


class ExpectationError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    name: str
    constraint: str
    action: str


def load_rules(table: str, directory: str = _HERE) -> list[Rule]:
    path = os.path.join(directory, f"{table}.yml")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError:
        raise ExpectationError(f"expectations: no rule file {path} for table {table}") from None
    rules = []
    for i, entry in enumerate(data.get("rules") or []):
        name, constraint, action = entry.get("name"), entry.get("constraint"), str(entry.get("action", "warn")).lower()
        if not name or not constraint:
            raise ExpectationError(f"expectations {path}: rule {i + 1} needs a name and a constraint")
        if action not in ACTIONS:
            raise ExpectationError(f"expectations {path}: rule {name}: action must be one of {', '.join(ACTIONS)}")
        rules.append(Rule(name, constraint, action))
    if len({r.name for r in rules}) != len(rules):
        raise ExpectationError(f"expectations {path}: rule names must be unique")
    return rules


# rules table -> (view downstream tables read it through, query function without expectations, rules),
# in registration order: what a local run evaluates for its report
_APPLIED: dict[str, tuple[str | None, Callable, list[Rule]]] = {}


def _databricks_decorators():
    from pyspark import pipelines as dp

    if all(hasattr(dp, n) for n in ("expect_all", "expect_all_or_drop", "expect_all_or_fail")):
        return dp
    return None


def expect_rules(table: str, rules: list[Rule] | None = None, view: str | None = None):
    """Decorator placed below ``@dp.table`` / ``@dp.materialized_view`` of the published ``table`` (its
    rule file is ``<table>.yml``). ``view``: the temporary view through which later tables read ``table``
    (:func:`checked_rows`), which a local report defines too."""
    rules = load_rules(table) if rules is None else rules

    def decorate(query: Callable):
        dp = _databricks_decorators()
        if dp is not None:
            wrapped = query
            for action, deco in (("warn", dp.expect_all), ("drop", dp.expect_all_or_drop),
                                 ("fail", dp.expect_all_or_fail)):
                chosen = {r.name: r.constraint for r in rules if r.action == action}
                if chosen:
                    wrapped = deco(chosen)(wrapped)
            return wrapped
        if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
            raise ExpectationError(
                f"expectations of {table}: this Databricks runtime's pyspark.pipelines has no expect_all "
                "decorators (is the code running outside a Lakeflow pipeline?); refusing the local fallback, "
                "which would keep the rules out of the event log")

        @functools.wraps(query)
        def local_query(*args, **kwargs):
            return apply_local(query(*args, **kwargs), rules)

        _APPLIED[table] = (view, query, rules)
        return local_query

    return decorate


def checked_rows(spark, table: str):
    """The rows of ``table`` as the tables after it read them. On Databricks that is the published table
    (the engine orders the reads, and its expectations ran there). Locally it is the table's query with
    its rules applied, read through a temporary view: open-source Spark Declarative Pipelines may run a
    reader of another file's table while that table is being rewritten, and reads it truncated."""
    if _databricks_decorators() is not None:
        return spark.read.table(table)
    _, query, rules = _APPLIED[table]
    return apply_local(query(), rules)


def apply_local(df, rules: list[Rule]):
    from pyspark.sql import functions as F

    for rule in rules:
        passed = F.coalesce(F.expr(rule.constraint), F.lit(False))
        if rule.action == "drop":
            df = df.where(passed)
        elif rule.action == "fail":
            # a filter (not a dropped column) so the check cannot be pruned away
            df = df.where(F.when(passed, F.lit(True)).otherwise(
                F.raise_error(F.lit(f"EXPECTATION_VIOLATION: {rule.name} ({rule.constraint})"))))
    return df


def report(tables: list[str] | None = None) -> list[dict]:
    """Pass/fail counts of every rule applied in this process, evaluated over each table's input.

    The pipeline-private views later queries read are defined in the session for the report and dropped
    after it: left behind, a session view would shadow the pipeline's own view of that name at the next
    update (the engine resolves a read to the session's temporary view first)."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    out = []
    defined = []
    try:
        for table, (view, query, rules) in _APPLIED.items():
            df = query()
            if view is not None:
                apply_local(df, rules).createOrReplaceTempView(view)
                defined.append(view)
            if tables and table not in tables:
                continue
            aggs = [F.count(F.lit(1)).alias("__rows")]
            aggs += [F.sum(F.when(F.coalesce(F.expr(r.constraint), F.lit(False)), 0).otherwise(1)).alias(f"f{i}")
                     for i, r in enumerate(rules)]
            row = df.agg(*aggs).first()
            total = row["__rows"]
            for i, r in enumerate(rules):
                failed = row[f"f{i}"] or 0
                out.append({"table": table, "rule": r.name, "action": r.action,
                            "passed": total - failed, "failed": failed})
    finally:
        for view in defined:
            SparkSession.active().catalog.dropTempView(view)
    return out
