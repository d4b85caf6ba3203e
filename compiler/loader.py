"""Compiled graphs at run time: `load("flow.graph")` compiles in memory, cached by content hash.

A second load of an unchanged spec (same text, target and allow-list) skips
compilation: first from this process's memory, then from an on-disk cache of
generated source (written atomically, checksummed, rebuilt if damaged).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import os
import sys
import tempfile
import threading
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dsl.limits import DEFAULT_LIMITS, Limits
from dsl.source import read_source
from runtime import Graph

from .codegen import Target
from .pipeline import compile_source

__all__ = ("SpecFinder", "cache_dir", "install_import_hook", "load", "load_module")

CACHE_VERSION = "graphc-1"
_modules: dict[str, types.ModuleType] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """Where generated modules are cached: `$GRAPHC_CACHE_DIR`, else `~/.cache/graphc`."""
    configured = os.environ.get("GRAPHC_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphc"


def load(
    path: str | Path,
    *,
    target: Target = "runtime",
    allowed_imports: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    use_disk_cache: bool = True,
) -> Graph[Any, Any, Any]:
    """Compile a spec in memory (or reuse a cached compilation) and return its graph.

    The spec's directory is appended to `sys.path` so it can import modules beside it.

    Args:
        path: A `.graph`, `.yaml`/`.yml` or `.toml` spec.
        target: Library the generated code imports (`runtime` or `pydantic_graph`).
        allowed_imports: If given, the spec may import only from these modules.
        limits: Size limits for the spec (file size, expression depth, node count).
        use_disk_cache: Whether to read and write the on-disk cache.

    Raises:
        DiagnosticError: the spec has errors.
    """
    graph = load_module(
        path, target=target, allowed_imports=allowed_imports, limits=limits, use_disk_cache=use_disk_cache
    ).graph
    assert isinstance(graph, Graph) or target != "runtime"
    return graph  # type: ignore[no-any-return]


def load_module(
    path: str | Path,
    *,
    target: Target = "runtime",
    allowed_imports: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    use_disk_cache: bool = True,
) -> types.ModuleType:
    """Like `load`, but return the whole generated module (node classes, state class, `start`)."""
    source = read_source(path, max_bytes=limits.max_bytes)
    allowed = None if allowed_imports is None else sorted(allowed_imports)
    key = hashlib.sha256(
        "\0".join(
            [CACHE_VERSION, source.syntax, target, repr(allowed), repr(limits), source.name, source.text]
        ).encode()
    ).hexdigest()
    with _lock:
        module = _modules.get(key)
        if module is not None:
            return module
    spec_dir = str(Path(path).resolve().parent)
    if spec_dir not in sys.path:
        sys.path.append(spec_dir)
    code = _read_cache(key) if use_disk_cache else None
    if code is None:
        code = compile_source(source, target=target, allowed_imports=allowed, limits=limits)[0].source
        if use_disk_cache:
            _write_cache(key, code)
    module = _execute(code, Path(source.name).stem, key, source.name)
    with _lock:
        return _modules.setdefault(key, module)


def _execute(code: str, stem: str, key: str, spec_name: str) -> types.ModuleType:
    safe_stem = "".join(ch if ch.isalnum() else "_" for ch in stem)
    name = f"graphc_compiled_{safe_stem}_{key[:12]}"
    filename = f"<graphc {spec_name} {key[:12]}>"
    # tracebacks and the spec-line notes read the generated source through linecache
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # dataclasses look their module up while the module runs
    try:
        exec(compile(code, filename, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.py"


def _read_cache(key: str) -> str | None:
    try:
        data = _cache_file(key).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header, _, code = data.partition("\n")
    if header != f"# {CACHE_VERSION} {hashlib.sha256(code.encode()).hexdigest()}":
        return None  # damaged or truncated: compile again
    return code


def _write_cache(key: str, code: str) -> None:
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        checksum = hashlib.sha256(code.encode()).hexdigest()
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, delete=False, suffix=".tmp") as f:
            f.write(f"# {CACHE_VERSION} {checksum}\n{code}")
            temporary = f.name
        os.replace(temporary, _cache_file(key))  # atomic: readers see the old file or the whole new one
    except OSError:
        pass  # the cache is an optimisation; a read-only home must not break loading


class SpecFinder(importlib.abc.MetaPathFinder):
    """Lets `import flow` find `flow.graph` (or `.yaml`, `.yml`, `.toml`) on `sys.path`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Find a spec file for a top-level module name."""
        if "." in fullname:
            return None
        for entry in sys.path:
            for suffix in (".graph", ".yaml", ".yml", ".toml"):
                candidate = Path(entry or ".") / f"{fullname}{suffix}"
                if candidate.is_file():
                    return importlib.util.spec_from_loader(fullname, _SpecLoader(candidate), origin=str(candidate))
        return None


class _SpecLoader(importlib.abc.Loader):
    def __init__(self, path: Path) -> None:
        self.path = path

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return load_module(self.path)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to do: `create_module` returned the compiled module."""


def install_import_hook() -> None:
    """Make `import flow` compile and import `flow.graph` found on `sys.path` (idempotent)."""
    if not any(isinstance(finder, SpecFinder) for finder in sys.meta_path):
        sys.meta_path.append(SpecFinder())
