"""The application layer: `graphc/` alone parses arguments and prints; each command loads only what it needs."""

from __future__ import annotations

import ast
import subprocess
import sys

from graphc.commands import COMMANDS

from .conftest import ROOT


def test_no_library_module_prints() -> None:
    """`dsl`, `compiler` and `runtime` return values and raise; only `graphc/` talks to the terminal."""
    found = []
    for package in ("dsl", "compiler", "runtime"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("stdout", "stderr")
                    and ast.unparse(node.value) == "sys"
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_python_m_graphc_and_every_command_help() -> None:
    listed = subprocess.run([sys.executable, "-m", "graphc", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert listed.returncode == 0 and all(name in listed.stdout for name in COMMANDS)
    for name in COMMANDS:
        done = subprocess.run(
            [sys.executable, "-m", "graphc", name, "--help"], capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode == 0 and done.stdout.startswith(f"usage: graphc {name}"), done.stderr


def test_a_command_loads_only_its_own_module() -> None:
    code = (
        "import sys; from graphc.cli import _build_parser; _build_parser('check').parse_args(['check', 'x.graph']); "
        "loaded = sorted(m for m in sys.modules if m.startswith('graphc.commands.') and '._' not in m); "
        "assert loaded == ['graphc.commands.check'], loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
