"""Compiled graphs at run time: `load("flow.graph")` compiles in memory, cached by content hash.

A second load of an unchanged spec (same text, target and allow-list) skips
compilation: first from this process's memory, then from an on-disk cache of
generated source and its bytecode (written atomically, checksummed, rebuilt if
damaged, the least recently used pruned beyond `MAX_CACHE_ENTRIES`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import linecache
import marshal
import os
import sys
import tempfile
import threading
import types
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsl.cachedir import cache_dir
from dsl.limits import DEFAULT_LIMITS, Limits
from dsl.record import Record, record
from dsl.source import read_source
from runtime import Graph
from runtime.fanout import SubGraph, provide_subgraph

if TYPE_CHECKING:  # the compiler proper is imported on a cache miss only: a cached load needs no checks, no jinja2
    from .codegen import Target, UsedModule

__all__ = ("SpecFinder", "cache_dir", "install_import_hook", "load", "load_module")

CACHE_VERSION = "graphc-2"
MAX_CACHE_ENTRIES = 500
"""Compiled specs kept in the disk cache; the least recently used beyond this are deleted."""
_modules: dict[str, types.ModuleType] = {}
_lock = threading.Lock()


def load(
    path: str | Path,
    *,
    target: Target = "runtime",
    allowed_imports: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    use_disk_cache: bool = True,
    sources: Mapping[str, str] | None = None,
) -> Graph[Any, Any, Any]:
    """Compile a spec in memory (or reuse a cached compilation) and return its graph.

    The spec's directory is appended to `sys.path` so it can import modules beside it.

    Args:
        path: A `.graph`, `.yaml`/`.yml` or `.toml` spec.
        target: Library the generated code imports (`runtime` or `pydantic_graph`).
        allowed_imports: If given, the spec may import only from these modules.
        limits: Size limits for the spec (file size, expression depth, node count).
        use_disk_cache: Whether to read and write the on-disk cache.
        sources: The texts of the specs it uses, by path relative to its folder (default: read from disk).

    Raises:
        DiagnosticError: the spec has errors.
    """
    graph = load_module(
        path,
        target=target,
        allowed_imports=allowed_imports,
        limits=limits,
        use_disk_cache=use_disk_cache,
        sources=sources,
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
    sources: Mapping[str, str] | None = None,
) -> types.ModuleType:
    """Like `load`, but return the whole generated module (node classes, state class, `start`).

    `sources` (path relative to the spec's folder → text) are the specs it uses, for a spec that
    did not come from this disk (a worker's): they are then never read from disk.
    """
    source = read_source(path, max_bytes=limits.max_bytes)
    allowed = None if allowed_imports is None else sorted(allowed_imports)
    given = json.dumps(sorted(sources.items())) if sources is not None else ""
    key = hashlib.sha256(
        "\0".join(
            [
                _compiler_fingerprint(),
                source.syntax,
                target,
                repr(allowed),
                repr(limits),
                source.name,
                source.text,
                given,
            ]
        ).encode()
    ).hexdigest()
    with _lock:
        module = _modules.get(key)
    if module is not None and _unchanged(module.__graphc_uses__, sources):
        return module
    spec_dir = str(Path(path).resolve().parent)
    if spec_dir not in sys.path:
        sys.path.append(spec_dir)
    filename = f"<graphc {source.name} {key[:12]}>"
    entry = _read_cache(key) if use_disk_cache else None
    if entry is not None and not _unchanged(entry.uses, sources):
        entry = None  # a spec it uses changed since
    bytecode = _read_bytecode(key, entry.code) if entry is not None else None
    if entry is None:
        from .pipeline import compile_source

        generated = compile_source(source, target=target, allowed_imports=allowed, limits=limits, sources=sources)[0]
        entry = _Entry(code=generated.source, uses=[_used_entry(used) for used in generated.uses])
        if use_disk_cache:
            _write_cache(_cache_file(key), entry.dump())
            _prune_cache()
    if bytecode is None:
        bytecode = compile(entry.code, filename, "exec")
        if use_disk_cache:
            _write_cache(_bytecode_file(key), _source_digest(entry.code) + marshal.dumps(bytecode))
    for used in entry.uses:  # the modules it runs as sub-graphs, before it: it finds them by digest
        used_name = f"<graphc {used['file']} {used['digest'][:12]}>"
        used_module = _execute(
            used["code"], compile(used["code"], used_name, "exec"), used["file"], used["digest"], used_name
        )
        provide_subgraph(used["digest"], SubGraph(used["file"], used_module.graph, used_module.start))
    module = _execute(entry.code, bytecode, Path(source.name).stem, key, filename)
    module.__graphc_spec__ = str(Path(path).resolve())  # type: ignore[attr-defined]  # for `workers.submit(graph)`
    module.__graphc_uses__ = entry.uses  # type: ignore[attr-defined]
    with _lock:  # another thread may have loaded it meanwhile: one module per key, unless a used spec changed
        existing = _modules.get(key)
        if existing is not None and existing.__graphc_uses__ == entry.uses:
            return existing
        _modules[key] = module
        return module


@record
class _Entry(Record):
    """A cached compilation: the module's source and the modules of the specs it uses."""

    code: str
    uses: list[dict[str, str]]
    """Each used spec's `path` and `sha256` (of its text), and its module's `file`, `digest` and `code`."""

    def dump(self) -> bytes:
        return json.dumps({"code": self.code, "uses": self.uses}).encode()


def _used_entry(used: UsedModule) -> dict[str, str]:
    text = Path(used.spec_path).read_bytes() if os.path.exists(used.spec_path) else b""
    return {
        "path": used.spec_path,
        "sha256": hashlib.sha256(text).hexdigest(),
        "file": used.file,
        "digest": used.digest,
        "code": used.module.source,
    }


def _unchanged(uses: list[dict[str, str]], sources: Mapping[str, str] | None) -> bool:
    """Whether the specs a compilation used are as they were (given `sources` are part of the key already)."""
    if sources is not None:
        return True
    for used in uses:
        try:
            text = Path(used["path"]).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(text).hexdigest() != used["sha256"]:
            return False
    return True


@lru_cache(maxsize=1)
def _compiler_fingerprint() -> str:
    """A digest of the code that shapes generated modules, so a changed graphc never reuses old output.

    Covers the front-ends, grammar, compiler, templates and the runtime (whose spec-location
    helper some targets copy); reading them costs about a millisecond, once per process.
    """
    digest = hashlib.sha256(CACHE_VERSION.encode())
    root = Path(__file__).resolve().parent.parent
    for package in ("dsl", "grammars", "compiler", "runtime"):
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".lark", ".jinja") and path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _execute(code: str, bytecode: types.CodeType, stem: str, key: str, filename: str) -> types.ModuleType:
    safe_stem = "".join(ch if ch.isalnum() else "_" for ch in stem)
    name = f"graphc_compiled_{safe_stem}_{key[:12]}"
    # tracebacks and the spec-line notes read the generated source through linecache
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # dataclasses look their module up while the module runs
    try:
        exec(bytecode, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.py"


def _bytecode_file(key: str) -> Path:
    # bytecode is specific to the interpreter: the tag (e.g. cpython-311) keeps versions apart
    return cache_dir() / f"{key}.{sys.implementation.cache_tag}.code"


def _source_digest(code: str) -> bytes:
    """What a bytecode file must start with to belong to `code` and this interpreter."""
    return importlib.util.MAGIC_NUMBER + hashlib.sha256(code.encode()).digest()


def _checked_read(path: Path) -> bytes | None:
    """The payload of a cache file written by `_write_cache`, or None if missing or damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header, _, payload = data.partition(b"\n")
    if header != f"# {CACHE_VERSION} {hashlib.sha256(payload).hexdigest()}".encode():
        return None  # damaged or truncated: build it again
    return payload


def _read_cache(key: str) -> _Entry | None:
    path = _cache_file(key)
    payload = _checked_read(path)
    if payload is None:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: pruned last
    try:
        data = json.loads(payload)
        return _Entry(code=data["code"], uses=data["uses"])
    except (ValueError, KeyError, TypeError):
        return None


def _read_bytecode(key: str, code: str) -> types.CodeType | None:
    """The compiled `code` from the disk cache, skipping `compile` (a third of a cached load)."""
    payload = _checked_read(_bytecode_file(key))
    digest = _source_digest(code)
    if payload is None or not payload.startswith(digest):
        return None
    try:
        bytecode = marshal.loads(payload[len(digest) :])
    except (EOFError, ValueError, TypeError):
        return None
    return bytecode if isinstance(bytecode, types.CodeType) else None


def _prune_cache() -> None:
    """Keep the newest `MAX_CACHE_ENTRIES` compiled specs on disk (by last use); delete the rest.

    A process reading an entry another one deletes just compiles the spec again.
    """
    try:
        entries = [(path.stat().st_mtime, path) for path in cache_dir().glob("*.py")]
    except OSError:
        return
    if len(entries) <= MAX_CACHE_ENTRIES:
        return
    entries.sort(reverse=True)
    for _, path in entries[MAX_CACHE_ENTRIES:]:
        for stale in (path, _bytecode_file(path.stem)):
            with contextlib.suppress(OSError):
                stale.unlink()


def _write_cache(path: Path, payload: bytes) -> None:
    """Write `payload` under a checksum line, atomically: readers see the old file or the whole new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# {CACHE_VERSION} {hashlib.sha256(payload).hexdigest()}\n".encode()
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as f:
            f.write(header + payload)
            temporary = f.name
        os.replace(temporary, path)
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
