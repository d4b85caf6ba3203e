"""`graphc check --types`: mypy's findings on the generated module, mapped onto the spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="--types needs mypy: pip install 'graphc[types]'")

from compiler.typecheck import typecheck_file
from dsl.diagnostics import Diagnostic

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

TYPES = Path(__file__).parent / "data" / "types"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def mistakes() -> list[Diagnostic]:
    return typecheck_file(TYPES / "mistakes.graph")


@pytest.mark.parametrize(
    ("line", "caret", "words"),
    [
        (11, '"two"', ['Argument "attempt" to "Backoff"', 'incompatible type "str"', '"int"']),  # a node argument
        (14, '"many"', ["Incompatible types in assignment", 'variable has type "int"']),  # a state field
        (19, "doubled", ['to "End" has incompatible type "int"', 'expected "str"']),  # End vs the output type
        (24, 'status == "open:1"', ["Coroutine[Any, Any, str]"]),  # an async call without await
        (25, "classify(ticket, 2)", ['Too many arguments for "classify"']),  # an imported function's arguments
        (28, "ticket.subjct", ['"Ticket" has no attribute "subjct"', 'maybe "subject"']),  # an attribute
    ],
)
def test_each_mistake_is_reported_on_its_spec_line(
    mistakes: list[Diagnostic], line: int, caret: str, words: list[str]
) -> None:
    (found,) = [d for d in mistakes if d.span.line == line]
    text = (TYPES / "mistakes.graph").read_text().splitlines()[line - 1]
    assert text[found.span.column - 1 : found.span.end_column - 1] == caret
    assert found.code == "E230" and found.severity == "error"
    for word in words:
        assert word in found.message
    assert "ctx." not in found.message and "self." not in found.message


def test_only_the_mistakes_are_reported(mistakes: list[Diagnostic]) -> None:
    assert sorted(d.span.line for d in mistakes) == [11, 14, 19, 24, 25, 28]
    (coroutine,) = [d for d in mistakes if d.span.line == 24]
    assert coroutine.hint is not None and "await" in coroutine.hint


def test_the_command_line_gives_text_and_json(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "graphc", "check", "--types", str(TYPES / "mistakes.graph")]
    text = subprocess.run(command, capture_output=True, text=True, check=False)
    assert text.returncode == 1
    assert "mistakes.graph:28:12: error[E230]:" in text.stderr and "^~~~~~~~~~~~" in text.stderr
    as_json = subprocess.run([*command, "--format", "json"], capture_output=True, text=True, check=False)
    assert sorted(d["span"]["line"] for d in json.loads(as_json.stdout)) == [11, 14, 19, 24, 25, 28]


def test_the_examples_type_check_clean() -> None:
    for name in ("fives", "never_42", "vending", "support_desk"):
        assert typecheck_file(EXAMPLES / f"{name}.graph") == [], name


def test_two_specs_with_one_name_do_not_share_findings(tmp_path: Path) -> None:
    for folder, value in (("a", '"two"'), ("b", "2")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.graph").write_text(
            f"graph Same -> int\nstart A\n\nnode A:\n    -> B({value})\n\nnode B(n: int):\n    -> End(n)\n"
        )
    assert [d.span.line for d in typecheck_file(tmp_path / "a" / "same.graph")] == [5]
    assert typecheck_file(tmp_path / "b" / "same.graph") == []
    assert [d.span.line for d in typecheck_file(tmp_path / "a" / "same.graph")] == [5]
