"""`use NAME from "PATH"`: finding, parsing and checking the specs a spec runs as sub-graphs.

A used spec is read from disk, relative to the spec that uses it, unless the caller hands the
texts over (`sources`, keyed by path relative to the first spec's folder). A worker always
hands them over — the texts submitted with the spec — so a spec it does not trust never
makes it read a file of its own: a path is only a key into what was submitted. Each used
spec is checked under the same allow-list as its user; a spec using itself, directly or
through others, is refused (E152).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping

from dsl import ir
from dsl.diagnostics import Diagnostic, DiagnosticError
from dsl.limits import DEFAULT_LIMITS, Limits
from dsl.source import read_source, source_from_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .checks import CheckedGraph

__all__ = ("MAX_DEPTH", "UsedSpecs", "check_uses", "source_key")

MAX_DEPTH = 32
"""How deep specs may use specs that use specs: deeper is refused (E152), not a stack overflow."""


class UsedSpecs:
    """Where a spec's used specs come from, and the chain of specs being checked (to refuse cycles)."""

    def __init__(
        self,
        root: str,
        *,
        sources: Mapping[str, str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        chain: tuple[str, ...] = (),
    ) -> None:
        self.root = os.path.dirname(root)
        """The first spec's folder: `sources` keys are relative to it."""
        self.sources = sources
        self.limits = limits
        self.chain = chain or (root,)
        self.checked: dict[str, tuple[CheckedGraph | None, list[Diagnostic]]] = {}
        """Each used spec checked so far, by file (shared down the chain): a spec used along many paths
        (`A` uses `B` and `C`, each uses `D`...) is checked once, not once a path — exponentially often."""

    def inside(self, file: str) -> UsedSpecs:
        """The same, for checking the used spec `file`."""
        inner = UsedSpecs("", sources=self.sources, limits=self.limits, chain=(*self.chain, file))
        inner.root, inner.checked = self.root, self.checked
        return inner

    def key(self, user_file: str, path: str) -> str:
        """The used spec's path relative to the first spec's folder, with `/` (the key of `sources`)."""
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(_posix(user_file)), _posix(path)))
        root = _posix(self.root)
        return posixpath.relpath(joined, root) if root and not posixpath.isabs(path) else joined


def _posix(path: str) -> str:
    return path.replace(os.sep, "/")


def source_key(path: str) -> str:
    """How a used spec's path is written as a key of `sources`."""
    return posixpath.normpath(_posix(path))


def check_uses(
    spec: ir.GraphSpec, used: UsedSpecs, allowed_imports: tuple[str, ...] | None
) -> tuple[dict[str, CheckedGraph], list[Diagnostic]]:
    """Check each spec `spec` uses; the checked graphs by their local names, and the problems found."""
    found: dict[str, CheckedGraph] = {}
    problems: list[Diagnostic] = []
    for use in spec.uses:
        file = _file_of(spec.span.file, use, used, problems)
        if file is None:
            continue
        name, text = file
        if len(used.chain) > MAX_DEPTH:
            problems.append(
                Diagnostic.error(
                    "E152", use.path_span, f"specs use specs more than {MAX_DEPTH} deep here", "flatten the nesting"
                )
            )
            continue
        if name in used.chain or os.path.abspath(name) in map(os.path.abspath, used.chain):
            loop = " → ".join(os.path.basename(f) for f in (*used.chain, name))
            problems.append(
                Diagnostic.error(
                    "E152", use.path_span, f"specs run each other as sub-graphs in a cycle: {loop}", "break the cycle"
                )
            )
            continue
        if name not in used.checked:
            used.checked[name] = _check(name, text, used, allowed_imports)
        callee, found_there = used.checked[name]
        if callee is None:
            errors = [d for d in found_there if d.severity == "error"]
            problems += [d for d in found_there if d not in problems]
            first = f"{errors[0].span}: {errors[0].message}" if errors else "see its diagnostics"
            problems.append(
                Diagnostic.error("E151", use.path_span, f"`{use.path}` has errors", f"the first is {first}")
            )
            continue
        problem = _runnable(callee)
        if problem is not None:
            problems.append(
                Diagnostic.error("E157", use.path_span, f"`{use.path}` cannot run as a sub-graph: {problem}")
            )
            continue
        found[use.name] = callee
    return found, problems


def _check(
    name: str, text: str, used: UsedSpecs, allowed_imports: tuple[str, ...] | None
) -> tuple[CheckedGraph | None, list[Diagnostic]]:
    """A used spec checked (None and its problems if it has errors)."""
    from dsl.parse import parse_source

    from .checks import check_spec

    try:
        source = source_from_text(name, text, max_bytes=used.limits.max_bytes)
        spec = parse_source(source, limits=used.limits)
        return check_spec(spec, allowed_imports=allowed_imports, uses=used.inside(name)), []
    except DiagnosticError as e:
        return None, list(e.diagnostics)


def _file_of(user_file: str, use: ir.UseSpec, used: UsedSpecs, problems: list[Diagnostic]) -> tuple[str, str] | None:
    """The used spec's file name and text: from `sources` when given (never the disk then), else from disk."""
    if not use.path:
        problems.append(Diagnostic.error("E150", use.path_span, "a used spec needs a path"))
        return None
    key = used.key(user_file, use.path)
    if used.sources is not None:
        text = used.sources.get(key)
        if text is None:
            given = ", ".join(f"`{k}`" for k in sorted(used.sources)) or "none"
            problems.append(
                Diagnostic.error(
                    "E150", use.path_span, f"`{use.path}` is not among the specs given with this one", f"given: {given}"
                )
            )
            return None
        return os.path.join(used.root, key) if used.root else key, text
    name = os.path.normpath(os.path.join(os.path.dirname(user_file), use.path))
    try:
        source = read_source(name, max_bytes=used.limits.max_bytes)
    except DiagnosticError as e:
        problems.append(Diagnostic.error("E150", use.path_span, f"cannot use `{use.path}`: {e.diagnostics[0].message}"))
        return None
    return name, source.text


def _runnable(callee: CheckedGraph) -> str | None:
    """Why a checked spec cannot run as a sub-graph (None when it can): it needs a start, no waits, no sleeps."""
    spec = callee.spec
    if spec.start is None:
        return "it declares no `start` node"
    waiting = [n.name for n in spec.nodes if n.waits]
    if waiting:
        return f"node `{waiting[0]}` waits for input from outside the graph"
    sleeping = [n.name for n in spec.nodes if n.sleep]
    if sleeping:
        return f"node `{sleeping[0]}` sleeps (a sub-graph's run cannot park; sleep in the graph that runs it)"
    if spec.start in callee.imports:
        return f"its start `{spec.start}` is an imported node"
    return None
