"""`editors/vscode/`: the extension's manifest, and its TextMate grammar tested headlessly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

FOLDER = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def test_the_manifest_names_what_is_there() -> None:
    manifest = json.loads((FOLDER / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "graphc" and ".graph" in language["extensions"]
    assert (FOLDER / language["configuration"]).is_file() and (FOLDER / grammar["path"]).is_file()
    assert json.loads((FOLDER / grammar["path"]).read_text())["scopeName"] == grammar["scopeName"]
    assert json.loads((FOLDER / language["configuration"]).read_text())["comments"]["lineComment"] == "#"
    client = (FOLDER / manifest["main"]).read_text()  # the language client starts `graphc lsp`
    assert 'args: ["lsp"]' in client and "vscode-languageclient" in manifest["dependencies"]


def test_the_grammar_colours_the_annotated_samples() -> None:
    npx = shutil.which("npx")
    if npx is None:
        if os.environ.get("GRAPHC_REQUIRE_NODE"):
            pytest.fail("npx is required here (GRAPHC_REQUIRE_NODE is set) but not installed")
        pytest.skip("the grammar test needs Node.js's npx (it runs vscode-tmgrammar-test)")
    done = subprocess.run(
        [
            npx,
            "--yes",
            "vscode-tmgrammar-test@0.1.3",
            "-g",
            str(FOLDER / "syntaxes" / "graphc.tmLanguage.json"),
            str(FOLDER / "tests" / "*.graph"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run successfuly" in done.stdout
