"""The documents a language server has open, and what each version of them gave (no pygls here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from compiler.checks import CheckedGraph, check_spec
from dsl import ir
from dsl.diagnostics import Diagnostic, DiagnosticError
from dsl.parse import parse_source, paused_gc
from dsl.source import source_from_text, syntax_of

__all__ = ("Analysis", "Workspace", "path_of")


@dataclass
class Analysis:
    """What one version of a document gave: its spec (if it parsed), its checked graph (if it checked)."""

    spec: ir.GraphSpec | None
    checked: CheckedGraph | None
    diagnostics: list[Diagnostic]


def path_of(uri: str) -> str:
    """The file a `file:` URI names (any other URI as it is)."""
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


@dataclass
class Workspace:
    """One server's documents: their latest analyses, the last that checked, and their parse pieces."""

    analyses: dict[str, Analysis] = field(default_factory=dict)
    last_good: dict[str, Analysis] = field(default_factory=dict)
    """The last version that checked, by document: completion works while one types."""
    pieces: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per document: the parse trees of its top-level declarations, so a change re-parses only what it touched."""

    def analyse(self, uri: str, text: str) -> Analysis:
        """Parse and check a document's text (re-using the pieces of its last version)."""
        path = path_of(uri)
        spec = checked = None
        try:
            with paused_gc():  # many objects, no cycles: the collector would only rescan them
                source = source_from_text(path, text, syntax_of(path) or "graph")
                spec = parse_source(source, cache=self.pieces.setdefault(uri, {}))
                checked = check_spec(spec)
            found = checked.diagnostics
        except DiagnosticError as e:
            found = e.diagnostics
        analysis = Analysis(spec, checked, found)
        self.analyses[uri] = analysis
        if checked is not None:
            self.last_good[uri] = analysis
        return analysis

    def forget(self, uri: str) -> None:
        """A closed document: nothing of it is kept."""
        for kept in (self.analyses, self.last_good, self.pieces):
            kept.pop(uri, None)
