"""Every example compiles (in all three syntaxes, for every target), type-checks, and runs identically."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import compiler
from compiler.pipeline import compile_spec

from .conftest import EXAMPLES, assert_mypy_strict, check_golden

GOLDEN = Path(__file__).parent / "golden" / "compile"
SPECS = sorted(p.stem for p in EXAMPLES.glob("*.graph"))
TARGETS = ("runtime", "pydantic_graph", "pydantic_graph2")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", SPECS)
def test_generated_code_matches_golden(name: str, target: str, update_golden: bool) -> None:
    module = compile_spec(EXAMPLES / f"{name}.graph", target=target)  # type: ignore[arg-type]
    check_golden(GOLDEN / f"{name}.{target}.expected.py", module.source, update_golden)


def _without_locations(source: str) -> str:
    """Generated code minus what names the source file: its header and `# file:LINE` comments."""
    source = re.sub(r"  # [\w.-]+\.(graph|yaml|toml):\d+$", "", source, flags=re.MULTILINE)
    return re.sub(r"[\w.-]+\.(graph|yaml|toml)", "SPEC", source)


@pytest.mark.parametrize("name", SPECS)
def test_all_three_syntaxes_compile_to_the_same_code(name: str) -> None:
    sources = {syntax: compile_spec(EXAMPLES / f"{name}.{syntax}").source for syntax in ("graph", "yaml", "toml")}
    assert _without_locations(sources["yaml"]) == _without_locations(sources["graph"])
    assert _without_locations(sources["toml"]) == _without_locations(sources["graph"])
    # each form's location comments point at its own file
    assert f"# {name}.yaml:" in sources["yaml"] and f"# {name}.toml:" in sources["toml"]


def test_compilation_is_deterministic() -> None:
    first = [compile_spec(EXAMPLES / f"{name}.graph").source for name in SPECS]
    second = [compile_spec(EXAMPLES / f"{name}.graph").source for name in SPECS]
    assert first == second


def test_generated_code_passes_mypy_strict(tmp_path: Path) -> None:
    files = []
    for name in SPECS:
        out = tmp_path / f"{name}_graph.py"
        out.write_text(compile_spec(EXAMPLES / f"{name}.graph").source)
        files.append(out.name)
        if name != "support_desk":  # its hand-written node is typed against `runtime`
            out = tmp_path / f"{name}_pg_graph.py"
            out.write_text(compile_spec(EXAMPLES / f"{name}.graph", target="pydantic_graph").source)
            files.append(out.name)
    for support in EXAMPLES.glob("*.py"):
        (tmp_path / support.name).write_text(support.read_text())
    assert_mypy_strict(tmp_path, files)


# ---- differential: the same spec compiled for both targets runs identically -----------------------

SCENARIOS: dict[str, list[tuple[str, dict[str, Any], dict[str, Any] | None, list[str] | None]]] = {
    # (start node, its fields, initial state fields or None, scripted input)
    "fives": [("DivisibleBy5", {"foo": 4}, None, None), ("DivisibleBy5", {"foo": 10}, None, None)],
    "never_42": [("Increment", {}, {"number": 1}, None), ("Increment", {}, {"number": 41}, None)],
    "vending": [
        ("InsertCoin", {}, {}, ["2.00", "crisps"]),
        ("InsertCoin", {}, {}, ["1", "chocolate", "0.5", "0.5"]),
        ("InsertCoin", {}, {}, ["3", "caviar", "water"]),
    ],
    "support_desk": [
        ("Receive", {}, {}, None),
        ("Receive", {"subject": "Invoice wrong", "body": "please refund me"}, {}, None),
        ("Receive", {"subject": "You are a winner", "body": "claim your prize"}, {}, None),
        ("Receive", {"subject": "App crash", "body": "error on start"}, {}, None),
        ("Receive", {"subject": "Question", "body": "where is the contact page"}, {}, None),
    ],
}


def _run_example(name: str, target: str, scenario: int) -> dict[str, Any]:
    if target == "pydantic_graph":
        os.environ["GRAPHC_EXAMPLE_TARGET"] = "pydantic_graph"
    sys.modules.pop("support_desk_nodes", None)
    try:
        module = compiler.load_module(EXAMPLES / f"{name}.graph", target=target)  # type: ignore[arg-type]
    finally:
        os.environ["GRAPHC_EXAMPLE_TARGET"] = "runtime"
        sys.modules.pop("support_desk_nodes", None)
    start_name, fields, state_fields, script = SCENARIOS[name][scenario]
    start = getattr(module, start_name)(**fields)
    state_class = next((getattr(module, n) for n in module.__all__ if n.endswith("State")), None)
    deps_class = next((getattr(module, n) for n in module.__all__ if n.endswith("Deps")), None)
    state = state_class(**state_fields) if state_class is not None and state_fields is not None else None
    deps = deps_class() if deps_class is not None else None
    if script is not None:
        import vending_support

        vending_support.SCRIPT = list(script)
    try:
        result = asyncio.run(module.graph.run(start, state=state, deps=deps))
    finally:
        if script is not None:
            vending_support.SCRIPT = None
    history = json.loads(module.graph.dump_history(result.history))
    for step in history:
        for key in ("start_ts", "duration", "ts"):
            step.pop(key, None)
    return {
        "output": result.output,
        "state": repr(result.state),
        "history": history,
        "mermaid": module.graph.mermaid_code(start_node=getattr(module, "start", None)),
    }


@pytest.mark.parametrize(("name", "scenario"), [(n, i) for n, runs in SCENARIOS.items() for i in range(len(runs))])
def test_runtime_and_pydantic_graph_targets_agree(name: str, scenario: int) -> None:
    ours = _run_example(name, "runtime", scenario)
    theirs = _run_example(name, "pydantic_graph", scenario)
    assert ours == theirs


def test_vending_machine_story() -> None:
    """Buying crisps (1.75) with 2.00 leaves 0.25, as in pydantic_graph's documentation."""
    observed = _run_example("vending", "runtime", 0)
    assert observed["state"] == "MachineState(user_balance=0.25, product='crisps')"
    assert observed["output"] is None


def test_support_desk_routes_to_the_hand_written_node() -> None:
    observed = _run_example("support_desk", "runtime", 1)
    assert observed["output"] == "#1 handed to tier-1: billing questions go to a human"
    assert observed["history"][-2]["node"]["node_id"] == "HumanReview"
    assert "HumanReview --> [*]: handed over" in observed["mermaid"]
