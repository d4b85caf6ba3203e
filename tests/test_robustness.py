"""No input crashes graphc: any text gives a spec or diagnostics, never another exception."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.checks import check_spec
from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_source
from dsl.source import source_from_text

from .conftest import EXAMPLES
from .fuzzing import SEEDS, compile_or_diagnose, mutate


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SEEDS)), st.randoms(use_true_random=False))
def test_mutated_examples_never_crash(name: str, rng: random.Random) -> None:
    compile_or_diagnose(name, mutate(SEEDS[name], rng))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["x.graph", "x.yaml", "x.toml"]), st.text())
def test_arbitrary_text_never_crashes(name: str, text: str) -> None:
    compile_or_diagnose(name, text)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["x.graph", "x.yaml", "x.toml"]), st.binary())
def test_arbitrary_bytes_never_crash(name: str, data: bytes) -> None:
    compile_or_diagnose(name, data)


def test_hostile_inputs() -> None:
    cases = {
        "empty.graph": b"",
        "bom.graph": b"\xef\xbb\xbfgraph G\nnode A:\n    -> End(None)\n",
        "crlf.graph": b"graph G\r\nnode A:\r\n    -> End(None)\r\n",
        "tabs.graph": b"graph G\nnode A:\n\tx = 1\n        -> End(None)\n",
        "deep.graph": b"graph G\nnode A:\n    x = " + b"[" * 5000 + b"]" * 5000 + b"\n    -> End(None)\n",
        "deep_ops.graph": b"graph G\nnode A:\n    x = 1" + b" + 1" * 20000 + b"\n    -> End(None)\n",
        "deep.yaml": b"graph: G\nnodes: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "deep.toml": b"graph = 'G'\nnodes = " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "aliases.yaml": b"a: &a [x, x, x, x, x, x, x, x, x]\n"
        + b"".join(
            b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((ord("b") + i,) * 2 + (ord("a") + i,) * 9)
            for i in range(8)
        ),
        "big.graph": b"graph G\n" + b"# padding\n" * 200_000,
        "huge.graph": b"x" * (11 * 1024 * 1024),
    }
    for name, data in cases.items():
        compile_or_diagnose(name, data)


def test_regressions_found_by_fuzzing() -> None:
    """Inputs bench/fuzz.py once crashed on; each must now be refused with diagnostics."""
    for path in sorted((Path(__file__).parent / "data").glob("fuzz_crash_*")):
        assert compile_or_diagnose(path.name, path.read_bytes()), path.name


def test_large_file_is_refused_with_a_diagnostic() -> None:
    try:
        source_from_text("huge.graph", b"#" * (11 * 1024 * 1024))
    except DiagnosticError as e:
        assert "too large" in e.diagnostics[0].message
    else:  # pragma: no cover
        raise AssertionError("expected a diagnostic")


def test_examples_themselves_compile() -> None:
    for name, data in SEEDS.items():
        checked = check_spec(parse_source(source_from_text(name, data)), search_path=[str(EXAMPLES)])
        assert not [d for d in checked.diagnostics if d.severity == "error"]
