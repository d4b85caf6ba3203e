"""Node policies (`retry`, `timeout`) and error branches, on both targets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import compiler
from compiler.pipeline import compile_source, compile_spec
from dsl.parse import parse_file
from dsl.printer import print_spec
from dsl.source import source_from_text

from .conftest import assert_mypy_strict, check_golden

HERE = Path(__file__).parent / "data" / "policies"
SPEC = HERE / "triage.graph"
GOLDEN = Path(__file__).parent / "golden" / "compile"
TARGETS = ("runtime", "pydantic_graph")


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(HERE))
    import flaky_model  # type: ignore[import-not-found]

    flaky_model.SCRIPT.clear()
    flaky_model.CALLS.clear()
    yield flaky_model


def _run(target: str, script: list[str]) -> tuple[Any, Any]:
    import flaky_model

    flaky_model.SCRIPT[:] = script
    module = compiler.load_module(SPEC, target=target)  # type: ignore[arg-type]
    return module, asyncio.run(module.graph.run(module.Classify(), state=module.TriageState()))


@pytest.mark.parametrize("target", TARGETS)
def test_generated_code_matches_golden(target: str, update_golden: bool) -> None:
    module = compile_spec(SPEC, target=target)  # type: ignore[arg-type]
    check_golden(GOLDEN / f"triage.{target}.expected.py", module.source, update_golden)


@pytest.mark.parametrize("target", TARGETS)
def test_a_retried_attempt_starts_from_the_state_before_it(model: Any, target: str) -> None:
    _, result = _run(target, ["busy", "busy"])
    assert result.output == "refunded: refund please"
    assert model.CALLS == ["busy", "busy", "ok"]
    assert result.state.attempts == 1  # the two failed attempts' `+= 1` were undone
    assert [step.node.get_id() for step in result.history[:-1]] == ["Classify", "Refund"]  # one step per node


def test_the_history_keeps_each_failed_attempt(model: Any) -> None:
    module, result = _run("runtime", ["busy", "busy"])
    classify, refund = result.history[:2]
    assert [(r.attempt, r.error) for r in classify.retries] == [(1, "ModelBusy"), (2, "ModelBusy")]
    assert refund.retries is None
    dumped = json.loads(module.graph.dump_history(result.history))
    assert [r["attempt"] for r in dumped[0]["retries"]] == [1, 2] and "retries" not in dumped[1]  # as pydantic_graph
    again = module.graph.load_history(module.graph.dump_history(result.history))
    assert again[0].retries == classify.retries
    _, calm = _run("runtime", [])
    assert calm.history[0].retries is None  # the node ran again without failing: no stale attempts


@pytest.mark.parametrize("target", TARGETS)
def test_retries_exhausted_the_error_propagates_with_its_spec_line(model: Any, target: str) -> None:
    with pytest.raises(model.ModelBusy) as caught:
        _run(target, ["busy", "busy", "busy"])
    assert model.CALLS == ["busy"] * 3
    assert caught.value.__notes__[0] == "in triage.graph, line 15"


@pytest.mark.parametrize("target", TARGETS)
def test_an_error_branch_routes_the_exception(model: Any, target: str) -> None:
    _, result = _run(target, ["busy", "error"])  # a retry, then an error that is not retried
    assert result.output == "escalated: model failed: the model is broken"
    assert result.state.attempts == 0  # what the failed attempts changed is undone before routing
    assert model.CALLS == ["busy", "error"]


@pytest.mark.parametrize("target", TARGETS)
def test_a_timeout_raises_timeout_error_which_a_branch_can_name(model: Any, target: str) -> None:
    _, result = _run(target, ["slow"])
    assert result.output == "escalated: model too slow"


def test_error_edges_are_drawn_labelled(model: Any) -> None:
    mermaid = compiler.load(SPEC).mermaid_code()
    assert "Classify --> Escalate: model down / on TimeoutError" in mermaid


@pytest.mark.parametrize("syntax", ["yaml", "toml"])
def test_every_syntax_carries_the_policies(syntax: str) -> None:
    _, spec = parse_file(SPEC)
    text = print_spec(spec, syntax)
    again = compile_source(source_from_text(str(HERE / f"triage.{syntax}"), text))[1].spec
    assert print_spec(again, "graph") == SPEC.read_text()


def test_the_generated_modules_pass_mypy_strict(tmp_path: Path) -> None:
    for target in TARGETS:
        (tmp_path / f"triage_{target}.py").write_text(compile_spec(SPEC, target=target).source)  # type: ignore[arg-type]
    assert_mypy_strict(tmp_path, (f"triage_{t}.py" for t in TARGETS), HERE)


def test_graphc_run_with_policies(model: Any, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "graphc", "run", str(SPEC)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == "refunded: refund please"
