"""The prover's verdicts are kept by the spec's text: an unchanged spec is answered without importing z3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("z3", reason="the prover needs z3: pip install 'graphc[prove]'")

from .conftest import ROOT

SHADOWED = (
    "graph G -> int\nstart A\n\nnode A(x: int = 5):\n    if x > 10 -> End(1)\n    if x > 20 -> End(2)\n    -> End(0)\n"
)
CHECK = (
    "import json, sys; from graphc.cli import main; code = main(['check', sys.argv[1], '--format', 'json']); "
    "print('z3 imported' if 'z3' in sys.modules else 'z3 not imported', file=sys.stderr)"
)


def _check(spec: Path, cache: Path) -> tuple[list[dict[str, object]], str]:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "GRAPHC_CACHE_DIR": str(cache)},
        check=False,
    )
    return json.loads(done.stdout), done.stderr.strip()


def test_an_unchanged_spec_is_answered_from_the_cache(tmp_path: Path) -> None:
    spec, cache = tmp_path / "shadowed.graph", tmp_path / "cache"
    spec.write_text(SHADOWED)
    first, imported = _check(spec, cache)
    assert imported == "z3 imported" and [d["code"] for d in first] == ["W410"]
    again, imported = _check(spec, cache)
    assert imported == "z3 not imported" and again == first
    spec.write_text(SHADOWED.replace("x > 20", "x > 30"))  # changed: proved again, a different verdict
    changed, imported = _check(spec, cache)
    assert imported == "z3 imported" and "x > 30" in str(changed[0]["message"])
    for entry in (cache / "proofs").iterdir():
        entry.write_text("{damaged")
    repaired, imported = _check(spec, cache)
    assert imported == "z3 imported" and repaired == changed
