"""A spec that `check` accepts loads and runs, on every target (a property test over generated specs)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings

from compiler import load_module
from compiler.checks import check_spec
from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_file
from runtime import End, GraphRuntimeError

from .strategies import checkable_specs

MAX_STEPS = 40


def _run_on_runtime(module: Any) -> None:
    try:
        module.graph.run_sync(module.N0(), max_steps=MAX_STEPS)
    except GraphRuntimeError as e:  # the step limit, or a wait nobody answers: a run may stop so
        assert "max_steps" in str(e) or "waits for" in str(e), e


def _run_on_pydantic_graph(module: Any) -> None:
    async def drive() -> None:
        state = module.GState() if hasattr(module, "GState") else None
        async with module.graph.iter(module.N0(), state=state) as run:
            steps = 0
            async for node in run:
                steps += 1
                if isinstance(node, End) or steps >= MAX_STEPS or getattr(node, "waits_for", None):
                    return

    asyncio.run(drive())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=checkable_specs())
def test_a_spec_that_checks_loads_and_runs_on_every_target(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "generated.graph"
    spec.write_text(text, encoding="utf-8")
    try:
        check_spec(parse_file(spec)[1])
    except DiagnosticError:  # the generator aims at specs that check; the property is about those that do
        assume(False)
    _run_on_runtime(load_module(spec, use_disk_cache=False))
    _run_on_pydantic_graph(load_module(spec, target="pydantic_graph", use_disk_cache=False))
