"""Golden diagnostics: one bad spec per file, its exact expected report beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.checks import check_spec
from dsl.diagnostics import Diagnostic, DiagnosticError, render_text
from dsl.parse import parse_source
from dsl.source import read_source

from .conftest import check_golden

CASES = Path(__file__).parent / "golden" / "diagnostics"
SPECS = sorted(p for p in CASES.iterdir() if p.suffix in (".graph", ".yaml", ".toml"))


def diagnose(path: Path) -> str:
    """What `graphc check` reports for a file, rendered as text."""
    cwd = os.getcwd()
    os.chdir(path.parent)  # report the file by its plain name
    try:
        found: list[Diagnostic] = []
        sources: dict[str, str] = {}
        try:
            source = read_source(path.name)
            sources[source.name] = source.text
            found = check_spec(parse_source(source)).diagnostics
        except DiagnosticError as e:
            found = e.diagnostics
        return render_text(found, sources) + "\n"
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("spec", SPECS, ids=[p.name for p in SPECS])
def test_diagnostics_match_golden(spec: Path, update_golden: bool) -> None:
    report = diagnose(spec)
    assert report.strip(), f"{spec.name} produced no diagnostics"
    check_golden(spec.with_name(spec.stem + ".expected.txt"), report, update_golden)


def test_the_corpus_is_large_enough() -> None:
    syntax = [p for p in SPECS if not p.name.startswith("check_")]
    semantic = [p for p in SPECS if p.name.startswith("check_")]
    assert len(syntax) >= 40 and len(semantic) >= 40
    assert {p.suffix for p in syntax} == {".graph", ".yaml", ".toml"}


@pytest.mark.parametrize("spec", [p for p in SPECS if not p.stem.startswith("check_warning")], ids=lambda p: p.name)
def test_every_bad_spec_has_an_error(spec: Path) -> None:
    assert "error[" in diagnose(spec)
