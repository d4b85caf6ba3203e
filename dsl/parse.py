"""One entry point for all three syntaxes: `SourceFile` → `GraphSpec`."""

from __future__ import annotations

import gc
import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import ir
from .diagnostics import Diagnostic, DiagnosticError
from .limits import DEFAULT_LIMITS, Limits, limits_in_force
from .source import SourceFile, read_source

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

__all__ = ("own_the_process", "parse_file", "parse_source", "paused_gc")

_FRONT_ENDS = {
    "graph": "graph.syntax.parse_graph",
    "yaml": "data.yaml_syntax.parse_yaml",
    "toml": "data.toml_syntax.parse_toml",
}


def _front_end(syntax: str) -> Callable[[SourceFile], ir.GraphSpec]:
    """The parser for one syntax, imported when first needed (YAML's and TOML's libraries cost start-up)."""
    module, _, function = _FRONT_ENDS[syntax].rpartition(".")
    parse: Callable[[SourceFile], ir.GraphSpec] = getattr(importlib.import_module(f".{module}", __package__), function)
    return parse


def parse_source(
    source: SourceFile, *, limits: Limits = DEFAULT_LIMITS, cache: dict[str, Any] | None = None
) -> ir.GraphSpec:
    """Parse a spec in any syntax.

    Args:
        source: The spec's text.
        limits: Size and depth limits.
        cache: For an editor re-parsing one `.graph` file after each change: the parse trees of
            its top-level declarations are kept here, and only those that changed are parsed.

    Raises:
        DiagnosticError: the spec has syntax or shape errors, or exceeds `limits`.
    """
    with paused_gc(), limits_in_force(limits):
        spec = None
        if cache is not None and source.syntax == "graph":
            from .graph.syntax import parse_graph_cached

            spec = parse_graph_cached(source, cache)
        if spec is None:
            spec = _front_end(source.syntax)(source)
    if len(spec.nodes) > limits.max_nodes:
        first_extra = spec.nodes[limits.max_nodes]
        raise DiagnosticError(
            [
                Diagnostic.error(
                    "E017",
                    first_extra.name_span,
                    f"the graph has {len(spec.nodes):,} nodes; the limit is {limits.max_nodes:,}",
                    "split the graph, or raise the limit if the spec is trusted",
                )
            ]
        )
    return spec


_PROCESS_IS_OURS = False


def own_the_process() -> None:
    """Say that this process is graphc's (the CLI, the language server): `paused_gc` may then pause the collector.

    In a host application a library must not stop its collector or move its objects about, so
    without this call `paused_gc` does nothing (`python bench/parse_scaling.py` measures both).
    """
    global _PROCESS_IS_OURS
    _PROCESS_IS_OURS = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large tree, where the process is graphc's own.

    Parsing and checking allocate many objects that all stay alive until the end; the
    collector would rescan them again and again (superlinear time) and find no cycles.
    At the end they join the oldest generation unscanned (`freeze` then `unfreeze`): the
    first collection after the pause would otherwise walk every one of them, a tenth of a parse.
    Both touch the whole process, so they happen only after `own_the_process()`.
    """
    was_enabled = _PROCESS_IS_OURS and gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def parse_file(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> tuple[SourceFile, ir.GraphSpec]:
    """Read and parse a spec file; returns the source too, for rendering diagnostics.

    Raises:
        DiagnosticError: the file cannot be read, or the spec has syntax or shape errors.
    """
    source = read_source(path, max_bytes=limits.max_bytes)
    return source, parse_source(source, limits=limits)
