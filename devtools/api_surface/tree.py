"""A pyspark source tree read with ``ast`` (an unpacked wheel, or the installed package): module
namespaces followed through their imports, classes with their inherited members, and signatures, so a
runtime's API can be checked without importing or running it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


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
    def of(cls, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature:
        args = node.args
        positional = [a.arg for a in args.posonlyargs + args.args]
        kw_defaults = {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
        return cls(
            positional,
            len(positional) - len(args.defaults),
            args.vararg is not None,
            {a.arg for a in args.kwonlyargs},
            {a.arg for a in args.kwonlyargs} - kw_defaults,
            args.kwarg is not None,
            any(node_name(d) == "property" for d in node.decorator_list),
        )

    def bound(self, method: bool) -> Signature:
        """Without ``self``: the signature as a caller of the method sees it."""
        if not method or not self.positional:
            return self
        return Signature(
            self.positional[1:],
            max(self.required - 1, 0),
            self.varargs,
            self.keyword_only,
            self.required_keyword_only,
            self.varkw,
            self.is_property,
        )

    def binds(self, n_positional: int, keywords: set[str], open_ended: bool) -> bool:
        if n_positional > len(self.positional) and not self.varargs:
            return False
        named = set(self.positional[n_positional:]) | self.keyword_only
        if any(k not in named for k in keywords) and not self.varkw:
            return False
        if open_ended:  # *args or **kwargs at the call: the rest cannot be told
            return True
        covered = set(self.positional[:n_positional]) | keywords
        return all(p in covered for p in self.positional[: self.required]) and self.required_keyword_only <= keywords

    def accepts_every_call_of(self, base: Signature) -> bool:
        """Whether an override with this signature accepts every call its base's signature allows."""
        if base.varargs and not self.varargs:
            return False
        for count in range(base.required, len(base.positional) + 1):
            if not self.binds(count, set(), False):
                return False
        return all(self.binds(0, {k}, True) for k in base.keyword_only | set(base.positional[base.required :]))


def node_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return node_name(node.func)
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
                if not any(node_name(d) == "overload" for d in stmt.decorator_list) or stmt.name not in names:
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
                    ("module", entry[1] + "." + entry[2]) if self.module_path(entry[1] + "." + entry[2]) else None
                )
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
                if any(node_name(d) == "overload" for d in stmt.decorator_list) and stmt.name in found:
                    continue
                if any(node_name(d) in ("setter", "deleter") for d in stmt.decorator_list):
                    continue
                found[stmt.name] = Signature.of(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                    if isinstance(target, ast.Name):
                        found[target.id] = None
        return found


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _base_module(tree: Tree, module: str, base: ast.expr) -> tuple[str, str] | None:
    """Where a base class named in ``module`` is defined."""
    name = node_name(base)
    entry = (tree.namespace(module) or {}).get(name)
    if entry is None:
        return None
    if entry[0] == "class":
        return module, name
    if entry[0] == "from":
        target = tree.lookup(entry[1], entry[2])
        if target is not None and target[0] == "class":
            return defining_module(tree, entry[1], entry[2])
    return None


def defining_module(tree: Tree, module: str, name: str, depth: int = 0) -> tuple[str, str]:
    entry = (tree.namespace(module) or {}).get(name)
    if entry is not None and entry[0] == "from" and depth < 20:
        return defining_module(tree, entry[1], entry[2], depth + 1)
    return module, name
