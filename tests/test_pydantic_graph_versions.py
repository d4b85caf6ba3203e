"""`--target pydantic_graph` on pydantic-graph 0.0.39 and the last 1.x, `--target pydantic_graph2` on 2.x.

Each release runs in a virtual environment of its own, made by the test the first time and
kept under `$GRAPHC_TEST_VENVS` (default `~/.cache/graphc-test-venvs`). Where one cannot be
made (no network, say) the test skips saying so — unless `GRAPHC_REQUIRE_PYDANTIC_GRAPH=1`
(set by `.ci/run`), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import compiler
from compiler.pipeline import compile_spec

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
EXAMPLES = ROOT / "examples"
RELEASES = [("0.0.39", "pydantic_graph"), ("1.107.10", "pydantic_graph"), ("2.68.0", "pydantic_graph2")]

# spec, helper folder, start node and its fields, state fields, a script for the flaky model
SCENARIOS: list[tuple[Path, Path | None, str, dict[str, Any], dict[str, Any] | None, list[str]]] = [
    (ROOT / "examples" / "fives.graph", None, "DivisibleBy5", {"foo": 7}, None, []),
    (ROOT / "examples" / "never_42.graph", None, "Increment", {}, {"number": 41}, []),
    (DATA / "nested.graph", None, "Route", {"n": -3}, {}, []),
    (DATA / "policies" / "triage.graph", DATA / "policies", "Classify", {}, {}, ["busy", "busy"]),
    (DATA / "policies" / "triage.graph", DATA / "policies", "Classify", {}, {}, ["error"]),
]

DRIVER = textwrap.dedent(
    """
    import asyncio, importlib, json, sys
    name, start_name, fields, state_fields, script, builder = json.loads(sys.argv[1])
    if script is not None:
        import flaky_model
        flaky_model.SCRIPT[:] = script
    module = importlib.import_module(name)
    start = getattr(module, start_name)(**fields)
    state_class = next((getattr(module, n) for n in module.__all__ if n.endswith("State")), None)
    state = state_class(**state_fields) if state_fields is not None else None
    if builder:
        output = asyncio.run(module.graph.run(inputs=start, state=state))
    else:
        output = asyncio.run(module.graph.run(start, state=state)).output
    print(json.dumps({"output": output, "state": repr(state)}))
    """
)


def _python_with(version: str) -> str:
    if version == "0.0.39":
        return sys.executable  # the test extra's own
    venvs = Path(os.environ.get("GRAPHC_TEST_VENVS") or Path.home() / ".cache" / "graphc-test-venvs")
    venv = venvs / f"pydantic-graph-{version}"
    python = venv / "bin" / "python"
    marker = venv / "installed"
    wanted = [f"pydantic-graph=={version}", *(["mypy"] if version.startswith("2.") else [])]  # 2.x: its goldens' types
    if not marker.exists() or marker.read_text() != " ".join(wanted):
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False)
        installed = made.returncode == 0 and (
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *wanted],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            ).returncode
            == 0
        )
        if not installed:
            why = f"pydantic-graph {version} could not be installed into {venv}"
            if os.environ.get("GRAPHC_REQUIRE_PYDANTIC_GRAPH"):
                pytest.fail(why)
            pytest.skip(why + "; set up PyPI access, or GRAPHC_TEST_VENVS to a folder with it installed")
        marker.write_text(" ".join(wanted))
    return str(python)


def _ours(
    spec: Path, start: str, fields: dict[str, Any], state_fields: dict[str, Any] | None, script: list[str]
) -> Any:
    if script:
        sys.path.insert(0, str(spec.parent))
        import flaky_model  # type: ignore[import-not-found]

        flaky_model.SCRIPT[:] = script
        sys.path.remove(str(spec.parent))
    module = compiler.load_module(spec)
    state_class = next((getattr(module, n) for n in module.__all__ if n.endswith("State")), None)
    state = state_class(**state_fields) if state_fields is not None else None
    output = asyncio.run(module.graph.run(getattr(module, start)(**fields), state=state)).output
    return {"output": output, "state": repr(state)}


@pytest.mark.parametrize(("version", "target"), RELEASES, ids=[v for v, _ in RELEASES])
def test_compiled_specs_run_alike_on_each_release(version: str, target: str, tmp_path: Path) -> None:
    python = _python_with(version)
    for index, (spec, helpers, start, fields, state_fields, script) in enumerate(SCENARIOS):
        name = f"compiled_{index}"
        (tmp_path / f"{name}.py").write_text(compile_spec(spec, target=target).source)  # type: ignore[arg-type]
        if helpers is not None:
            for helper in helpers.glob("*.py"):
                shutil.copy(helper, tmp_path / helper.name)
        arguments = [name, start, fields, state_fields, script or None, target == "pydantic_graph2"]
        theirs = subprocess.run(
            [python, "-W", "ignore", "-c", DRIVER, json.dumps(arguments)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            check=False,
        )
        assert theirs.returncode == 0, f"{spec.name} on pydantic-graph {version}: {theirs.stderr}"
        assert json.loads(theirs.stdout) == _ours(spec, start, fields, state_fields, script), spec.name


def test_the_pydantic_graph2_modules_pass_mypy_strict_against_2x(tmp_path: Path) -> None:
    """The 2.x target's golden modules type-check against pydantic-graph 2.x itself (in its own venv)."""
    python = _python_with(RELEASES[-1][0])
    golden = Path(__file__).parent / "golden" / "compile"
    files = []
    for module in sorted(golden.glob("*.pydantic_graph2.expected.py")):
        if module.name.startswith("support_desk"):  # its hand-written node is typed against `runtime`
            continue
        files.append(f"{module.name.split('.')[0]}_pg2.py")
        shutil.copy(module, tmp_path / files[-1])
    for helper in EXAMPLES.glob("*.py"):
        shutil.copy(helper, tmp_path / helper.name)
    done = subprocess.run(
        [python, "-m", "mypy", "--strict", "--no-incremental", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and len(files) >= 4, done.stdout + done.stderr


SUBGRAPH_SCENARIOS = [
    (EXAMPLES / "etl" / "etl.graph", "Plan", {}, {}),
    (EXAMPLES / "agent" / "agent.graph", "Ask", {}, None),
    (DATA / "subgraphs" / "failing.graph", "Spread", {"tolerant": True}, None),
]


@pytest.mark.parametrize(("version", "target"), RELEASES, ids=[v for v, _ in RELEASES])
def test_sub_graphs_run_alike_on_each_release(version: str, target: str, tmp_path: Path) -> None:
    """pydantic_graph has no fork: its modules run the sub-graphs inside the forking node, with the same outcome."""
    python = _python_with(version)
    for index, (spec, start, fields, state_fields) in enumerate(SUBGRAPH_SCENARIOS):
        folder = tmp_path / str(index)
        folder.mkdir()
        module = compile_spec(spec, target=target)  # type: ignore[arg-type]
        for used in module.uses:
            (folder / used.file).write_bytes(used.module.source.encode())
        (folder / "compiled.py").write_bytes(module.source.encode())
        for helper in [*spec.parent.glob("*.py")]:
            shutil.copy(helper, folder / helper.name)
        arguments = ["compiled", start, fields, state_fields, None, target == "pydantic_graph2"]
        theirs = subprocess.run(
            [python, "-W", "ignore", "-c", DRIVER, json.dumps(arguments)],
            cwd=folder,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(folder), "SUBGRAPH_LOG": str(folder / "items.log")},
            check=False,
        )
        assert theirs.returncode == 0, f"{spec.name} on pydantic-graph {version}: {theirs.stderr}"
        os.environ["SUBGRAPH_LOG"] = str(folder / "ours.log")
        try:
            assert json.loads(theirs.stdout) == _ours(spec, start, fields, state_fields, []), spec.name
        finally:
            del os.environ["SUBGRAPH_LOG"]
