"""The editor's parse (`parse_source(..., cache=)`, only changed declarations re-parsed) equals the full parse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_source
from dsl.source import read_source, source_from_text

from .conftest import EXAMPLES, ROOT


def _readable(path: Path) -> bool:
    """Whether the reader accepts the file (two golden cases are about files it refuses)."""
    try:
        read_source(path)
    except DiagnosticError:
        return False
    return True


SPECS = sorted(
    p
    for p in [
        *EXAMPLES.glob("*.graph"),
        *(ROOT / "tests" / "data").rglob("*.graph"),
        *(ROOT / "tests" / "golden" / "diagnostics").glob("*.graph"),
    ]
    if _readable(p)
)


def outcome(text: str, name: str, cache: dict[str, Any] | None) -> Any:
    try:
        return parse_source(source_from_text(name, text, "graph"), cache=cache).model_dump()
    except DiagnosticError as e:
        return [d.to_json() for d in e.diagnostics]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_the_cached_parse_gives_the_full_parse_after_each_edit(path: Path) -> None:
    text = read_source(path).text
    cache: dict[str, Any] = {}
    edits = [
        text,
        text + "\nnode Tabbed:\n\t-> End(None)\n",  # tabs in one declaration, spaces in the others
        "# a comment first\n" + text,  # every declaration moves down a line
        text.replace("\nnode ", "\n\nnode ", 1),  # one declaration moves
        text + "\nnode Added:\n    -> End(None)\n",  # one more
        text.replace("-> End(", "->  End(", 1),  # one declaration changes
        text,
    ]
    for edited in edits:
        assert outcome(edited, path.name, cache) == outcome(edited, path.name, None)


@pytest.mark.parametrize("path", [p for p in SPECS if p.parent == EXAMPLES], ids=lambda p: p.name)
def test_the_cache_is_used(path: Path) -> None:
    """An edit to one declaration rebuilds that one: the others are the very nodes of the last parse."""
    text = read_source(path).text
    cache: dict[str, Any] = {}
    before = parse_source(source_from_text(path.name, text, "graph"), cache=cache)
    edited = text.replace("-> End(", "->  End(", 1)
    after = parse_source(source_from_text(path.name, edited, "graph"), cache=cache)
    kept = [a is b for a, b in zip(before.nodes, after.nodes, strict=True)]
    assert kept.count(False) == 1 and len(kept) > 1, kept


@pytest.mark.parametrize("path", sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".graph", ".yaml", ".toml")))
def test_fragment_trees_reused_from_the_cache_give_the_same_spec(path: Path) -> None:
    from dsl.graph import syntax as graph_syntax
    from dsl.parse import parse_file

    graph_syntax.forget_fragments()
    cold = parse_file(path)[1].model_dump()
    assert graph_syntax._fragments or path.suffix == ".graph"  # a YAML/TOML spec's strings are all fragments
    assert parse_file(path)[1].model_dump() == cold == parse_file(path)[1].model_dump()


def test_an_edit_beside_a_reported_problem_gives_the_full_parse_report() -> None:
    """Nodes with problems are built anew each time: an over-deep expression is reported once per file."""
    from dsl.limits import Limits

    deep = "(" * 8 + "1" + ")" * 8
    text = f"graph G\nstart A\n\nnode A:\n    x = {deep}\n    -> B()\n\nnode B:\n    y = {deep}\n    -> End(y)\n"
    limits = Limits(max_depth=4)
    cache: dict[str, Any] = {}

    def report(edited: str, kept: dict[str, Any] | None) -> Any:
        try:
            parse_source(source_from_text("deep.graph", edited), limits=limits, cache=kept)
        except DiagnosticError as e:
            return [d.to_json() for d in e.diagnostics]
        return []

    assert len(report(text, cache)) == 1
    edited = text.replace("-> End(y)", "-> End(y + 1)")  # node B changes in place; node A does not move
    assert report(edited, cache) == report(edited, None)
