"""Find what a spec imports without importing it: modules on the import path, names in them.

`check` must not run a spec's imports (they are code), yet a spec that passes it must
load. So each `from MODULE import NAME` is looked up the way Python's import system
would find it — `importlib.machinery.PathFinder` over the spec's directory then
`sys.path`, package by package through `submodule_search_locations`, never executing
a package's `__init__` — and the module's top-level names are read from its source
with `ast`. Compiled modules are read from their type stubs: a `.pyi` beside them, or
typeshed's (shipped with mypy, the `types` extra); failing that, standard-library
modules only are introspected. When a module's names cannot be known for certain
(a star import, a module `__getattr__`, `global` assignments, no source or stub),
every name is accepted: a false "no such name" would be worse than none.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import importlib.machinery
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache

from dsl.record import Record, record

__all__ = (
    "ModuleInfo",
    "find_module",
    "import_origin",
    "is_exception_class",
    "module_candidates",
    "module_tree",
    "search_path_for",
)


@record
class ModuleInfo(Record):
    """A module found on the import path, read without running it."""

    name: str
    path: str | None
    """Where its names were read from: its source, a stub, or None (built in, or unreadable)."""
    names: frozenset[str] | None
    """Its top-level names and submodules; None when they cannot be known for certain."""
    submodule_locations: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        """Whether `from <module> import name` can succeed, as far as can be told."""
        return self.names is None or name in self.names


def search_path_for(spec_file: str) -> tuple[str, ...]:
    """The import path a spec's modules are found on: the spec's directory, then `sys.path`."""
    directory = os.path.dirname(os.path.abspath(spec_file))
    return (directory, *(p or os.getcwd() for p in sys.path))


def find_module(module: str, search_path: Sequence[str]) -> ModuleInfo | None:
    """The module `module` (dotted) as the import system would find it, or None if it would not."""
    return _find(module, search_path)


def _find(module: str, search_path: Sequence[str]) -> ModuleInfo | None:
    parts = module.split(".")
    locations: Sequence[str] = search_path
    spec = None
    for depth, part in enumerate(parts):
        if depth == 0 and part in sys.builtin_module_names:
            spec = importlib.machinery.BuiltinImporter.find_spec(part)
        else:
            spec = importlib.machinery.PathFinder.find_spec(part, list(locations))
        if spec is None or (depth < len(parts) - 1 and spec.submodule_search_locations is None):
            # not found, or `a.b` where `a` is a plain module: only `a` running can make `a.b` (as `os` does)
            return _stdlib_module(module) if parts[0] in sys.stdlib_module_names else None
        if depth < len(parts) - 1:
            locations = list(spec.submodule_search_locations or ())
    assert spec is not None
    submodule_locations = tuple(spec.submodule_search_locations or ())
    origin = spec.origin if spec.has_location else None
    path, names = _names(module, origin, submodule_locations)
    return ModuleInfo(name=module, path=path, names=names, submodule_locations=submodule_locations)


def _names(
    module: str, origin: str | None, submodule_locations: tuple[str, ...]
) -> tuple[str | None, frozenset[str] | None]:
    submodules: set[str] = set()
    if submodule_locations:  # a package's submodules can be imported from it
        import pkgutil  # here: it imports `typing`, a twentieth of `graphc check` on a spec importing no package

        submodules = {m.name for m in pkgutil.iter_modules(list(submodule_locations))}
    if origin is None and submodule_locations:  # a namespace package holds only its submodules
        return None, frozenset(submodules)
    source = origin if origin is not None and origin.endswith((".py", ".pyi")) else _stub_for(module, origin)
    if source is not None:
        names = _source_names(source, _mtime(source))
        return source, None if names is None else names | submodules
    if module.split(".")[0] in sys.stdlib_module_names:
        return None, _introspected(module)
    return None, None


def _stub_for(module: str, origin: str | None) -> str | None:
    """A type stub for a compiled module: beside it, or in typeshed's standard library."""
    if origin is not None:
        beside = os.path.join(os.path.dirname(origin), module.rsplit(".", 1)[-1] + ".pyi")
        if os.path.isfile(beside):
            return beside
    typeshed = _typeshed_stdlib()
    if typeshed is not None and module.split(".")[0] in sys.stdlib_module_names:
        base = os.path.join(typeshed, *module.split("."))
        for candidate in (base + ".pyi", os.path.join(base, "__init__.pyi")):
            if os.path.isfile(candidate):
                return candidate
    return None


@lru_cache(maxsize=1)
def _typeshed_stdlib() -> str | None:
    """The standard library's stubs in typeshed as mypy ships them, found without importing mypy."""
    spec = importlib.machinery.PathFinder.find_spec("mypy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        stdlib = os.path.join(location, "typeshed", "stdlib")
        if os.path.isdir(stdlib):
            return stdlib
    return None


def _stdlib_module(module: str) -> ModuleInfo | None:
    """A standard-library module the path search cannot see (`os.path`), by importing it."""
    names = _introspected(module)
    return None if names is None else ModuleInfo(name=module, path=None, names=names)


def _introspected(module: str) -> frozenset[str] | None:
    """The names of a standard-library module, by importing it (the standard library only)."""
    try:
        imported = __import__(module, fromlist=["_"])
    except Exception:  # an optional part of the standard library that is missing here
        return None
    return frozenset(dir(imported))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def module_tree(path: str) -> ast.Module | None:
    """A Python source's syntax tree, read once per version of the file; None if it cannot be read."""
    return _tree(path, _mtime(path))


@lru_cache(maxsize=512)
def _tree(path: str, mtime: float) -> ast.Module | None:
    try:
        with open(path, "rb") as file:
            return ast.parse(file.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


@lru_cache(maxsize=512)
def _source_names(path: str, mtime: float) -> frozenset[str] | None:
    """Top-level names a module's source binds; None if it may bind others `ast` cannot see."""
    tree = _tree(path, mtime)
    if tree is None:
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            names.update(node.names)  # a function that binds module globals when it runs
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars"):
            return None  # names made at run time
    for statement in _top_level(tree.body):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(_bound(targets))
        elif isinstance(statement, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            targets = [statement.target] if isinstance(statement, (ast.For, ast.AsyncFor)) else []
            targets += [item.optional_vars for item in getattr(statement, "items", []) if item.optional_vars]
            names.update(_bound(targets))
        elif isinstance(statement, ast.Try):
            names.update(h.name for h in statement.handlers if h.name)
        elif sys.version_info >= (3, 12) and isinstance(statement, ast.TypeAlias):
            names.update(_bound([statement.name]))
    for expression in ast.walk(tree):  # walrus at module level binds a global too
        if isinstance(expression, ast.NamedExpr) and isinstance(expression.target, ast.Name):
            names.add(expression.target.id)
    if "__getattr__" in names:
        return None  # the module makes up names on demand
    return frozenset(names)


def import_origin(module: ModuleInfo, name: str) -> str | None:
    """The module that `module`'s own source imports `name` from (`import re` → `re`), or None if it defines it."""
    if module.path is None or not module.path.endswith((".py", ".pyi")):
        return None
    return _import_bindings(module.name, module.path, _mtime(module.path)).get(name)


@lru_cache(maxsize=256)
def _import_bindings(module: str, path: str, mtime: float) -> dict[str, str]:
    """Top-level names a module binds by importing them, each with the absolute module it comes from."""
    tree = _tree(path, mtime)
    if tree is None:
        return {}
    is_package = os.path.basename(path) in ("__init__.py", "__init__.pyi")
    package = module if is_package else module.rpartition(".")[0]
    bindings: dict[str, str] = {}
    for statement in _top_level(tree.body):
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.split(".")[0]
                bindings[bound] = alias.name if alias.asname else bound
        elif isinstance(statement, ast.ImportFrom):
            base = statement.module or ""
            if statement.level:
                parent = package.rsplit(".", statement.level - 1)[0] if statement.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in statement.names:
                if alias.name != "*":
                    bindings[alias.asname or alias.name] = base
    return bindings


def is_exception_class(module: ModuleInfo, name: str) -> bool | None:
    """Whether `name` in `module` is an exception class, as far as its source tells; None when it cannot tell.

    A function or a plain value is not; a class is when a base is a builtin exception or,
    in the same module, such a class; a class whose bases are all builtins but no
    exception (`object`, `str`) is not; anything else (an imported base) cannot be told.
    """
    if module.path is None or not module.path.endswith((".py", ".pyi")):
        return None
    classes, functions = _definitions(module.path, _mtime(module.path))
    if name in functions:
        return False
    return _class_is_exception(name, classes, set())


def _class_is_exception(name: str, classes: dict[str, list[str]], seen: set[str]) -> bool | None:
    if name not in classes or name in seen:
        return None
    seen.add(name)
    verdicts: list[bool | None] = []
    for base in classes[name] or ["object"]:
        builtin = getattr(builtins, base, None)
        if isinstance(builtin, type):
            verdicts.append(issubclass(builtin, BaseException))
        else:
            verdicts.append(_class_is_exception(base, classes, seen))
    if any(v is True for v in verdicts):
        return True
    return False if all(v is False for v in verdicts) else None


@lru_cache(maxsize=256)
def _definitions(path: str, mtime: float) -> tuple[dict[str, list[str]], frozenset[str]]:
    """A module's top-level classes (with the names of their bases) and functions."""
    tree = _tree(path, mtime)
    if tree is None:
        return {}, frozenset()
    classes: dict[str, list[str]] = {}
    functions: set[str] = set()
    for statement in _top_level(tree.body):
        if isinstance(statement, ast.ClassDef):
            classes[statement.name] = [ast.unparse(b).rsplit(".", 1)[-1] for b in statement.bases]
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.add(statement.name)
    return classes, frozenset(functions)


def _top_level(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, including those inside `if`, `try`, `for`, `while` and `with` blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _top_level(getattr(statement, field, []))
        for handler in getattr(statement, "handlers", []):
            yield from _top_level(handler.body)
        for case in getattr(statement, "cases", []):
            yield from _top_level(case.body)


def _bound(targets: Iterable[ast.expr]) -> Iterator[str]:
    for target in targets:
        if isinstance(target, ast.Name):
            yield target.id
        elif isinstance(target, (ast.Tuple, ast.List)):
            yield from _bound(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _bound([target.value])


def module_candidates(module: str, search_path: Sequence[str]) -> list[str]:
    """Module names close to a misspelt `module`: the spec's siblings first, then (closer) the rest of the path."""
    import pkgutil

    parent, _, _ = module.rpartition(".")
    if parent:
        found = find_module(parent, search_path)
        locations = list(found.submodule_locations) if found is not None else []
        return [f"{parent}.{m.name}" for m in pkgutil.iter_modules(locations)]
    siblings = [m.name for m in pkgutil.iter_modules(list(search_path[:1]))]
    close = difflib.get_close_matches(module, siblings, n=3, cutoff=0.6)
    if not close:  # the rest of the path; the standard library's many short names only when very close
        installed = {m.name for m in pkgutil.iter_modules(list(search_path[1:])) if not m.name.startswith("_")}
        installed |= {m for m in (*sys.stdlib_module_names, *sys.builtin_module_names) if not m.startswith("_")}
        close = difflib.get_close_matches(module, sorted(installed), n=3, cutoff=0.8)
    return close
