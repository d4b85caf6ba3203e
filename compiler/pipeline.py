"""The pipeline in one place: spec file → `GraphSpec` → `CheckedGraph` → `GeneratedModule`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from dsl.limits import DEFAULT_LIMITS, Limits
from dsl.parse import parse_source, paused_gc
from dsl.source import SourceFile, read_source

from .checks import CheckedGraph, check_spec
from .codegen import GeneratedModule, Target, generate
from .uses import UsedSpecs

__all__ = ("compile_source", "compile_spec")


def compile_source(
    source: SourceFile,
    *,
    target: Target = "runtime",
    allowed_imports: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    sources: Mapping[str, str] | None = None,
) -> tuple[GeneratedModule, CheckedGraph]:
    """Parse, check and generate code for a spec already read into memory.

    `sources` are the texts of the specs it uses, by path relative to its folder; by default
    they are read from disk (not under an allow-list).

    Raises:
        DiagnosticError: the spec has errors (all of a stage's errors at once).
    """
    with paused_gc():
        spec = parse_source(source, limits=limits)  # text → GraphSpec (IR with spans)
        uses = UsedSpecs(source.name, sources=sources, limits=limits) if spec.uses else None
        checked = check_spec(spec, allowed_imports=allowed_imports, uses=uses)  # GraphSpec → CheckedGraph
        return generate(checked, target=target), checked  # CheckedGraph → Python source


def compile_spec(
    path: str | Path,
    *,
    target: Target = "runtime",
    allowed_imports: Iterable[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> GeneratedModule:
    """Compile a `.graph`, `.yaml`/`.yml` or `.toml` spec file to Python source.

    Raises:
        DiagnosticError: the file cannot be read or the spec has errors.
    """
    source = read_source(path, max_bytes=limits.max_bytes)
    return compile_source(source, target=target, allowed_imports=allowed_imports, limits=limits)[0]
