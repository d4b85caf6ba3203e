"""Limits on untrusted specs, many concurrent runs, and several processes sharing the compile cache."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import compiler
from compiler import loader
from dsl.diagnostics import DiagnosticError
from dsl.limits import Limits
from dsl.parse import parse_source
from dsl.source import source_from_text

from .conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them


def diagnostic_codes(text: str, limits: Limits, name: str = "spec.graph") -> list[str]:
    try:
        parse_source(source_from_text(name, text, max_bytes=limits.max_bytes), limits=limits)
    except DiagnosticError as e:
        return [d.code for d in e.diagnostics]
    return []


def test_limits_are_diagnostics_and_configurable() -> None:
    nested = "graph G\n\nnode A:\n    -> End(" + "(" * 30 + "1" + ")" * 30 + ")\n"
    assert diagnostic_codes(nested, Limits(max_depth=20)) == ["E016"]
    assert diagnostic_codes(nested, Limits(max_depth=40)) == []
    many = "graph G\n" + "".join(f"\nnode N{i}:\n    -> End(None)\n" for i in range(30))
    assert diagnostic_codes(many, Limits(max_nodes=10)) == ["E017"]
    assert diagnostic_codes(many, Limits(max_nodes=30)) == []
    assert diagnostic_codes(many, Limits(max_bytes=100)) == ["E009"]
    yaml_nested = "graph: G\nnodes:\n  A:\n    next:\n      - to: End(" + "[" * 30 + "]" * 30 + ")\n"
    assert diagnostic_codes(yaml_nested, Limits(max_depth=20), "spec.yaml") == ["E016"]


def test_a_thousand_concurrent_runs_keep_their_states_apart() -> None:
    module = compiler.load_module(EXAMPLES / "never_42.graph")

    async def main() -> list[tuple[int, int]]:
        states = [module.MyState(number=n) for n in range(1000)]
        results = await asyncio.gather(*(module.graph.run(module.Increment(), state=s) for s in states))
        return [(r.output, len(r.history)) for r in results]

    results = asyncio.run(main())
    expected = [(43, 5) if n == 41 else (n + 1, 3) for n in range(1000)]
    assert results == expected


def test_two_processes_loading_one_spec_share_a_sound_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "shared.graph"
    spec.write_text((EXAMPLES / "support_desk.graph").read_text())
    for support in ("support_desk_tools.py", "support_desk_nodes.py"):
        (tmp_path / support).write_text((EXAMPLES / support).read_text())
    cache = tmp_path / "cache"
    script = (
        "import sys, compiler\n"
        "m = compiler.load_module(sys.argv[1])\n"
        "print(m.graph.run_sync(state=m.DeskState(), deps=m.DeskDeps()).output)\n"
    )
    env = {"GRAPHC_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {
        "#1 resolved for ada: solved by reset-your-password [5 log lines, priority normal]"
    }
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(cache))
    entries = list(cache.glob("*.py"))
    assert len(entries) == 1 and loader._read_cache(entries[0].stem) is not None
    assert not list(cache.glob("*.tmp"))  # no half-written files left behind


@pytest.mark.parametrize("depth", [1000, 20000])
def test_deep_nesting_is_refused_not_a_recursion_error(depth: int) -> None:
    text = "graph G\n\nnode A:\n    -> End(" + "-" * depth + "1)\n"
    assert diagnostic_codes(text, Limits()) == ["E016"]
