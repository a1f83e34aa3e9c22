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

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".work" / "databricks-connect"
#: databricks-connect release of each supported Databricks Runtime (Python 3.12 wheels): the LTS the
#: pipeline CURRENT channel runs and the newest 18.x
RUNTIMES = {
    "17.3.15": "Databricks Runtime 17.3 LTS (Spark 4.0)",
    "18.3.7": "Databricks Runtime 18 (Spark 4.1)",
}
DEPLOYED = ("connector_lib", "expectations", "pipelines")
#: names of Databricks' pipeline runtime (``dlt``, which ``pyspark.pipelines`` re-exports there), documented
#: in its Python reference but not packaged in databricks-connect
PIPELINE_RUNTIME_NAMES = frozenset({
    "table", "materialized_view", "temporary_view", "view", "append_flow", "create_streaming_table",
    "create_sink", "create_auto_cdc_flow", "create_auto_cdc_from_snapshot_flow", "apply_changes",
    "expect", "expect_or_drop", "expect_or_fail", "expect_all", "expect_all_or_drop", "expect_all_or_fail",
})
#: the Spark classes whose methods the code calls on objects it is handed (module, class), public API and
#: Spark Connect implementation
SPARK_CLASSES = tuple(
    (module, name)
    for base, names in (
        ("dataframe", ("DataFrame",)), ("column", ("Column",)), ("group", ("GroupedData",)),
        ("session", ("SparkSession",)), ("readwriter", ("DataFrameReader", "DataFrameWriter")),
        ("streaming.readwriter", ("DataStreamReader", "DataStreamWriter")), ("streaming.query", ("StreamingQuery",)),
        ("catalog", ("Catalog",)), ("conf", ("RuntimeConfig",)), ("window", ("Window", "WindowSpec")))
    for module in (f"pyspark.sql.{base}", f"pyspark.sql.connect.{base}")
    for name in names
) + (("pyspark.sql.types", "Row"), ("pyspark.sql.datasource", "DataSourceRegistration"))


# ---- a pyspark source tree, read with ast ------------------------------------------------------------
@dataclass
class Signature:
    positional: list[str]  # including self/cls for methods
    required: int  # positional parameters without a default
    varargs: bool
    keyword_only: set[str]
    required_keyword_only: set[str]
    varkw: bool
    is_property: bool = False

    @classmethod
    def of(cls, node: ast.FunctionDef | ast.AsyncFunctionDef) -> "Signature":
        args = node.args
        positional = [a.arg for a in args.posonlyargs + args.args]
        kw_defaults = {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
        return cls(positional, len(positional) - len(args.defaults), args.vararg is not None,
                   {a.arg for a in args.kwonlyargs}, {a.arg for a in args.kwonlyargs} - kw_defaults,
                   args.kwarg is not None, any(_name(d) == "property" for d in node.decorator_list))

    def bound(self, method: bool) -> "Signature":
        """Without ``self``: the signature as a caller of the method sees it."""
        if not method or not self.positional:
            return self
        return Signature(self.positional[1:], max(self.required - 1, 0), self.varargs, self.keyword_only,
                         self.required_keyword_only, self.varkw, self.is_property)

    def binds(self, n_positional: int, keywords: set[str], open_ended: bool) -> bool:
        if n_positional > len(self.positional) and not self.varargs:
            return False
        named = set(self.positional[n_positional:]) | self.keyword_only
        if any(k not in named for k in keywords) and not self.varkw:
            return False
        if open_ended:  # *args or **kwargs at the call: the rest cannot be told
            return True
        covered = set(self.positional[:n_positional]) | keywords
        return (all(p in covered for p in self.positional[:self.required])
                and self.required_keyword_only <= keywords)

    def accepts_every_call_of(self, base: "Signature") -> bool:
        """Whether an override with this signature accepts every call its base's signature allows."""
        if base.varargs and not self.varargs:
            return False
        for count in range(base.required, len(base.positional) + 1):
            if not self.binds(count, set(), False):
                return False
        return all(self.binds(0, {k}, True) for k in base.keyword_only | set(base.positional[base.required:]))


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def _top_level(body: list[ast.stmt]):
    """Statements of a module or class body, through every branch of if/try/with blocks."""
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.Try, ast.With)) or type(stmt).__name__ == "TryStar":
            for part in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(stmt, part, []) or [])
            for handler in getattr(stmt, "handlers", []):
                yield from _top_level(handler.body)
        else:
            yield stmt


class Tree:
    """A pyspark source tree (an unpacked wheel, or the installed package)."""

    def __init__(self, root: Path, label: str):
        self.root, self.label = root, label
        self._modules: dict[str, dict | None] = {}

    def module_path(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def namespace(self, module: str) -> dict | None:
        """name -> ("def", node) | ("class", node) | ("value", None) | ("from", module, name); None when
        the module does not exist."""
        if module in self._modules:
            return self._modules[module]
        self._modules[module] = {}  # a cycle of star imports ends here
        path = self.module_path(module)
        if path is None:
            self._modules[module] = None
            return None
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names: dict = {}
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for stmt in _top_level(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not any(_name(d) == "overload" for d in stmt.decorator_list) or stmt.name not in names:
                    names[stmt.name] = ("def", stmt)
            elif isinstance(stmt, ast.ClassDef):
                names[stmt.name] = ("class", stmt)
            elif isinstance(stmt, ast.ImportFrom):
                source = _absolute(stmt, package)
                for alias in stmt.names:
                    if alias.name == "*":
                        for star, entry in (self.namespace(source) or {}).items():
                            if not star.startswith("_"):
                                names.setdefault(star, entry)
                    else:
                        names[alias.asname or alias.name] = ("from", source, alias.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name):
                            names[node.id] = ("value", None)
        self._modules[module] = names
        return names

    def lookup(self, module: str, name: str, depth: int = 0):
        """The definition ``module.name`` resolves to (following imports), ``("module", path)`` for a
        submodule, or None."""
        namespace = self.namespace(module)
        if namespace is not None and name in namespace:
            entry = namespace[name]
            if entry[0] == "from" and depth < 20:
                return self.lookup(entry[1], entry[2], depth + 1) or (
                    ("module", entry[1] + "." + entry[2]) if self.module_path(entry[1] + "." + entry[2]) else None)
            return entry
        if self.module_path(f"{module}.{name}") is not None:
            return ("module", f"{module}.{name}")
        return None

    def members(self, module: str, name: str, depth: int = 0) -> dict[str, Signature | None] | None:
        """Methods and attributes of class ``module.name``, inherited ones included (bases defined in
        pyspark); None when the class does not exist."""
        entry = self.lookup(module, name)
        if entry is None or entry[0] != "class":
            return None
        node: ast.ClassDef = entry[1]
        found: dict[str, Signature | None] = {}
        if depth < 10:
            for base in node.bases:
                base_entry = _base_module(self, module, base)
                if base_entry is not None:
                    found.update(self.members(*base_entry, depth=depth + 1) or {})
        for stmt in _top_level(node.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(_name(d) == "overload" for d in stmt.decorator_list) and stmt.name in found:
                    continue
                if any(_name(d) in ("setter", "deleter") for d in stmt.decorator_list):
                    continue
                found[stmt.name] = Signature.of(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
                    if isinstance(target, ast.Name):
                        found[target.id] = None
        return found


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[:len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _base_module(tree: Tree, module: str, base: ast.expr) -> tuple[str, str] | None:
    """Where a base class named in ``module`` is defined."""
    name = _name(base)
    entry = (tree.namespace(module) or {}).get(name)
    if entry is None:
        return None
    if entry[0] == "class":
        return module, name
    if entry[0] == "from":
        target = tree.lookup(entry[1], entry[2])
        if target is not None and target[0] == "class":
            return _defining_module(tree, entry[1], entry[2])
    return None


def _defining_module(tree: Tree, module: str, name: str, depth: int = 0) -> tuple[str, str]:
    entry = (tree.namespace(module) or {}).get(name)
    if entry is not None and entry[0] == "from" and depth < 20:
        return _defining_module(tree, entry[1], entry[2], depth + 1)
    return module, name


# ---- what the project uses -----------------------------------------------------------------------
@dataclass
class Use:
    path: str
    line: int
    what: str  # import | attribute | call | method | property | override
    module: str = ""
    name: str = ""
    n_positional: int = 0
    keywords: set[str] = field(default_factory=set)
    open_ended: bool = False
    optional: bool = False
    signature: Signature | None = None  # the override's own (override)

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _optional_imports(tree: ast.Module) -> set[int]:
    """Line numbers of imports guarded by ``except ImportError`` (or ModuleNotFoundError)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                h.type is not None and {_name(t) for t in ast.walk(h.type)} & {"ImportError", "ModuleNotFoundError"}
                for h in node.handlers):
            for stmt in node.body:
                for inner in ast.walk(stmt):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        lines.add(inner.lineno)
    return lines


def uses_of(path: Path, reference: Tree) -> tuple[list[Use], dict[str, tuple[str, str]]]:
    """The pyspark uses of one file, and its pyspark classes by local name (for subclass checks)."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    rel = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    optional = _optional_imports(tree)
    modules: dict[str, str] = {}  # local name -> pyspark module
    classes: dict[str, tuple[str, str]] = {}  # local name -> (module, class)
    uses: list[Use] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pyspark":
                    uses.append(Use(rel, node.lineno, "import", alias.name, optional=node.lineno in optional))
                    if alias.asname:
                        modules[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pyspark" and not node.level:
            for alias in node.names:
                local = alias.asname or alias.name
                uses.append(Use(rel, node.lineno, "import", node.module, alias.name, optional=node.lineno in optional))
                if reference.module_path(f"{node.module}.{alias.name}") is not None:
                    modules[local] = f"{node.module}.{alias.name}"
                else:
                    classes[local] = _defining_module(reference, node.module, alias.name)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            open_ended = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
            call = dict(n_positional=len([a for a in node.args if not isinstance(a, ast.Starred)]),
                        keywords={k.arg for k in node.keywords if k.arg}, open_ended=open_ended)
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
                uses.append(Use(rel, node.lineno, "call", modules[func.value.id], func.attr, **call))
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in classes:
                uses.append(Use(rel, node.lineno, "call", *classes[func.value.id], **call))
                uses[-1].what, uses[-1].name = "classcall", f"{classes[func.value.id][1]}.{func.attr}"
            elif isinstance(func, ast.Attribute):
                uses.append(Use(rel, node.lineno, "method", name=func.attr, **call))
            elif isinstance(func, ast.Name) and func.id in classes:
                pass  # a constructor or an imported function: the import is checked
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and id(node) not in called:
            if isinstance(node.value, ast.Name) and node.value.id in modules:
                uses.append(Use(rel, node.lineno, "attribute", modules[node.value.id], node.attr))
            else:
                uses.append(Use(rel, node.lineno, "property", name=node.attr))
    return uses, classes


def overrides(paths: list[Path], reference: Tree) -> list[Use]:
    """Methods of the project's classes that subclass pyspark classes, with the pyspark bases."""
    found = []
    local_classes: dict[str, tuple[list[tuple[str, str]], ast.ClassDef, str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        _, classes = uses_of(path, reference)
        assigned = {t.id: stmt.value for stmt in tree.body if isinstance(stmt, ast.Assign)
                    for t in stmt.targets if isinstance(t, ast.Name)}
        rel = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            names = []
            for base in node.bases:  # (*_BASES) reads through the tuple the module built
                expr = assigned.get(base.value.id) if isinstance(base, ast.Starred) and isinstance(base.value, ast.Name) else base
                names += [n.id for n in ast.walk(expr) if isinstance(n, ast.Name)] if expr is not None else []
            local_classes[node.name] = ([classes[n] for n in names if n in classes], node, rel)
            local_classes[node.name][0].extend(("", n) for n in names if n not in classes)  # project bases
    for name, (bases, node, rel) in local_classes.items():
        pyspark_bases, queue, seen = [], list(bases), set()
        while queue:
            module, base = queue.pop()
            if (module, base) in seen:
                continue
            seen.add((module, base))
            if module:
                pyspark_bases.append((module, base))
            elif base in local_classes:
                queue.extend(local_classes[base][0])
        for stmt in node.body:  # constructors and other dunders are the project's to call, not the runtime's
            if isinstance(stmt, ast.FunctionDef) and pyspark_bases and not stmt.name.startswith("__"):
                for module, base in pyspark_bases:
                    found.append(Use(rel, stmt.lineno, "override", module, f"{base}.{stmt.name}",
                                     signature=Signature.of(stmt)))
    return found


# ---- the check -------------------------------------------------------------------------------------
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
                        problems.append(f"{use.where()}: {use.module}.{use.name}() does not take this call "
                                        f"({_call_text(use)})")
            elif use.what == "classcall":
                checked += 1
                cls, method = use.name.split(".")
                signature = (runtime.members(use.module, cls) or {}).get(method, "missing")
                if signature == "missing":
                    problems.append(f"{use.where()}: {use.module}.{use.name} does not exist")
                elif signature is not None and not signature.bound(True).binds(use.n_positional, use.keywords,
                                                                               use.open_ended):
                    problems.append(f"{use.where()}: {use.module}.{use.name}() does not take this call ({_call_text(use)})")
            elif use.what in ("method", "property"):
                spark_calls = []
                for key, members in spark_methods.items():
                    signature = members.get(use.name)
                    if use.name not in members or use.name.startswith("_"):
                        continue
                    if use.what == "property":
                        if signature is not None and signature.is_property:
                            spark_calls.append(key)
                    elif signature is not None and not signature.is_property and signature.bound(True).binds(
                            use.n_positional, use.keywords, use.open_ended):
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
                    elif use.what == "method" and members[use.name] is not None and not members[use.name].bound(
                            True).binds(use.n_positional, use.keywords, use.open_ended):
                        problems.append(f"{use.where()}: {cls}.{use.name}() ({module}) does not take this call "
                                        f"({_call_text(use)})")
    for use in overrides(files, reference):
        cls, method = use.name.split(".")
        members = runtime.members(use.module, cls)
        if members is None or members.get(method) is None:
            continue  # the base is optional and absent here, or the method is the project's own
        checked += 1
        base = members[method].bound(True)
        if not use.signature.bound(True).accepts_every_call_of(base):
            problems.append(f"{use.where()}: {method}() must accept every call of {use.module}.{cls}.{method}"
                            f"({', '.join(base.positional)}), which this runtime may make")
    return problems, checked


def _call_text(use: Use) -> str:
    parts = [f"{use.n_positional} positional"] + sorted(f"{k}=" for k in use.keywords)
    return ", ".join(parts + (["*args/**kwargs"] if use.open_ended else []))


# ---- the wheels ------------------------------------------------------------------------------------
def runtime_tree(version: str, cache: Path = CACHE) -> Tree:
    """The pyspark sources of databricks-connect ``version``, downloaded once and unpacked (not installed)."""
    target = cache / version
    if not (target / "pyspark" / "__init__.py").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        wheels = list(cache.glob(f"databricks_connect-{version}-*.whl"))
        if not wheels:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            "--python-version", "3.12", f"databricks-connect=={version}", "-d", str(cache)],
                           check=True)
            wheels = list(cache.glob(f"databricks_connect-{version}-*.whl"))
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(target, [n for n in wheel.namelist() if n.startswith("pyspark/") and n.endswith(".py")])
    return Tree(target, f"databricks-connect {version}")


def local_tree() -> Tree:
    import pyspark

    return Tree(Path(pyspark.__file__).resolve().parent.parent, f"pyspark {pyspark.__version__}")


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
        print(f"api-surface: databricks-connect {version} ({label}): {checked} pyspark uses checked, "
              f"{len(problems)} missing or incompatible")
        for line in problems:
            print(f"  {line}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
