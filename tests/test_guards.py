"""The guard prover (compiler/guards.py) on a corpus of guard sets with known answers.

Each case is a node's signature, statements before its branches, its guards in order,
and the warnings expected as (code, index of the guard). Cases where an unknown (a
call, an imported object, float arithmetic, a value that may be None) must keep the
prover silent are as important as the ones it must catch.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("z3", reason="the prover needs z3: pip install 'graphc[prove]'")

from compiler.checks import check_spec
from compiler.guards import prove_guards
from dsl.diagnostics import Diagnostic
from dsl.parse import parse_file

HELPERS = """
LIMIT = 4


class Thing:
    size = 1


def check(value: object) -> bool:
    return bool(value)


def compute() -> int:
    return 3
"""

PRELUDE = """graph G -> int
start A

from guard_helpers import check, compute, Thing, LIMIT

state S:
    count: int = 0
    mode: Literal["fast", "slow"] = "fast"

deps D:
    threshold: int = 3
"""

X = "x: int"
CASES: list[tuple[str, str, list[str], list[tuple[str, int]]]] = [
    # (signature, statements, guards, expected)
    (X, "", ["x > 10", "x > 20"], [("W410", 1)]),
    (X, "", ["x > 20", "x > 10"], []),
    (X, "", ["x > 10", "x >= 10"], []),
    (X, "", ["x >= 10", "x > 9"], [("W410", 1)]),
    ("x: float", "", ["x >= 10", "x > 9"], []),
    (X, "", ["x == 1", "x == 1"], [("W413", 1)]),
    (X, "", ["x > 0", "x < 0", "x == 0"], [("W412", 2)]),
    (X, "", ["x > 0 and x < 0"], [("W411", 0)]),
    ("flag: bool", "", ["flag", "not flag"], [("W412", 1)]),
    ("", "", ['state.mode == "fast"', 'state.mode == "slow"'], [("W412", 1)]),
    ("", "", ['state.mode == "medium"'], [("W411", 0)]),
    ("", "", ['state.mode in ("fast", "slow")'], [("W412", 0)]),
    ("", "", ['state.mode in ("fast",)', 'state.mode == "fast"'], [("W410", 1)]),
    (X, "", ["check(x)", "check(x)"], []),  # a call may answer differently
    (X, "", ["check(x) and x > 10", "x > 10"], []),
    (X, "", ["x > 10 or check(x)", "x > 10"], [("W410", 1)]),  # short-circuit: the call is never made
    (X, "", ["check(x) or x > 10", "x > 10"], [("W410", 1)]),  # the call raises, or the branch is taken
    ("thing: Thing", "", ["thing.size > 3", "thing.size > 5"], []),  # attributes of objects are unknowns
    ("name: str", "", ["len(name) > 3", "len(name) > 5"], [("W410", 1)]),
    ("name: str | None", "", ["name is None", "name is not None"], [("W412", 1)]),
    ("name: str | None", "", ["name is not None and len(name) > 3", "len(name) > 3"], [("W410", 1)]),
    ("name: str | None", "", ["len(name) > 3"], []),  # may raise: no claim either way
    ("name: str", "", ['name == "a"', 'name == "b"', 'name == "a"'], [("W413", 2)]),
    (X, "", ["x % 2 == 0", "x % 2 == 1"], [("W412", 1)]),
    (X, "", ["x % 2 == 0", "x % 2 == 1", "x > 100"], [("W412", 1), ("W410", 2)]),
    (X, "", ["x // 3 > 2", "x > 8"], [("W410", 1)]),
    (X, "", ["x / 2 > 3", "x > 6"], []),  # true division is not modelled
    ("ratio: float", "", ["ratio > 1.0", "ratio <= 1.0"], []),  # NaN takes neither
    ("ratio: float", "", ["ratio > 1.0", "ratio <= 1.0", "ratio == ratio"], [("W410", 2)]),
    ("ratio: float", "", ["ratio * 2 > 1.0", "ratio > 0.5"], []),  # float arithmetic rounds: unknown
    (X, "y = x + 1", ["y > 5", "x > 4"], [("W410", 1)]),
    ("", "state.count = compute()", ["state.count > 3", "state.count > 5"], [("W410", 1)]),
    (X, "", ["check(x)", "state.count > 3", "state.count > 5"], [("W410", 2)]),
    (X, "", ["state.count > 5 and check(x)", "state.count > 5"], []),  # the call may change the state
    (X, "", ["x > deps.threshold", "x > deps.threshold + 1"], [("W410", 1)]),
    ("x: int | None", "", ["x is None", "x > 3", "x <= 3"], [("W412", 2)]),
    ("x: int | None", "", ["x > 3"], []),
    ("x: int | None", "", ["x is None or x > 3", "x > 5"], [("W410", 1)]),
    ("level: Literal[1, 2, 3]", "", ["level > 3"], [("W411", 0)]),
    ("level: Literal[1, 2, 3]", "", ["level >= 1"], [("W412", 0)]),
    ("subject: str, x: int", "", ['"urgent" in subject', '"urgent" in subject and x > 1'], [("W410", 1)]),
    ("subject: str", "", ['subject == ""', "len(subject) == 0"], [("W410", 1)]),
    ("subject: str", "", ["not subject", 'subject == ""'], [("W410", 1)]),
    ("x: int, flag: bool", "", ["x > 3 if flag else x < 3", "flag and x > 3"], [("W410", 1)]),
    (X, "", ["x in [1, 2, 3]", "x == 2"], [("W410", 1)]),
    (X, "", ["x not in [1, 2]", "x == 1"], []),
    (X, "", ["abs(x) < 3", "x == -2"], [("W410", 1)]),
    ("", "", ["LIMIT > 3", "LIMIT > 5"], []),  # an imported constant is an unknown
    ("flag: bool", "", ["flag == 1", "flag"], [("W410", 1)]),
    (X, "", ["x > 1", "x > 1 or check(x)"], []),
    ("subject: str", "", ["subject < 3"], [("W411", 0)]),  # always raises TypeError
    (X, "", ["0 < x < 10", "x == 5"], [("W410", 1)]),
    (X, "y = await compute()", ["y > 3", "y > 5"], []),  # awaited values are unknowns
    (X, "state.count += x", ["state.count > x", "state.count > x + 1"], [("W410", 1)]),
]


def _prove(tmp_path: Path, signature: str, statements: str, guards: list[str]) -> list[Diagnostic]:
    (tmp_path / "guard_helpers.py").write_text(HELPERS)
    body = "".join(f"    {line}\n" for line in statements.splitlines())
    body += "".join(f"    if {guard} -> End({i + 1})\n" for i, guard in enumerate(guards))
    fields = f"({signature})" if signature else ""
    spec = tmp_path / "guards.graph"
    spec.write_text(f"{PRELUDE}\nnode A{fields}:\n{body}    -> End(0)\n")
    return prove_guards(check_spec(parse_file(spec)[1]))


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert sum(1 for *_, expected in CASES if not expected) >= 12  # cases where silence is the answer


@pytest.mark.parametrize(
    ("signature", "statements", "guards", "expected"), CASES, ids=[" | ".join(c[2]) for c in CASES]
)
def test_guard_corpus(
    tmp_path: Path, signature: str, statements: str, guards: list[str], expected: list[tuple[str, int]]
) -> None:
    found = _prove(tmp_path, signature, statements, guards)
    first_guard_line = PRELUDE.count("\n") + 3 + len(statements.splitlines())
    assert [(d.code, d.span.line - first_guard_line) for d in found] == expected, [d.message for d in found]


def test_a_shadowed_branch_comes_with_a_witness(tmp_path: Path) -> None:
    (warning,) = _prove(tmp_path, "x: int, name: str", "", ['x > 10 and name == "a"', 'x > 20 and name == "a"'])
    match = re.search(r"e\.g\. name = 'a', x = (\d+)$", warning.message)
    assert match is not None and int(match.group(1)) > 20, warning.message
    assert "the branch on line" in warning.message and '(`x > 10 and name == "a"`)' in warning.message


def test_check_reports_the_proofs_and_can_skip_them(tmp_path: Path) -> None:
    _prove(tmp_path, X, "", ["x > 10", "x > 20"])
    spec = str(tmp_path / "guards.graph")
    run = lambda *flags: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "graphc", "check", spec, *flags], capture_output=True, text=True, check=False
    )
    assert "warning[W410]" in run().stderr
    assert "W410" not in run("--no-prove").stderr


def test_every_example_is_free_of_guard_warnings() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    for spec in sorted(examples.glob("*.graph")):
        assert prove_guards(check_spec(parse_file(spec)[1])) == [], spec.name
