"""The hooks in `.pre-commit-hooks.yaml`, run the way pre-commit runs them: entry + the matching files."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HOOKS = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def _run_hook(hook_id: str, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    hook = HOOKS[hook_id]
    matching = [str(f) for f in files if re.search(hook["files"], f.name)]
    program, *arguments = shlex.split(hook["entry"])
    assert program == "graphc"
    command = [sys.executable, "-m", "graphc", *arguments, *matching]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)


def test_the_hooks_are_declared() -> None:
    assert set(HOOKS) == {"graphc-check", "graphc-fmt"}
    assert all(hook["language"] == "python" for hook in HOOKS.values())


def test_check_passes_on_the_examples_and_fails_on_a_broken_spec(tmp_path: Path) -> None:
    examples = sorted((ROOT / "examples").glob("*"))
    assert _run_hook("graphc-check", examples, ROOT).returncode == 0
    broken = tmp_path / "broken.graph"
    broken.write_text("graph B\nstart A\n\nnode A:\n    -> Nowhere()\n")
    done = _run_hook("graphc-check", [*examples, broken], ROOT)
    assert done.returncode == 1 and "broken.graph:5:8: error[E101]" in done.stderr


def test_fmt_rewrites_only_what_is_not_canonical(tmp_path: Path) -> None:
    for example in (ROOT / "examples").glob("*.graph"):
        shutil.copy(example, tmp_path / example.name)
    messy = tmp_path / "messy.graph"
    messy.write_text("graph  Messy\nstart A\nnode A :   # keep me\n        -> End( None )\n")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.graph")}
    done = _run_hook("graphc-fmt", sorted(tmp_path.glob("*.graph")), tmp_path)
    assert done.returncode == 0, done.stderr
    assert messy.read_text() == "graph Messy\nstart A\n\nnode A:  # keep me\n    -> End(None)\n"
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.graph")}
    assert {name for name in before if before[name] != after[name]} == {"messy.graph"}
