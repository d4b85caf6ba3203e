"""Branches nested in `if` blocks, and statements standing between branches."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import compiler
from compiler.pipeline import compile_source, compile_spec
from dsl.parse import parse_file
from dsl.printer import print_spec
from dsl.source import source_from_text

from .conftest import check_golden

SPEC = Path(__file__).parent / "data" / "nested.graph"
GOLDEN = Path(__file__).parent / "golden" / "compile"


@pytest.mark.parametrize("target", ["runtime", "pydantic_graph"])
def test_generated_code_matches_golden(target: str, update_golden: bool) -> None:
    module = compile_spec(SPEC, target=target)  # type: ignore[arg-type]
    check_golden(GOLDEN / f"nested.{target}.expected.py", module.source, update_golden)


@pytest.mark.parametrize("target", ["runtime", "pydantic_graph"])
@pytest.mark.parametrize(
    ("n", "urgent", "output", "seen"),
    [
        (20, True, "big and urgent", 1),  # the nested one-line branch
        (60, False, "huge: 120", 1),  # a branch after a statement inside the block
        (20, False, "big", 1),  # the block's own last branch
        (-3, False, "small 3", 12),  # routed to Fix, then back: statements between branches ran
        (3, True, "small 3!", 1),  # after the statement between branches, before the one that follows
        (3, False, "small 3", 11),
    ],
)
def test_every_path_runs(target: str, n: int, urgent: bool, output: str, seen: int) -> None:
    module = compiler.load_module(SPEC, target=target)  # type: ignore[arg-type]
    result = asyncio.run(module.graph.run(module.Route(n, urgent), state=module.NestedState()))
    assert (result.output, result.state.seen) == (output, seen)


@pytest.mark.parametrize("syntax", ["yaml", "toml"])
def test_the_yaml_and_toml_forms_mean_the_same(syntax: str) -> None:
    _, spec = parse_file(SPEC)
    text = print_spec(spec, syntax)
    twin, _ = compile_source(source_from_text(f"nested.{syntax}", text))
    strip = lambda s: "\n".join(line.split("  # ")[0] for line in s.splitlines()[1:])  # noqa: E731
    assert strip(twin.source).replace(f"nested.{syntax}", "nested.graph") == strip(compile_spec(SPEC).source)
    assert print_spec(parse_file(SPEC)[1], "graph") == SPEC.read_text()  # the spec is in canonical form


def test_an_else_block_holding_branches_is_the_same_as_writing_them_flat(tmp_path: Path) -> None:
    nested = tmp_path / "a.graph"
    nested.write_text(
        "graph G -> int\nstart A\n\nnode A(n: int = 0):\n    if n > 1 -> End(1)\n    else:\n"
        "        x = n + 1\n        if x > 1 -> End(2)\n        -> End(3)\n"
    )
    flat = tmp_path / "b.graph"
    flat.write_text(
        "graph G -> int\nstart A\n\nnode A(n: int = 0):\n    if n > 1 -> End(1)\n    x = n + 1\n"
        "    if x > 1 -> End(2)\n    -> End(3)\n"
    )
    assert print_spec(parse_file(nested)[1], "graph") == flat.read_text()


def test_every_edge_is_drawn() -> None:
    mermaid = compiler.load(SPEC).mermaid_code()
    assert "Route --> [*]: urgent" in mermaid and "Route --> Fix: negative" in mermaid
