"""Data-quality rules as data (``<table>.yml`` beside this file) and the decorator that applies them.

On Databricks the rules become the real ``dp.expect_all`` / ``expect_all_or_drop`` /
``expect_all_or_fail`` decorators, so the event log records them. Open-source Spark Declarative
Pipelines has no expectations, so the same decorator falls back to local equivalents with the same
semantics (warn keeps and counts, drop filters, fail aborts the update) and remembers the rules so a
local run can report pass/fail counts per rule (:func:`report`), like the event log does.
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


# rules table -> (dataset name, query function without expectations, rules), in registration order:
# what a local run evaluates for its report
_APPLIED: dict[str, tuple[str, Callable, list[Rule]]] = {}


def _databricks_decorators():
    from pyspark import pipelines as dp

    if all(hasattr(dp, n) for n in ("expect_all", "expect_all_or_drop", "expect_all_or_fail")):
        return dp
    return None


def expect_rules(table: str, rules: list[Rule] | None = None, dataset: str | None = None):
    """Decorator placed below ``@dp.table`` / ``@dp.materialized_view`` / ``@dp.temporary_view``.
    ``table`` names the rule file; ``dataset`` is the decorated dataset when it differs (a view)."""
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

        @functools.wraps(query)
        def local_query(*args, **kwargs):
            return apply_local(query(*args, **kwargs), rules)

        _APPLIED[table] = (dataset or table, query, rules)
        return local_query

    return decorate


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
    """Pass/fail counts of every rule applied in this process, evaluated over each table's input."""
    from pyspark.sql import functions as F

    out = []
    for table, (dataset, query, rules) in _APPLIED.items():
        df = query()
        if dataset != table:  # a pipeline-private view: later queries of the report read it by name
            apply_local(df, rules).createOrReplaceTempView(dataset)
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
    return out
