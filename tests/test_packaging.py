"""The installed package carries its data files: grammar, templates, py.typed markers."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .conftest import ROOT

DATA_FILES = {
    "grammars/graph.lark",
    "compiler/templates/module.py.jinja",
    "runtime/py.typed",
    "dsl/py.typed",
    "compiler/py.typed",
}


def test_data_files_are_declared_and_installed() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in DATA_FILES:
        package, name = path.split("/", 1)
        assert any(Path(name).match(pattern) for pattern in package_data[package]), path
        assert (ROOT / path).is_file()
    dist = importlib.metadata.distribution("graphc")
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    if not direct_url.get("dir_info", {}).get("editable", False):  # a real install, as CI makes: check the files
        installed = {str(f) for f in dist.files or []}
        assert installed >= DATA_FILES, DATA_FILES - installed


def test_console_script_is_declared() -> None:
    dist = importlib.metadata.distribution("graphc")
    assert [ep.value for ep in dist.entry_points if ep.group == "console_scripts"] == ["graphc.cli:main"]
    assert [ep.value for ep in dist.entry_points if ep.group == "pygments.lexers"] == ["dsl.pygments_lexer:GraphLexer"]
