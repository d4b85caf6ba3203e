"""Structured suggestions: each did-you-mean also says what to put where, and applying it fixes that problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from compiler.checks import check_spec
from dsl.diagnostics import Diagnostic, DiagnosticError, Suggestion
from dsl.parse import parse_source
from dsl.source import source_from_text

GOLDEN = Path(__file__).parent / "golden" / "diagnostics"


def _diagnose(name: str, text: str) -> list[Diagnostic]:
    try:
        return check_spec(parse_source(source_from_text(name, text)), search_path=[str(GOLDEN)]).diagnostics
    except DiagnosticError as e:
        return e.diagnostics


def _apply(text: str, fix: Suggestion) -> str:
    lines = text.split("\n")
    line = lines[fix.span.line - 1]
    lines[fix.span.line - 1] = line[: fix.span.column - 1] + fix.replacement + line[fix.span.end_column - 1 :]
    return "\n".join(lines)


def test_applying_the_first_suggestion_fixes_that_problem() -> None:
    fixed = 0
    for spec in sorted(GOLDEN.iterdir()):
        if spec.suffix not in (".graph", ".yaml", ".toml"):
            continue
        try:
            text = spec.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # the golden case of a file that is not UTF-8
        for found in _diagnose(spec.name, text):
            if not found.suggestions:
                continue
            after = _diagnose(spec.name, _apply(text, found.suggestions[0]))
            assert not [
                d for d in after if (d.code, d.span.line, d.message) == (found.code, found.span.line, found.message)
            ]
            fixed += 1
    assert fixed >= 8  # unknown nodes, names, types, modules, imported names, start nodes, misspelt keywords


def test_check_json_carries_the_suggestions(tmp_path: Path) -> None:
    spec = tmp_path / "typo.graph"
    spec.write_text("graph G -> int\nstart A\n\nnode A:\n    -> Incremnt()\n\nnode Increment:\n    -> End(1)\n")
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "check", str(spec), "--format", "json", "--no-prove"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    (found,) = [d for d in json.loads(done.stdout) if d["code"] == "E101"]
    assert found["suggestions"] == [
        {
            "replacement": "Increment",
            "span": {"file": str(spec), "line": 5, "column": 8, "end_line": 5, "end_column": 16},
        }
    ]
