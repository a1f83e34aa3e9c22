"""What the project's code uses of pyspark, read with ``ast``: imports (and whether an ``except
ImportError`` guards them), attributes and calls of imported modules and classes, method calls and
property reads on other objects, and the methods its classes override in subclasses of pyspark classes."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from .tree import Signature, Tree, defining_module, node_name

REPO = Path(__file__).resolve().parents[2]


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
            h.type is not None and {node_name(t) for t in ast.walk(h.type)} & {"ImportError", "ModuleNotFoundError"}
            for h in node.handlers
        ):
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
                    classes[local] = defining_module(reference, node.module, alias.name)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            open_ended = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
            call = dict(
                n_positional=len([a for a in node.args if not isinstance(a, ast.Starred)]),
                keywords={k.arg for k in node.keywords if k.arg},
                open_ended=open_ended,
            )
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
        assigned = {
            target.id: stmt.value
            for stmt in tree.body
            if isinstance(stmt, (ast.Assign, ast.AnnAssign))
            for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
            if isinstance(target, ast.Name) and stmt.value is not None
        }
        rel = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            names = []
            for base in node.bases:  # (*_BASES) reads through the tuple the module built
                expr = (
                    assigned.get(base.value.id)
                    if isinstance(base, ast.Starred) and isinstance(base.value, ast.Name)
                    else base
                )
                names += [n.id for n in ast.walk(expr) if isinstance(n, ast.Name)] if expr is not None else []
            local_classes[node.name] = ([classes[n] for n in names if n in classes], node, rel)
            local_classes[node.name][0].extend(("", n) for n in names if n not in classes)  # project bases
    for bases, node, rel in local_classes.values():
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
                    found.append(
                        Use(rel, stmt.lineno, "override", module, f"{base}.{stmt.name}", signature=Signature.of(stmt))
                    )
    return found
