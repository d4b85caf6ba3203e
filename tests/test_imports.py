"""`check` finds imported modules and names without importing them (compiler/imports.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from compiler.checks import check_spec
from compiler.imports import find_module, search_path_for
from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_file


def _codes(spec: Path) -> list[str]:
    try:
        return [d.code for d in check_spec(parse_file(spec)[1]).diagnostics]
    except DiagnosticError as e:
        return [d.code for d in e.diagnostics]


def _spec(tmp_path: Path, imports: str, use: str = "None") -> Path:
    path = tmp_path / "flow.graph"
    path.write_text(f"graph Flow\nstart A\n\n{imports}\n\nnode A:\n    -> End({use})\n")
    return path


def test_a_module_is_read_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "side_effects.py").write_text(f"open({str(marker)!r}, 'w').close()\n\ndef act():\n    return None\n")
    assert _codes(_spec(tmp_path, "from side_effects import act", "act()")) == []
    assert _codes(_spec(tmp_path, "from side_effects import acts", "acts()")) == ["E123"]
    assert not marker.exists()
    assert "side_effects" not in sys.modules


def test_names_bound_anywhere_at_module_level_are_found(tmp_path: Path) -> None:
    (tmp_path / "rich_module.py").write_text(
        "import json as j, os.path\nfrom typing import Any as A\n"
        "try:\n    import tomllib as toml\nexcept ImportError:\n    toml = None\n"
        "if True:\n    X, (Y, *Z) = 1, (2, 3)\nfor I in range(2):\n    pass\n"
        "with open(__file__) as F:\n    pass\nclass C: ...\nasync def f(): ...\n"
        "def g():\n    global LATE\n    LATE = 1\n"
    )
    info = find_module("rich_module", (str(tmp_path),))
    assert info is not None and info.names is not None
    assert {"j", "os", "A", "toml", "X", "Y", "Z", "I", "F", "C", "f", "g", "LATE"} <= info.names


@pytest.mark.parametrize(
    "source",
    ["from os.path import *\n", "def __getattr__(name):\n    return name\n", "globals()['made'] = 1\n"],
)
def test_a_module_whose_names_cannot_be_known_accepts_any(tmp_path: Path, source: str) -> None:
    (tmp_path / "dynamic.py").write_text(source)
    assert _codes(_spec(tmp_path, "from dynamic import anything", "anything")) == []


def test_packages_submodules_and_namespace_packages(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('never run')\nTOP = 1\n")
    (package / "tools.py").write_text("def tool():\n    return 1\n")
    (package / "sub" / "deep.py").write_text("VALUE = 2\n")  # `sub` is a namespace package
    assert _codes(_spec(tmp_path, "from pkg import TOP, tools", "(TOP, tools)")) == []
    assert _codes(_spec(tmp_path, "from pkg.tools import tool", "tool()")) == []
    assert _codes(_spec(tmp_path, "from pkg.sub.deep import VALUE", "VALUE")) == []
    assert _codes(_spec(tmp_path, "from pkg.sub import deep", "deep")) == []
    assert _codes(_spec(tmp_path, "from pkg.tool import tool", "tool()")) == ["E122"]
    assert _codes(_spec(tmp_path, "from pkg.tools.x import tool", "tool()")) == ["E122"]


def test_the_spec_folder_comes_before_sys_path(tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("def mine():\n    return 1\n")  # shadows the standard library, as Python would
    assert _codes(_spec(tmp_path, "from json import mine", "mine()")) == []
    assert search_path_for(str(tmp_path / "flow.graph"))[0] == str(tmp_path)


@pytest.mark.parametrize(
    ("imports", "codes"),
    [
        ("from math import floor", []),  # built into the interpreter: typeshed stub or introspection
        ("from math import flooor", ["E123"]),
        ("from os.path import join", []),  # `os.path` exists only once `os` runs: introspected
        ("from collections.abc import Mapping", []),
        ("from typing import Any", []),
        ("from json import loads", []),
        ("from json import load_s", ["E123"]),
    ],
)
def test_the_standard_library(tmp_path: Path, imports: str, codes: list[str]) -> None:
    used = imports.rsplit(" ", 1)[1]
    assert _codes(_spec(tmp_path, imports, used)) == codes


def test_a_compiled_module_is_read_from_the_stub_beside_it(tmp_path: Path) -> None:
    # an extension module that cannot even be loaded: only its stub can be read
    (tmp_path / "fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"not really a shared object")
    (tmp_path / "fast.abi3.so").write_bytes(b"")
    (tmp_path / "fast.pyi").write_text("def speedy(x: int) -> int: ...\n")
    assert _codes(_spec(tmp_path, "from fast import speedy", "speedy(1)")) == []
    assert _codes(_spec(tmp_path, "from fast import slowly", "slowly(1)")) == ["E123"]


def test_the_allow_list_is_checked_first(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "from nosuchmodule import x", "x")
    with pytest.raises(DiagnosticError) as caught:
        check_spec(parse_file(spec)[1], allowed_imports=["math"])
    assert [d.code for d in caught.value.diagnostics if d.severity == "error"] == ["E120"]


def test_every_example_is_clean() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    for spec in sorted(examples.glob("*.*")):
        if spec.suffix in (".graph", ".yaml", ".toml"):
            assert _codes(spec) == [], spec.name
