"""`graphc diagram`: mermaid, DOT, SVG and PNG from the checked spec, without importing its modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import compiler
from compiler.checks import check_spec
from compiler.diagram import diagram_of, dot_text, mermaid_text
from dsl.parse import parse_file

ROOT = Path(__file__).resolve().parent.parent
SPECS = [
    *sorted((ROOT / "examples").glob("*.graph")),
    ROOT / "tests" / "data" / "nested.graph",
    ROOT / "tests" / "data" / "policies" / "triage.graph",
    ROOT / "tests" / "data" / "gaps" / "gaps.graph",
]


def _graphc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "graphc", *args], capture_output=True, cwd=cwd, check=False)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_the_mermaid_text_is_what_the_compiled_graph_draws(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(spec.parent))
    module = compiler.load_module(spec)
    expected = module.graph.mermaid_code(start_node=getattr(module, "start", None))
    assert mermaid_text(diagram_of(check_spec(parse_file(spec)[1]))) == expected


def test_nothing_the_spec_imports_is_run(tmp_path: Path) -> None:
    (tmp_path / "loud.py").write_text(
        "open('ran', 'w').close()\n\nfrom runtime import BaseNode, End, GraphRunContext\n\n"
        "class Hand(BaseNode[None, None, int]):\n    '''Written by hand.'''\n\n    docstring_notes = True\n\n"
        "    async def run(self, ctx: GraphRunContext[None, None]) -> 'Spec | End[int]':\n        return End(1)\n"
    )
    (tmp_path / "flow.graph").write_text(
        "graph Flow -> int\nstart Spec\n\nfrom loud import Hand\n\nnode Spec(n: int = 0):\n"
        '    if n > 1 -> Hand() : "by hand"\n    -> End(n)\n'
    )
    done = _graphc("diagram", "flow.graph", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "ran").exists()
    text = done.stdout.decode()
    assert "Spec --> Hand: by hand" in text and "Hand --> Spec" in text and "Hand --> [*]" in text
    assert "note right of Hand\n    Written by hand.\n  end note" in text


def test_dot_marks_start_error_edges_and_unreachable_nodes(tmp_path: Path) -> None:
    spec = tmp_path / "odd.graph"
    spec.write_text(
        'graph Odd -> int\nstart A\n\nnode A:\n    on ValueError -> B() : "bad"\n    -> End(1)\n\n'
        "node B:\n    -> End(2)\n\nnode Lost:\n    -> End(3)\n"
    )
    dot = dot_text(diagram_of(check_spec(parse_file(spec)[1])), highlighted=["B"])
    assert '"A" [style="rounded", penwidth=2]' in dot
    assert '"A" -> "B" [label="bad", style=dashed, color=firebrick, fontcolor=firebrick];' in dot
    assert '"Lost" [style="rounded,dashed", color=gray60, fontcolor=gray50];' in dot
    assert '"B" [style="rounded,filled", fillcolor="#fdff32"];' in dot


def _needs_graphviz() -> None:
    if shutil.which("dot") is None:
        if os.environ.get("GRAPHC_REQUIRE_GRAPHVIZ"):
            pytest.fail("Graphviz's `dot` is required here (GRAPHC_REQUIRE_GRAPHVIZ is set) but not installed")
        pytest.skip("Graphviz's `dot` is not installed (Debian/Ubuntu: apt-get install graphviz)")


def test_svg_and_png_are_rendered_by_graphviz(tmp_path: Path) -> None:
    _needs_graphviz()
    svg = _graphc("diagram", "examples/support_desk.graph", "--format", "svg", "--direction", "LR")
    assert svg.returncode == 0, svg.stderr
    assert b"<svg" in svg.stdout and b"HumanReview" in svg.stdout
    out = tmp_path / "vending.png"
    png = _graphc("diagram", "examples/vending.graph", "--format", "png", "-o", str(out), "--highlight", "Purchase")
    assert png.returncode == 0, png.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


def test_usage_errors() -> None:
    assert _graphc("diagram", "examples/fives.graph", "--format", "png").returncode == 2  # binary needs -o
    bad = _graphc("diagram", "examples/fives.graph", "--highlight", "Incremnt")
    assert bad.returncode == 2 and b"did you mean `Increment`?" in bad.stderr


def test_a_hand_written_module_that_does_not_parse_is_drawn_going_anywhere(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("class Hand(:\n")
    (tmp_path / "flow.graph").write_text(
        "graph Flow -> int\nstart Spec\n\nfrom broken import Hand\n\nnode Spec:\n    -> Hand()\n"
    )
    done = _graphc("diagram", "flow.graph", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Hand --> Spec" in done.stdout.decode() and "Hand --> Hand" in done.stdout.decode()
