"""Data-quality rules as data (``<table>.yml`` beside this file) and the decorator that applies them.

On Databricks the rules become the real ``dp.expect_all`` / ``expect_all_or_drop`` /
``expect_all_or_fail`` decorators on the dataset whose rows become the table (silver's: the view of bronze
rows its micro-batch merge takes), so the event log and the pipeline UI show their counts. A table the
pipeline merges into itself (hourly gold) has its rules applied to the rows about to be merged
(:func:`enforce`), on every engine. Open-source Spark Declarative Pipelines has no expectations, so the same
decorator falls back to local equivalents with the same semantics (warn keeps and counts, drop filters,
fail aborts the update) and remembers the rules so a local run can report pass/fail counts per rule
(:func:`report`), like the event log does. The fallback refuses to run on Databricks: there, missing
decorators mean the code is not running as a pipeline, and rules must never be dropped silently.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

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


# rules table -> (the rows a local report evaluates the rules over, rules, the rows they apply to), in
# registration order
_APPLIED: dict[str, tuple[Callable, list[Rule], str | None]] = {}


def _databricks_decorators():
    from pyspark import pipelines as dp

    if all(hasattr(dp, n) for n in ("expect_all", "expect_all_or_drop", "expect_all_or_fail")):
        return dp
    return None


def scoped(rules: list[Rule], applies_to: str | None) -> list[Rule]:
    """The rules restricted to the rows where ``applies_to`` holds (any other row passes them)."""
    if applies_to is None:
        return rules
    return [Rule(r.name, f"(NOT coalesce({applies_to}, false)) OR ({r.constraint})", r.action) for r in rules]


def expect_rules(
    table: str, rules: list[Rule] | None = None, applies_to: str | None = None, report_from: Callable | None = None
):
    """Decorator placed below the ``@dp.table`` / ``@dp.temporary_view`` whose rows become ``table``'s (its
    rule file is ``<table>.yml``). ``applies_to``: the rows the rules are about (a view carrying other
    records too). ``report_from``: the rows a local report counts, all of them (default: the query's own
    rows that ``applies_to`` selects)."""
    rules = load_rules(table) if rules is None else rules
    effective = scoped(rules, applies_to)

    def decorate(query: Callable):
        dp = _databricks_decorators()
        if dp is not None:
            wrapped = query
            for action, deco in (
                ("warn", dp.expect_all),
                ("drop", dp.expect_all_or_drop),
                ("fail", dp.expect_all_or_fail),
            ):
                chosen = {r.name: r.constraint for r in effective if r.action == action}
                if chosen:
                    wrapped = deco(chosen)(wrapped)
            return wrapped
        if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
            raise ExpectationError(
                f"expectations of {table}: this Databricks runtime's pyspark.pipelines has no expect_all "
                "decorators (is the code running outside a Lakeflow pipeline?); refusing the local fallback, "
                "which would keep the rules out of the event log"
            )

        @functools.wraps(query)
        def local_query(*args, **kwargs):
            return apply_local(query(*args, **kwargs), effective)

        _APPLIED[table] = (report_from, rules, None) if report_from else (query, rules, applies_to)
        return local_query

    return decorate


def enforce(table: str) -> Callable:
    """The rules of a table the pipeline writes itself (a merge, not a dataset the engine manages), as a
    function of the rows about to be written: drop filters, fail aborts the write; on every engine."""
    rules = load_rules(table)
    return lambda df: apply_local(df, rules)


def reported(table: str, rows: Callable) -> None:
    """Count ``table``'s rules over ``rows()`` in a local report (a table checked by :func:`enforce`)."""
    _APPLIED[table] = (rows, load_rules(table), None)


def apply_local(df, rules: list[Rule]):
    from pyspark.sql import functions as F

    for rule in rules:
        passed = F.coalesce(F.expr(rule.constraint), F.lit(False))
        if rule.action == "drop":
            df = df.where(passed)
        elif rule.action == "fail":
            # a filter (not a dropped column) so the check cannot be pruned away
            df = df.where(
                F.when(passed, F.lit(True)).otherwise(
                    F.raise_error(F.lit(f"EXPECTATION_VIOLATION: {rule.name} ({rule.constraint})"))
                )
            )
    return df


def report(tables: list[str] | None = None) -> list[dict]:
    """Pass/fail counts of every rule registered in this process, evaluated over each table's rows."""
    from pyspark.sql import functions as F

    out = []
    for table, (rows, rules, applies_to) in _APPLIED.items():
        if tables and table not in tables:
            continue
        df = rows()
        if applies_to is not None:
            df = df.where(F.expr(applies_to))
        aggs = [F.count(F.lit(1)).alias("__rows")]
        aggs += [
            F.sum(F.when(F.coalesce(F.expr(r.constraint), F.lit(False)), 0).otherwise(1)).alias(f"f{i}")
            for i, r in enumerate(rules)
        ]
        row = df.agg(*aggs).first()
        total = row["__rows"]
        for i, r in enumerate(rules):
            failed = row[f"f{i}"] or 0
            out.append({"table": table, "rule": r.name, "action": r.action, "passed": total - failed, "failed": failed})
    return out
