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


def _module_imports(package: str) -> dict[str, set[str]]:
    """Each module of `package` and the modules of the same package it imports at module level."""
    modules = {}
    for path in (ROOT / package).rglob("*.py"):
        modules[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            ancestor = name.startswith(base + ".")  # a package's parent is imported first anyway: no edge
            targets = {f"{base}.{a.name}" for a in node.names} | (set() if ancestor else {base})
            edges[name] |= (targets & modules.keys()) - {name}
    return edges


def test_the_libraries_have_no_import_cycles() -> None:
    """Module-level imports inside each package form no cycle (lazy imports inside functions are for start-up)."""
    for package in ("dsl", "compiler", "runtime", "graphc"):
        edges = _module_imports(package)
        done: set[str] = set()
        for start in edges:
            stack = [(start, (start,))]
            while stack:
                name, path = stack.pop()
                for target in edges[name]:
                    assert target not in path, f"import cycle: {' -> '.join((*path[path.index(target) :], target))}"
                    if target not in done:
                        stack.append((target, (*path, target)))
            done.add(start)


def test_checking_a_spec_loads_neither_the_runtime_nor_pydantic() -> None:
    """`graphc check` is what every editor save and pre-commit hook pays: it stays clear of the runtime's imports."""
    code = (
        "import sys; from graphc.cli import main; "
        "main(['check', '--no-prove', 'examples/support_desk.graph']); "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('runtime', 'pydantic', 'asyncio')]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)
