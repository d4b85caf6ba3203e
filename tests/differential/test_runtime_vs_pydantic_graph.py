"""The same hand-written graphs on `runtime` and on pydantic_graph 0.0.39 must be indistinguishable."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import LIBS, describe_error, load_variant, observe

GRAPH_MODULES = ("never_42", "fives", "vending", "corners", "local_nodes")


def scenario_cases() -> list[tuple[str, str]]:
    return [(name, scenario) for name in GRAPH_MODULES for scenario in load_variant(name, "runtime").SCENARIOS]


@pytest.mark.parametrize(("module_name", "scenario"), scenario_cases())
def test_runs_are_identical(module_name: str, scenario: str) -> None:
    ours, theirs = (observe(load_variant(module_name, lib), scenario) for lib in LIBS)
    assert ours == theirs


@pytest.mark.parametrize("module_name", GRAPH_MODULES)
def test_mermaid_is_identical(module_name: str) -> None:
    ours, theirs = (load_variant(module_name, lib) for lib in LIBS)
    for options in ours.MERMAID:
        assert ours.graph.mermaid_code(**options) == theirs.graph.mermaid_code(**options)


@pytest.mark.parametrize("build", sorted(load_variant("setup_errors", "runtime").BUILDS))
def test_setup_errors_are_identical(build: str) -> None:
    errors: list[dict[str, Any]] = []
    for lib in LIBS:
        with pytest.raises(Exception) as caught:
            load_variant("setup_errors", lib).BUILDS[build]()
        errors.append(describe_error(caught.value))
    assert errors[0] == errors[1]
    assert errors[0]["type"] == "GraphSetupError"


def test_vending_machine_tells_the_documented_story() -> None:
    observed = observe(load_variant("vending", "runtime"), "crisps")
    assert observed["output"] == "None"
    assert observed["state"] == "MachineState(user_balance=0.25, product='crisps')"


def test_scenarios_cover_errors() -> None:
    """The corner graph really exercises error paths on both runtimes (guards the harness itself)."""
    corners = load_variant("corners", "runtime")
    assert observe(corners, "explode")["run_error"] == {"type": "ValueError", "message": "exploded: boom"}
    assert observe(corners, "bad_return")["run_error"]["type"] == "GraphRuntimeError"
    assert "not in the graph" in observe(corners, "stranger")["run_error"]["message"]
