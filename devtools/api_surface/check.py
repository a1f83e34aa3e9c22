"""The check: every pyspark use of the deployed code against one runtime's pyspark (see the package's
docstring for the rules)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .tree import Signature, Tree
from .uses import REPO, Use, overrides, uses_of
from .wheels import RUNTIMES, local_tree, runtime_tree

DEPLOYED = ("connector_lib", "expectations", "pipelines")
#: names of Databricks' pipeline runtime (``dlt``, which ``pyspark.pipelines`` re-exports there), documented
#: in its Python reference but not packaged in databricks-connect
PIPELINE_RUNTIME_NAMES = frozenset(
    {
        "table",
        "materialized_view",
        "temporary_view",
        "view",
        "append_flow",
        "create_streaming_table",
        "create_sink",
        "foreach_batch_sink",
        "create_auto_cdc_flow",
        "create_auto_cdc_from_snapshot_flow",
        "apply_changes",
        "expect",
        "expect_or_drop",
        "expect_or_fail",
        "expect_all",
        "expect_all_or_drop",
        "expect_all_or_fail",
    }
)
#: the Spark classes whose methods the code calls on objects it is handed (module, class), public API and
#: Spark Connect implementation
SPARK_CLASSES = tuple(
    (module, name)
    for base, names in (
        ("dataframe", ("DataFrame",)),
        ("column", ("Column",)),
        ("group", ("GroupedData",)),
        ("session", ("SparkSession",)),
        ("readwriter", ("DataFrameReader", "DataFrameWriter")),
        ("streaming.readwriter", ("DataStreamReader", "DataStreamWriter")),
        ("streaming.query", ("StreamingQuery",)),
        ("catalog", ("Catalog",)),
        ("conf", ("RuntimeConfig",)),
        ("window", ("Window", "WindowSpec")),
    )
    for module in (f"pyspark.sql.{base}", f"pyspark.sql.connect.{base}")
    for name in names
) + (("pyspark.sql.types", "Row"), ("pyspark.sql.datasource", "DataSourceRegistration"))


def _project_files(roots: list[Path]) -> list[Path]:
    files = []
    for root in roots:
        files += [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def check(runtime: Tree, reference: Tree, roots: list[Path]) -> tuple[list[str], int]:
    """Findings (one line each) for the project's code under ``runtime``, and how many uses were checked."""
    files = _project_files(roots)
    problems: list[str] = []
    checked = 0
    spark_methods = {(m, c): reference.members(m, c) or {} for m, c in SPARK_CLASSES}
    runtime_methods = {(m, c): runtime.members(m, c) for m, c in SPARK_CLASSES}
    for path in files:
        uses, _ = uses_of(path, reference)
        for use in uses:
            if use.what == "import":
                checked += 1
                if runtime.module_path(use.module) is None:
                    if not use.optional:
                        problems.append(f"{use.where()}: module {use.module} does not exist")
                elif use.name and runtime.lookup(use.module, use.name) is None and not use.optional:
                    problems.append(f"{use.where()}: {use.module} has no {use.name}")
            elif use.what in ("attribute", "call"):
                checked += 1
                entry = runtime.lookup(use.module, use.name)
                if entry is None:
                    if use.module == "pyspark.pipelines" and use.name in PIPELINE_RUNTIME_NAMES:
                        continue
                    problems.append(f"{use.where()}: {use.module} has no {use.name}")
                elif use.what == "call" and entry[0] == "def":
                    signature = Signature.of(entry[1])
                    if not signature.binds(use.n_positional, use.keywords, use.open_ended):
                        problems.append(
                            f"{use.where()}: {use.module}.{use.name}() does not take this call ({_call_text(use)})"
                        )
            elif use.what == "classcall":
                checked += 1
                cls, method = use.name.split(".")
                signature = (runtime.members(use.module, cls) or {}).get(method, "missing")
                if signature == "missing":
                    problems.append(f"{use.where()}: {use.module}.{use.name} does not exist")
                elif signature is not None and not signature.bound(True).binds(
                    use.n_positional, use.keywords, use.open_ended
                ):
                    problems.append(
                        f"{use.where()}: {use.module}.{use.name}() does not take this call ({_call_text(use)})"
                    )
            elif use.what in ("method", "property"):
                spark_calls = []
                for key, members in spark_methods.items():
                    signature = members.get(use.name)
                    if use.name not in members or use.name.startswith("_"):
                        continue
                    if use.what == "property":
                        if signature is not None and signature.is_property:
                            spark_calls.append(key)
                    elif (
                        signature is not None
                        and not signature.is_property
                        and signature.bound(True).binds(use.n_positional, use.keywords, use.open_ended)
                    ):
                        spark_calls.append(key)
                if not spark_calls:
                    continue  # not a Spark method, or not called as one
                checked += 1
                for module, cls in spark_calls:
                    members = runtime_methods[(module, cls)]
                    if members is None:
                        continue  # that class does not exist in this runtime: its counterpart is checked
                    if use.name not in members:
                        problems.append(f"{use.where()}: {cls}.{use.name} ({module}) does not exist")
                    elif (
                        use.what == "method"
                        and members[use.name] is not None
                        and not members[use.name].bound(True).binds(use.n_positional, use.keywords, use.open_ended)
                    ):
                        problems.append(
                            f"{use.where()}: {cls}.{use.name}() ({module}) does not take this call ({_call_text(use)})"
                        )
    for use in overrides(files, reference):
        cls, method = use.name.split(".")
        members = runtime.members(use.module, cls)
        if members is None or members.get(method) is None:
            continue  # the base is optional and absent here, or the method is the project's own
        checked += 1
        base = members[method].bound(True)
        if not use.signature.bound(True).accepts_every_call_of(base):
            problems.append(
                f"{use.where()}: {method}() must accept every call of {use.module}.{cls}.{method}"
                f"({', '.join(base.positional)}), which this runtime may make"
            )
    return problems, checked


def _call_text(use: Use) -> str:
    parts = [f"{use.n_positional} positional"] + sorted(f"{k}=" for k in use.keywords)
    return ", ".join(parts + (["*args/**kwargs"] if use.open_ended else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", action="append", help="databricks-connect version (default: all supported)")
    parser.add_argument("paths", nargs="*", help="files or folders to check (default: the deployed code)")
    args = parser.parse_args(argv)
    roots = [Path(p).resolve() for p in args.paths] or [REPO / d for d in DEPLOYED]
    reference = local_tree()
    failed = False
    for version in args.runtime or list(RUNTIMES):
        problems, checked = check(runtime_tree(version), reference, roots)
        label = RUNTIMES.get(version, "")
        print(
            f"api-surface: databricks-connect {version} ({label}): {checked} pyspark uses checked, "
            f"{len(problems)} missing or incompatible"
        )
        for line in problems:
            print(f"  {line}")
        failed = failed or bool(problems)
    return 1 if failed else 0
