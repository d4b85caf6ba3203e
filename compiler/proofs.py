"""The guard prover's verdicts, kept by the spec's text: an unchanged spec is not proved again.

`graphc check` runs the prover whenever z3 is installed, and importing z3 alone costs
about 60 ms, more than a whole check. A verdict depends only on the spec's text and on the
code that parses and proves it, so it is kept under the cache folder keyed by their
digest; an unchanged spec (every editor save of another file, every pre-commit run) is
answered from there without importing z3. Written whole or not at all; a damaged entry is
proved again.
"""

from __future__ import annotations

import hashlib
import json
import os

from dsl.cachedir import cache_folder
from dsl.diagnostics import Diagnostic, Suggestion
from dsl.ir import Span

from .checks import CheckedGraph

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

__all__ = ("prove_cached",)

_CODE = ("compiler/guards.py", "compiler/proofs.py", "dsl/expressions.py", "dsl/ir.py", "dsl/graph/lalr.py")
"""The code a verdict depends on, beside the spec (the parser's positions and the prover's logic)."""


def prove_cached(checked: CheckedGraph, text: str) -> list[Diagnostic]:
    """`compiler.guards.prove_guards(checked)`, from the cache when the same text was proved before.

    Raises:
        ImportError: z3 is not installed (and the verdict is not cached).
    """
    path = os.path.join(cache_folder(), "proofs", _key(checked.source_name, text) + ".json")
    try:
        with open(path, encoding="utf-8") as cached:
            return [_diagnostic(item) for item in json.load(cached)]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not proved yet, or a damaged entry: prove it
    from .guards import prove_guards

    found = prove_guards(checked)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as out:
            json.dump([d.to_json() for d in found], out)
        os.replace(partial, path)
    except OSError:  # a read-only cache folder: the verdict is simply not kept
        pass
    return found


def _key(name: str, text: str) -> str:
    digest = hashlib.sha256(f"{name}\0{text}\0".encode())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for relative in _CODE:  # the code's size and time stand for it: reading it would cost every check
        status = os.stat(os.path.join(root, relative))
        digest.update(f"{relative}:{status.st_size}:{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _diagnostic(data: Any) -> Diagnostic:
    """A diagnostic back from `Diagnostic.to_json`."""
    suggestions = tuple(Suggestion(replacement=s["replacement"], span=Span(**s["span"])) for s in data["suggestions"])
    return Diagnostic(
        code=data["code"],
        severity=data["severity"],
        span=Span(**data["span"]),
        message=data["message"],
        hint=data["hint"],
        suggestions=suggestions,
    )
