"""The documentation site: its examples run, its generated pages cover everything, and it builds strictly."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.checks import check_spec
from dsl.diagnostics import CODE_MEANINGS
from dsl.parse import parse_source
from dsl.source import source_from_text

from .conftest import ROOT, graphc

DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def _blocks(language: str) -> list[tuple[str, str]]:
    return [
        (page.name, m.group(2)) for page in PAGES for m in BLOCK.finditer(page.read_text()) if m.group(1) == language
    ]


@pytest.mark.parametrize(("page", "text"), _blocks("graph"), ids=lambda v: v if v.endswith(".md") else "")
def test_every_graph_example_in_the_docs_checks(page: str, text: str) -> None:
    check_spec(parse_source(source_from_text(f"{page}.graph", text)))


def test_the_overview_example_runs_as_shown(tmp_path: Path) -> None:
    page = (DOCS / "index.md").read_text()
    spec = tmp_path / "fives.graph"
    spec.write_text(BLOCK.search(page).group(2))  # type: ignore[union-attr]
    shown = re.search(r"\$ graphc (run .*)\n(.*)\n", page)
    assert shown is not None
    args = shown.group(1).split()
    done = graphc(args[0], str(spec), *args[2:])
    assert (done.returncode, done.stdout.strip()) == (0, shown.group(2))


def test_every_diagnostic_code_is_explained() -> None:
    emitted = set()
    for path in [*ROOT.glob("dsl/*.py"), *ROOT.glob("compiler/*.py")]:
        emitted |= set(re.findall(r'"([EW]\d{3})"', path.read_text()))
    assert emitted - set(CODE_MEANINGS) == set()


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    if shutil.which("mkdocs") is None and not _importable("mkdocs"):
        pytest.skip("MkDocs is not installed: pip install '.[test]'")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "--trust-specs" in cli and "graphc runs resume" in cli  # generated from the parsers
    language = (tmp_path / "site" / "language" / "index.html").read_text()
    assert "E140" in language and "waits:" in language


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
