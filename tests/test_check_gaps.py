"""What `check` passed and the module then failed on (issue: checks that mean something, section 1).

Each case compiles, type-checks and runs in every syntax and for both targets.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

import compiler
from compiler.pipeline import compile_source, compile_spec
from dsl.parse import parse_file
from dsl.printer import print_spec
from dsl.source import source_from_text

from .conftest import assert_mypy_strict, check_golden

GAPS = Path(__file__).parent / "data" / "gaps"
GOLDEN = Path(__file__).parent / "golden" / "compile"


@pytest.fixture(autouse=True)
def _gaps_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(GAPS))


@pytest.mark.parametrize("target", ["runtime", "pydantic_graph"])
def test_generated_code_matches_golden(target: str, update_golden: bool) -> None:
    module = compile_spec(GAPS / "gaps.graph", target=target)  # type: ignore[arg-type]
    check_golden(GOLDEN / f"gaps.{target}.expected.py", module.source, update_golden)


def test_every_run_gets_its_own_defaults() -> None:
    module = compiler.load_module(GAPS / "gaps.graph")
    outputs = [module.graph.run_sync(module.Tally("abcdefgh"), state=module.GapsState()) for _ in range(2)]
    # a shared Counter() or set() default would count 1 then 2
    assert [r.output for r in outputs] == ["abc…gh after 1 hit(s), seen ['abc']"] * 2
    assert module.Tally("x").tags is not module.Tally("y").tags
    assert module.GapsState().extra == {"k": [1, 2]} and module.GapsState().extra is not module.GapsState().extra


def test_two_labels_on_one_edge_are_both_drawn() -> None:
    graph = compiler.load(GAPS / "gaps.graph")
    assert "Tally --> Report: big / small" in graph.mermaid_code()


@pytest.mark.parametrize("syntax", ["yaml", "toml"])
def test_yaml_and_toml_forms_compile_to_the_same_module(syntax: str) -> None:
    _, spec = parse_file(GAPS / "gaps.graph")
    text = print_spec(spec, syntax)
    twin, _ = compile_source(source_from_text(f"gaps.{syntax}", text))
    strip = lambda s: "\n".join(line.split("  # ")[0] for line in s.splitlines()[1:])  # noqa: E731
    assert strip(twin.source).replace(f"gaps.{syntax}", "gaps.graph") == strip(compile_spec(GAPS / "gaps.graph").source)


def test_the_generated_modules_pass_mypy_strict(tmp_path: Path) -> None:
    for target in ("runtime", "pydantic_graph"):
        (tmp_path / f"gaps_{target}.py").write_text(compile_spec(GAPS / "gaps.graph", target=target).source)  # type: ignore[arg-type]
    assert_mypy_strict(tmp_path, ["gaps_runtime.py", "gaps_pydantic_graph.py"], GAPS)


def test_pydantic_graph_target_runs_and_notes_spec_lines(tmp_path: Path) -> None:
    (tmp_path / "gaps_pg.py").write_text(compile_spec(GAPS / "gaps.graph", target="pydantic_graph").source)
    sys.path.insert(0, str(tmp_path))
    try:
        import gaps_pg  # type: ignore[import-not-found]

        result = asyncio.run(gaps_pg.graph.run(gaps_pg.Tally("abcdefgh"), state=gaps_pg.GapsState()))
        assert result.output == "abc…gh after 1 hit(s), seen ['abc']"
        broken = gaps_pg.GapsState()
        broken.seen = None  # type: ignore[assignment]
        with pytest.raises(AttributeError) as caught:
            asyncio.run(gaps_pg.graph.run(gaps_pg.Tally("abc"), state=broken))
        assert caught.value.__notes__ == ["in gaps.graph, line 15"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gaps_pg", None)
