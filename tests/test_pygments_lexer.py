"""The Pygments lexer, as `pygmentize -l graph` finds it through the entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments", reason="the lexer is for Pygments users")

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Error, Keyword, Name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = [
    *sorted((ROOT / "examples").rglob("*.graph")),
    *sorted((ROOT / "tests" / "golden" / "diagnostics").glob("check_*.graph")),
    *sorted((ROOT / "tests" / "data").rglob("*.graph")),
]


def test_pygments_finds_it_by_name_and_by_file_name() -> None:
    assert get_lexer_by_name("graph").name == "graphc"
    assert get_lexer_for_filename("flow.graph").name == "graphc"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_no_error_tokens_in_a_spec_that_parses(spec: Path) -> None:
    tokens = list(get_lexer_by_name("graph").get_tokens(spec.read_text(encoding="utf-8")))
    assert [value for kind, value in tokens if kind is Error] == []


def test_what_it_marks() -> None:
    tokens = list(get_lexer_by_name("graph").get_tokens('node A(x: int) retry 2:\n    -> B(x) : "go"\n    $\n'))
    assert (Keyword.Declaration, "node") in tokens and (Name.Class, "A") in tokens and (Name.Class, "B") in tokens
    assert (Keyword, "retry") in tokens
    assert (Error, "$") in tokens  # a character the language has no use for
    timed = list(get_lexer_by_name("graph").get_tokens("node A waits (x: int) within 1h30m -> B():\n"))
    assert (Keyword, "within") in timed and (pygments.token.Number, "1h30m") in timed


def test_pygmentize_on_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "graph", "-f", "html", str(ROOT / "examples" / "vending.graph")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '<span class="kd">node</span>' in done.stdout and "err" not in done.stdout
