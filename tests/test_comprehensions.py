"""List, set and dict comprehensions and generator expressions: parsed, checked, re-emitted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import compiler
from compiler.checks import check_spec
from compiler.pipeline import compile_source, compile_spec
from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_file, parse_source
from dsl.printer import print_spec
from dsl.source import source_from_text

SPEC = Path(__file__).parent / "data" / "comprehensions.graph"


@pytest.mark.parametrize("target", ["runtime", "pydantic_graph"])
def test_they_run_with_their_own_scope(target: str) -> None:
    module = compiler.load_module(SPEC, target=target)  # type: ignore[arg-type]
    result = asyncio.run(module.graph.run(module.A(), state=module.S()))
    # 6 letters, 3 (word, x) pairs with x > 0, 3 distinct lengths, the field x (100) — not a
    # comprehension's x — and the state default [0, 1, 4, 9] built by a comprehension
    assert result.output == 6 + 3 + 3 + 100 + 14
    source = compile_spec(SPEC).source
    assert "[(w, x) for w in self.words for x in range(len(w)) if x > 0]" in source
    assert "self.x + sum(ctx.state.items)" in source


@pytest.mark.parametrize("syntax", ["graph", "yaml", "toml"])
def test_every_syntax_prints_and_reads_them_back(syntax: str) -> None:
    _, spec = parse_file(SPEC)
    text = print_spec(spec, syntax)
    again = parse_source(source_from_text(f"c.{syntax}", text))
    assert print_spec(again, "graph") == SPEC.read_text()
    compile_source(source_from_text(f"c.{syntax}", text))


def _codes(body: str) -> list[str]:
    text = f"graph G -> int\nstart A\n\nnode A(xs: list[int] = []):\n{body}    -> End(1)\n"
    try:
        return [d.code for d in check_spec(parse_source(source_from_text("g.graph", text))).diagnostics]
    except DiagnosticError as e:
        return [d.code for d in e.diagnostics]


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ("    ys = [y for y in xs]\n", []),
        ("    ys = [y for y in xs]\n    print(y)\n", ["E102"]),  # its variable does not leak
        ("    ys = [x for x in xs if y > 0]\n", ["E102"]),
        ("    ys = [self for self in xs]\n", ["E107"]),  # generated code's own names stay reserved
        ("    ys = [_y for _y in xs]\n", ["E012", "E012"]),
        ("    ys = [x for x in [y for y in xs]]\n", []),
        ("    ys = {k: v for k, v in zip(xs, xs)}\n", []),
        ("    total = sum(x * 2 for x in xs)\n", []),
        ("    total = sum((x for x in xs), 1)\n", []),
        ('    print(f"{[x for x in xs]}")\n', []),
    ],
)
def test_their_names_are_scoped(body: str, codes: list[str]) -> None:
    assert _codes(body) == codes
